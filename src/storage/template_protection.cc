// Template protection layer: keyed orthogonal transform + AES-256-GCM under
// a per-user data key wrapped by the master key (R-SEC-STO-3/4/5,
// R-SRV-SM-2, decision 11.5). See template_protection.h for the limits.
#include "storage/template_protection.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <map>

#include <openssl/evp.h>

#include "crypto/kdf.h"

namespace livegate::storage {
namespace {

static_assert(std::endian::native == std::endian::little,
              "template serialisation assumes a little-endian host");

constexpr const char* kTemplateAad = "livegate/template/v1";
constexpr const char* kTransformKeyAad = "livegate/transform-key/v1";
constexpr std::size_t N = kTemplateDims;

crypto::Bytes Aad(const char* label, const std::string& account, const std::string& extra,
                  int version) {
  // Length-prefixed fields: no two (account, device type) pairs collide.
  crypto::Bytes out(label, label + std::strlen(label));
  auto put = [&](const std::string& s) {
    const std::uint32_t n = static_cast<std::uint32_t>(s.size());
    for (int i = 3; i >= 0; --i) out.push_back(static_cast<std::uint8_t>(n >> (8 * i)));
    out.insert(out.end(), s.begin(), s.end());
  };
  put(account);
  put(extra);
  put(std::to_string(version));
  return out;
}

Status AuthFailed(const std::string& what) {
  return Status(StatusCode::kDataLoss, "storage.template_auth_failed", what);
}

}  // namespace

crypto::Bytes TemplateBytes(const Template& t) {
  crypto::Bytes b(sizeof(float) * N);
  std::memcpy(b.data(), t.data(), b.size());
  return b;
}

Result<TemplateTransform> TemplateTransform::FromKey(crypto::ByteView key) {
  if (key.size() != kTransformKeySize)
    return Status::InvalidArgument("storage.bad_transform_key", "transform key must be 32 bytes");
  TemplateTransform t;
  t.r_.assign(N * N, 0.0);
  // Gaussian entries from a deterministic stream of the key (AES-256-CTR
  // keystream under HKDF(key); 64-bit uniforms -> normals by Box-Muller),
  // then modified Gram-Schmidt: a uniformly random rotation determined by
  // the key alone.
  const crypto::Bytes salt = crypto::ToBytes("livegate/template-transform/v1");
  crypto::Bytes stream_key = crypto::HkdfSha256(key, salt, crypto::AsBytes("stream key"), 32);
  crypto::Bytes stream(N * N * 8, 0);
  {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    const unsigned char iv[16] = {0};
    int len = 0;
    const bool ok = ctx != nullptr &&
                    EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), nullptr, stream_key.data(), iv) == 1 &&
                    EVP_EncryptUpdate(ctx, stream.data(), &len, stream.data(),
                                      static_cast<int>(stream.size())) == 1;
    EVP_CIPHER_CTX_free(ctx);
    crypto::Cleanse(stream_key);
    if (!ok) return Status::Internal("storage.error", "AES-CTR keystream failed");
  }
  for (std::size_t i = 0; i < N; ++i) {
    for (std::size_t j = 0; j < N; j += 2) {
      std::uint64_t a, b;
      std::memcpy(&a, stream.data() + 8 * (i * N + j), 8);
      std::memcpy(&b, stream.data() + 8 * (i * N + j + 1), 8);
      const double u1 = (static_cast<double>(a >> 11) + 0.5) / 9007199254740992.0;  // (0,1)
      const double u2 = static_cast<double>(b >> 11) / 9007199254740992.0;
      const double rad = std::sqrt(-2.0 * std::log(u1));
      t.r_[i * N + j] = rad * std::cos(2 * M_PI * u2);
      t.r_[i * N + j + 1] = rad * std::sin(2 * M_PI * u2);
    }
  }
  crypto::Cleanse(stream);
  for (std::size_t i = 0; i < N; ++i) {
    double* ri = &t.r_[i * N];
    for (std::size_t k = 0; k < i; ++k) {
      const double* rk = &t.r_[k * N];
      double dot = 0;
      for (std::size_t j = 0; j < N; ++j) dot += ri[j] * rk[j];
      for (std::size_t j = 0; j < N; ++j) ri[j] -= dot * rk[j];
    }
    double norm = 0;
    for (std::size_t j = 0; j < N; ++j) norm += ri[j] * ri[j];
    norm = std::sqrt(norm);
    for (std::size_t j = 0; j < N; ++j) ri[j] /= norm;
  }
  return t;
}

