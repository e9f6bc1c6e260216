// Template protection (X.1279 9.3: R-SEC-STO-3/4/5, R-SRV-SM-2; decision
// 11.5; ISO/IEC 24745 renewability and unlinkability).
//
// What is stored for a reference: features only (a 128-float descriptor,
// never an image), first passed through a keyed, renewable per-user
// transform, then sealed with AES-256-GCM under a per-user data key; the data
// key is wrapped by the master key (crypto::KeyManager) and the transform key
// is sealed under the data key. The encrypting layer (TemplateProtector)
// sits between callers and any ReferenceStore backend, in the manner of
// Botan's Encrypted_PSK_Database: the backend only ever sees ciphertext.
//
// The transform is a per-user random orthogonal rotation derived from a
// 32-byte transform key. It preserves Euclidean distances exactly (up to
// float rounding), so comparison in the transformed domain gives the same
// decisions; the accuracy cost is measured by MeasureTransformAccuracyCost.
// HONEST LIMIT: a rotation is invertible by whoever holds the transform key.
// Its value is renewability (a new key issues a new, unlinkable template
// without re-capture) and unlinkability across deployments/users - not
// irreversibility on its own. The transform key is therefore kept encrypted
// under the data key, and the real protection of a stolen database is the
// encryption (no template bytes without the master key).
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "crypto/key_manager.h"
#include "livegate/status.h"
#include "storage/reference_store.h"

namespace livegate::storage {

constexpr std::size_t kTemplateDims = 128;
using Template = std::array<float, kTemplateDims>;
constexpr std::size_t kTransformKeySize = 32;

// y = R x with R a 128x128 orthogonal matrix drawn (Gaussian, Gram-Schmidt)
// from a deterministic HKDF stream of the key.
class TemplateTransform {
 public:
  // InvalidArgument(storage.bad_transform_key) unless the key is 32 bytes.
  static Result<TemplateTransform> FromKey(crypto::ByteView key);
  Template Apply(const Template& x) const;
  Template Invert(const Template& y) const;  // R^T y

 private:
  std::vector<double> r_;  // row-major kTemplateDims x kTemplateDims
};

// Both sides of a comparison in the user's transformed domain. The
// Euclidean distance between them equals the original distance.
struct ProtectedComparison {
  Template reference;  // transformed reference (decrypted)
  Template probe;      // the probe under the same user transform
  std::string source;  // where the reference came from
};

// Stable reasons: storage.template_auth_failed (DataLoss: a sealed template
// or transform key does not open - tampered, swapped between rows, or a
// wrong master key), storage.template_malformed (DataLoss), plus the store's
// and crypto's (keys.*) reasons.
struct TemplateProtectorOptions {
  // Derived rotations kept in memory (64 KiB each), keyed by a hash of the
  // transform key, so a returning user costs an unseal, not a 1-2 ms
  // derivation. 0 disables. Default 256 (16 MiB). A shredded user's entry
  // can no longer be reached: the key row is gone, so its hash is unknown.
  std::size_t transform_cache_entries = 256;
};

// Thread-safe.
class TemplateProtector {
 public:
  explicit TemplateProtector(const crypto::KeyManager* keys,
                             TemplateProtectorOptions options = {})
      : keys_(keys), options_(options) {}

  // Stores (or replaces) the reference of (account, device type) (R-FLOW-REG-10,
  // R-SRV-QJ-5). Creates the user's data key and transform key on first
  // enrolment. Run it inside the registration transaction.
  Status Enroll(StoreOps& ops, const std::string& account_id, const std::string& device_type,
                const Template& features, const std::string& source);

  // Opens the reference and transforms the probe (R-FLOW-AUT-9, DER-9).
  Result<ProtectedComparison> PrepareComparison(StoreOps& ops, const std::string& account_id,
                                                const std::string& device_type,
                                                const Template& probe);

  // Renewal (ISO/IEC 24745): draws a new data key and a new transform key,
  // re-issues every reference of the user under them (old key material is
  // overwritten in the database), bumps transform_version.
  Status Renew(StoreOps& ops, const std::string& account_id);

  // Purpose strings bound into the wrapped data key and the seals, so that a
  // record copied onto another user's row does not open.
  static std::string DataKeyPurpose(const std::string& account_id);

 private:
  struct Keys {
    crypto::Bytes data_key;
    crypto::Bytes transform_key;
    int version = 0;
    ~Keys();
  };
  Result<Keys> LoadKeys(StoreOps& ops, const std::string& account_id);
  Result<Keys> LoadOrCreateKeys(StoreOps& ops, const std::string& account_id);
  Result<crypto::Bytes> SealTemplate(const Keys& keys, const std::string& account_id,
                                     const std::string& device_type, const Template& transformed);
  Result<Template> OpenTemplate(const Keys& keys, const Reference& ref);
  Result<std::shared_ptr<const TemplateTransform>> TransformFor(const Keys& keys);

  const crypto::KeyManager* keys_;
  TemplateProtectorOptions options_;
  std::mutex cache_mu_;
  std::map<crypto::Bytes, std::shared_ptr<const TemplateTransform>> cache_;
  std::deque<crypto::Bytes> cache_order_;  // FIFO eviction
};

// Serialisation of a template (little-endian IEEE-754 floats).
crypto::Bytes TemplateBytes(const Template& t);

// Accuracy cost of the transform (the issue's "must not raise FNMR at the
// operating point by more than 0.5 points"). Every sample gets its
// subject's transform; a pair is compared under the reference owner's
// transform, as verification does.
struct LabelledTemplate {
  std::string subject;
  Template features;
};
struct TransformAccuracyCost {
  float threshold = 0;
  int genuine_pairs = 0;
  int impostor_pairs = 0;
  double fnmr_before = 0, fnmr_after = 0;  // fractions 0..1
  double fmr_before = 0, fmr_after = 0;
  double max_abs_distance_change = 0;
  int decisions_changed = 0;
};
TransformAccuracyCost MeasureTransformAccuracyCost(const std::vector<LabelledTemplate>& samples,
                                                   float threshold);

}  // namespace livegate::storage