Template TemplateTransform::Apply(const Template& x) const {
  Template y{};
  for (std::size_t i = 0; i < N; ++i) {
    double s = 0;
    for (std::size_t j = 0; j < N; ++j) s += r_[i * N + j] * x[j];
    y[i] = static_cast<float>(s);
  }
  return y;
}

Template TemplateTransform::Invert(const Template& y) const {
  Template x{};
  for (std::size_t j = 0; j < N; ++j) {
    double s = 0;
    for (std::size_t i = 0; i < N; ++i) s += r_[i * N + j] * y[i];
    x[j] = static_cast<float>(s);
  }
  return x;
}

TemplateProtector::Keys::~Keys() {
  crypto::Cleanse(data_key);
  crypto::Cleanse(transform_key);
}

std::string TemplateProtector::DataKeyPurpose(const std::string& account_id) {
  return "livegate/user-data-key/" + account_id;
}

Result<TemplateProtector::Keys> TemplateProtector::LoadKeys(StoreOps& ops,
                                                            const std::string& account_id) {
  LG_ASSIGN_OR_RETURN(UserKey row, ops.GetUserKey(account_id));
  Keys k;
  k.version = row.transform_version;
  LG_ASSIGN_OR_RETURN(k.data_key, keys_->UnwrapKey(row.wrapped_data_key, DataKeyPurpose(account_id)));
  auto tk = crypto::AeadOpen(k.data_key, row.sealed_transform_key,
                             Aad(kTransformKeyAad, account_id, "", k.version));
  if (!tk.ok()) return AuthFailed("transform key of " + account_id + " does not open");
  k.transform_key = std::move(tk).value();
  return k;
}

Result<TemplateProtector::Keys> TemplateProtector::LoadOrCreateKeys(StoreOps& ops,
                                                                    const std::string& account_id) {
  auto existing = LoadKeys(ops, account_id);
  if (existing.ok() || existing.status().reason() != "storage.user_key_not_found") return existing;
  Keys k;
  k.version = 1;
  k.data_key = crypto::KeyManager::NewDataKey();
  k.transform_key = crypto::RandomBytes(kTransformKeySize);
  UserKey row;
  row.account_id = account_id;
  row.transform_version = k.version;
  LG_ASSIGN_OR_RETURN(row.wrapped_data_key, keys_->WrapKey(k.data_key, DataKeyPurpose(account_id)));
  LG_ASSIGN_OR_RETURN(row.sealed_transform_key,
                      crypto::AeadSeal(k.data_key, k.transform_key,
                                       Aad(kTransformKeyAad, account_id, "", k.version)));
  LG_RETURN_IF_ERROR(ops.PutUserKey(row));
  return k;
}

Result<crypto::Bytes> TemplateProtector::SealTemplate(const Keys& keys, const std::string& account_id,
                                                      const std::string& device_type,
                                                      const Template& transformed) {
  crypto::Bytes plain = TemplateBytes(transformed);
  auto sealed = crypto::AeadSeal(keys.data_key, plain,
                                 Aad(kTemplateAad, account_id, device_type, keys.version));
  crypto::Cleanse(plain);
  return sealed;
}

Result<Template> TemplateProtector::OpenTemplate(const Keys& keys, const Reference& ref) {
  if (ref.transform_version != keys.version)
    return AuthFailed("reference transform version " + std::to_string(ref.transform_version) +
                      " does not match the user key version " + std::to_string(keys.version));
  auto plain = crypto::AeadOpen(keys.data_key, ref.protected_template,
                                Aad(kTemplateAad, ref.account_id, ref.device_type, keys.version));
  if (!plain.ok())
    return AuthFailed("reference of " + ref.account_id + "/" + ref.device_type + " does not open");
  if (plain->size() != sizeof(float) * N) {
    crypto::Cleanse(*plain);
    return Status(StatusCode::kDataLoss, "storage.template_malformed", "reference has a wrong size");
  }
  Template t;
  std::memcpy(t.data(), plain->data(), plain->size());
  crypto::Cleanse(*plain);
  return t;
}

Result<std::shared_ptr<const TemplateTransform>> TemplateProtector::TransformFor(const Keys& keys) {
  if (options_.transform_cache_entries == 0) {
    LG_ASSIGN_OR_RETURN(TemplateTransform tf, TemplateTransform::FromKey(keys.transform_key));
    return std::make_shared<const TemplateTransform>(std::move(tf));
  }
  // Keyed by a hash (not the key itself) under a domain label.
  crypto::Bytes id = crypto::HmacSha256(keys.transform_key, crypto::AsBytes("livegate/transform-cache"));
  {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(id);
    if (it != cache_.end()) return it->second;
  }
  LG_ASSIGN_OR_RETURN(TemplateTransform tf, TemplateTransform::FromKey(keys.transform_key));
  auto shared = std::make_shared<const TemplateTransform>(std::move(tf));
  std::lock_guard<std::mutex> lock(cache_mu_);
  if (cache_.emplace(id, shared).second) {
    cache_order_.push_back(id);
    while (cache_order_.size() > options_.transform_cache_entries) {
      cache_.erase(cache_order_.front());
      cache_order_.pop_front();
    }
  }
  return shared;
}

Status TemplateProtector::Enroll(StoreOps& ops, const std::string& account_id,
                                 const std::string& device_type, const Template& features,
                                 const std::string& source) {
  for (float f : features)
    if (!std::isfinite(f)) return Status::BadInput("storage.template_not_finite", "NaN or inf in features");
  // Account first, so an unknown account gives storage.account_not_found.
  LG_RETURN_IF_ERROR(ops.GetAccount(account_id).status());
  LG_ASSIGN_OR_RETURN(Keys keys, LoadOrCreateKeys(ops, account_id));
  LG_ASSIGN_OR_RETURN(auto tf, TransformFor(keys));
  Reference ref;
  ref.account_id = account_id;
  ref.device_type = device_type;
  ref.transform_version = keys.version;
  ref.source = source;
  LG_ASSIGN_OR_RETURN(ref.protected_template,
                      SealTemplate(keys, account_id, device_type, tf->Apply(features)));
  return ops.PutReference(ref);
}

Result<ProtectedComparison> TemplateProtector::PrepareComparison(StoreOps& ops,
                                                                 const std::string& account_id,
                                                                 const std::string& device_type,
                                                                 const Template& probe) {
  LG_ASSIGN_OR_RETURN(Reference ref, ops.GetReference(account_id, device_type));
  LG_ASSIGN_OR_RETURN(Keys keys, LoadKeys(ops, account_id));
  LG_ASSIGN_OR_RETURN(auto tf, TransformFor(keys));
  ProtectedComparison out;
  LG_ASSIGN_OR_RETURN(out.reference, OpenTemplate(keys, ref));
  out.probe = tf->Apply(probe);
  out.source = ref.source;
  return out;
}

Status TemplateProtector::Renew(StoreOps& ops, const std::string& account_id) {
  LG_ASSIGN_OR_RETURN(Keys old_keys, LoadKeys(ops, account_id));
  LG_ASSIGN_OR_RETURN(TemplateTransform old_tf, TemplateTransform::FromKey(old_keys.transform_key));
  LG_ASSIGN_OR_RETURN(std::vector<Reference> refs, ops.ListReferences(account_id));
  Keys next;
  next.version = old_keys.version + 1;
  next.data_key = crypto::KeyManager::NewDataKey();
  next.transform_key = crypto::RandomBytes(kTransformKeySize);
  LG_ASSIGN_OR_RETURN(TemplateTransform new_tf, TemplateTransform::FromKey(next.transform_key));
  for (Reference& ref : refs) {
    LG_ASSIGN_OR_RETURN(Template transformed, OpenTemplate(old_keys, ref));
    Template original = old_tf.Invert(transformed);
    auto sealed = SealTemplate(next, account_id, ref.device_type, new_tf.Apply(original));
    original.fill(0);
    if (!sealed.ok()) return sealed.status();
    ref.protected_template = std::move(sealed).value();
    ref.transform_version = next.version;
    LG_RETURN_IF_ERROR(ops.PutReference(ref));
  }
  UserKey row;
  row.account_id = account_id;
  row.transform_version = next.version;
  LG_ASSIGN_OR_RETURN(row.wrapped_data_key, keys_->WrapKey(next.data_key, DataKeyPurpose(account_id)));
  LG_ASSIGN_OR_RETURN(row.sealed_transform_key,
                      crypto::AeadSeal(next.data_key, next.transform_key,
                                       Aad(kTransformKeyAad, account_id, "", next.version)));
  return ops.ReplaceUserKey(row);
}

TransformAccuracyCost MeasureTransformAccuracyCost(const std::vector<LabelledTemplate>& samples,
                                                   float threshold) {
  TransformAccuracyCost cost;
  cost.threshold = threshold;
  // One fresh random transform per subject, as enrolment would draw.
  std::map<std::string, TemplateTransform> transforms;
  for (const auto& s : samples) {
    if (!transforms.count(s.subject))
      transforms.emplace(s.subject, TemplateTransform::FromKey(crypto::RandomBytes(kTransformKeySize)).value());
  }
  auto dist = [](const Template& a, const Template& b) {
    double s = 0;
    for (std::size_t i = 0; i < N; ++i) s += (double(a[i]) - b[i]) * (double(a[i]) - b[i]);
    return std::sqrt(s);
  };
  std::vector<Template> transformed_by_owner;
  int fn_before = 0, fn_after = 0, fm_before = 0, fm_after = 0;
  for (std::size_t j = 0; j < samples.size(); ++j) {       // reference
    const TemplateTransform& tf = transforms.at(samples[j].subject);
    const Template ref_t = tf.Apply(samples[j].features);
    for (std::size_t i = 0; i < samples.size(); ++i) {     // probe
      if (i == j) continue;
      const bool genuine = samples[i].subject == samples[j].subject;
      if (genuine && i < j) continue;  // each genuine pair once
      const double d0 = dist(samples[i].features, samples[j].features);
      const double d1 = dist(tf.Apply(samples[i].features), ref_t);
      cost.max_abs_distance_change = std::max(cost.max_abs_distance_change, std::abs(d1 - d0));
      const bool match0 = d0 <= threshold, match1 = d1 <= threshold;
      if (match0 != match1) ++cost.decisions_changed;
      if (genuine) {
        ++cost.genuine_pairs;
        fn_before += !match0;
        fn_after += !match1;
      } else {
        ++cost.impostor_pairs;
        fm_before += match0;
        fm_after += match1;
      }
    }
  }
  if (cost.genuine_pairs) {
    cost.fnmr_before = double(fn_before) / cost.genuine_pairs;
    cost.fnmr_after = double(fn_after) / cost.genuine_pairs;
  }
  if (cost.impostor_pairs) {
    cost.fmr_before = double(fm_before) / cost.impostor_pairs;
    cost.fmr_after = double(fm_after) / cost.impostor_pairs;
  }
  return cost;
}

}  // namespace livegate::storage
