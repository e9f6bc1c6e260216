#include "crypto/srp6a.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <botan/bigint.h>
#include <botan/dl_group.h>
#include <botan/hash.h>
#include <botan/numthry.h>

#include "crypto/kdf.h"

namespace livegate::crypto {

using Botan::BigInt;

// ---- hashing --------------------------------------------------------------

namespace {

// Incremental hash over Botan, except BLAKE2s which Botan 2 lacks (OpenSSL).
class Hasher {
 public:
  explicit Hasher(const std::string& name) : name_(name) {}
  Hasher& Add(ByteView b) {
    buf_.insert(buf_.end(), b.begin(), b.end());
    return *this;
  }
  Hasher& Add(std::string_view s) { return Add(AsBytes(s)); }
  Bytes Final() const {
    if (name_ == "BLAKE2s(256)") {
      Bytes out(32);
      unsigned int len = 0;
      EVP_Digest(buf_.data(), buf_.size(), out.data(), &len, EVP_blake2s256(), nullptr);
      return out;
    }
    auto h = Botan::HashFunction::create_or_throw(name_);
    h->update(buf_.data(), buf_.size());
    auto d = h->final();
    return Bytes(d.begin(), d.end());
  }

 private:
  std::string name_;
  Bytes buf_;
};

bool HashSupported(const std::string& name) {
  if (name == "BLAKE2s(256)") return true;
  return Botan::HashFunction::create(name) != nullptr;
}

Bytes Enc(const BigInt& n) {
  auto v = BigInt::encode(n);
  return Bytes(v.begin(), v.end());
}
Bytes Pad(const BigInt& n, std::size_t len) {
  auto v = BigInt::encode_1363(n, len);
  return Bytes(v.begin(), v.end());
}
BigInt Dec(ByteView b) { return BigInt::decode(b.data(), b.size()); }

}  // namespace

// ---- group ------------------------------------------------------------------

struct SrpGroup::Impl {
  SrpSuite suite;
  BigInt N, g, k;
  std::size_t n_bytes = 0;
  Bytes hn_xor_hg;  // H(N) xor H(g), precomputed for M1

  Bytes H(std::initializer_list<ByteView> parts) const {
    Hasher h(suite.hash);
    for (auto p : parts) h.Add(p);
    return h.Final();
  }
  BigInt PowMod(const BigInt& base, const BigInt& e) const { return Botan::power_mod(base, e, N); }
  BigInt ComputeX(std::string_view I, std::string_view P, ByteView s) const {
    Hasher inner(suite.hash);
    inner.Add(I).Add(":").Add(P);
    Bytes ih = inner.Final();
    Bytes x = H({s, ih});
    Cleanse(ih);
    return Dec(x);
  }
  BigInt ComputeU(const BigInt& A, const BigInt& B) const {
    return Dec(H({Pad(A, n_bytes), Pad(B, n_bytes)}));
  }
  Bytes ComputeM1(std::string_view I, ByteView s, const BigInt& A, const BigInt& B,
                  ByteView K) const {
    Bytes hi = H({AsBytes(I)});
    return H({hn_xor_hg, hi, s, Enc(A), Enc(B), K});
  }
  Bytes ComputeM2(const BigInt& A, ByteView M1, ByteView K) const { return H({Enc(A), M1, K}); }
};

namespace {

Result<std::shared_ptr<SrpGroup::Impl>> MakeImpl(SrpSuite suite, BigInt N, BigInt g) {
  if (!HashSupported(suite.hash)) {
    return Status::Unsupported("srp.hash_not_allowed", "unknown hash " + suite.hash);
  }
  auto impl = std::make_shared<SrpGroup::Impl>();
  impl->suite = std::move(suite);
  impl->N = std::move(N);
  impl->g = std::move(g);
  impl->n_bytes = impl->N.bytes();
  impl->k = Dec(impl->H({Enc(impl->N), Pad(impl->g, impl->n_bytes)}));
  Bytes hn = impl->H({Enc(impl->N)});
  Bytes hg = impl->H({Enc(impl->g)});
  for (std::size_t i = 0; i < hn.size(); ++i) hn[i] ^= hg[i];
  impl->hn_xor_hg = std::move(hn);
  return impl;
}

Bytes Draw(const RandomFn& random, std::size_t n) {
  return random ? random(n) : RandomBytes(n);
}

Status IllegalPublicValue(const char* which) {
  return Status::BadInput("srp.illegal_public_value",
                          std::string("SRP public value ") + which +
                              " is zero modulo N or not reduced: aborting the exchange");
}

Status UZero() {
  return Status::BadInput("srp.u_zero", "SRP scrambling parameter u is zero: aborting");
}

// The one failure an unknown account and a wrong password share.
Status ClientProofMismatch() {
  return Status::Unauthenticated("srp.client_proof_mismatch", "authentication failed");
}

}  // namespace

Status SrpPolicy::Check(const SrpSuite& suite) const {
  if (std::find(allowed_groups.begin(), allowed_groups.end(), suite.group) ==
      allowed_groups.end()) {
    return Status::Unsupported("srp.group_not_allowed",
                               "SRP group " + suite.group + " is not in the allow-list");
  }
  if (std::find(allowed_hashes.begin(), allowed_hashes.end(), suite.hash) ==
      allowed_hashes.end()) {
    return Status::Unsupported("srp.hash_not_allowed",
                               "SRP hash " + suite.hash + " is not in the allow-list");
  }
  return Status::Ok();
}

Result<SrpGroup> SrpGroup::Create(const SrpSuite& suite, const SrpPolicy& policy) {
  LG_RETURN_IF_ERROR(policy.Check(suite));
  if (suite.group.rfind("modp/srp/", 0) != 0) {
    return Status::Unsupported("srp.group_not_allowed", "not an RFC 5054 group: " + suite.group);
  }
  BigInt N, g;
  try {
    Botan::DL_Group dl(suite.group);
    N = dl.get_p();
    g = dl.get_g();
  } catch (const std::exception& e) {
    return Status::Unsupported("srp.group_not_allowed",
                               "unknown SRP group " + suite.group + ": " + e.what());
  }
  if (N.bits() < 2048) {
    return Status::Unsupported("srp.group_too_small",
                               "SRP group " + suite.group + " is below 2048 bits (R-SRP-5)");
  }
  SrpGroup out;
  LG_ASSIGN_OR_RETURN(out.impl_, MakeImpl(suite, std::move(N), std::move(g)));
  return out;
}

Result<SrpGroup> SrpGroup::CreateForTesting(std::string_view n_hex, std::string_view g_hex,
                                            const std::string& hash) {
  LG_ASSIGN_OR_RETURN(Bytes n, HexDecode(n_hex));
  LG_ASSIGN_OR_RETURN(Bytes g, HexDecode(g_hex));
  SrpGroup out;
  SrpSuite suite{"custom", hash};
  LG_ASSIGN_OR_RETURN(out.impl_, MakeImpl(suite, Dec(n), Dec(g)));
  return out;
}

const SrpSuite& SrpGroup::suite() const { return impl_->suite; }
std::size_t SrpGroup::modulus_bytes() const { return impl_->n_bytes; }

// ---- verifier ---------------------------------------------------------------

Result<SrpVerifier> MakeSrpVerifier(const SrpGroup& group, std::string_view identity,
                                    std::string_view password, ByteView salt, RandomFn random) {
  const auto& G = group.impl();
  SrpVerifier out;
  out.suite = G.suite;
  out.salt = salt.empty() ? Draw(random, kSrpSaltSize) : Bytes(salt.begin(), salt.end());
  const BigInt x = G.ComputeX(identity, password, out.salt);
  out.verifier = Enc(G.PowMod(G.g, x));
  return out;
}

// ---- client -----------------------------------------------------------------

Result<SrpClientSession> SrpClientSession::Respond(const SrpGroup& group, std::string_view identity,
                                                   std::string_view password, ByteView salt,
                                                   ByteView B_bytes, RandomFn random) {
  const auto& G = group.impl();
  if (salt.empty() || salt.size() > 1024) {
    return Status::BadInput("srp.bad_salt", "SRP salt must be 1..1024 bytes");
  }
  if (B_bytes.size() > G.n_bytes) return IllegalPublicValue("B");
  const BigInt B = Dec(B_bytes);
  if (B >= G.N || (B % G.N).is_zero()) return IllegalPublicValue("B");

  Bytes a_bytes = Draw(random, kSrpSecretExponentSize);
  const BigInt a = Dec(a_bytes);
  Cleanse(a_bytes);
  const BigInt A = G.PowMod(G.g, a);
  const BigInt u = G.ComputeU(A, B);
  if (u.is_zero()) return UZero();
  const BigInt x = G.ComputeX(identity, password, salt);

  // S = (B - k*g^x) ^ (a + u*x) mod N
  const BigInt kgx = (G.k * G.PowMod(G.g, x)) % G.N;
  BigInt base = (B + G.N - kgx) % G.N;
  const BigInt S = G.PowMod(base, a + u * x);

  SrpClientSession c;
  c.S_ = Enc(S);
  c.K_ = G.H({c.S_});
  c.A_ = Pad(A, G.n_bytes);
  c.M1_ = G.ComputeM1(identity, salt, A, B, c.K_);
  c.M2_ = G.ComputeM2(A, c.M1_, c.K_);
  return c;
}

Status SrpClientSession::VerifyServer(ByteView M2) {
  if (!ConstantTimeEqual(M2, M2_)) {
    confirmed_ = false;
    return Status::Unauthenticated("srp.server_proof_mismatch",
                                   "the server did not prove knowledge of the verifier");
  }
  confirmed_ = true;
  return Status::Ok();
}

// ---- server -----------------------------------------------------------------


Result<SrpServerSession> SrpServerSession::Start(const SrpGroup& group, std::string_view identity,
                                                 ByteView salt, ByteView verifier,
                                                 RandomFn random) {
  const auto& G = group.impl();
  if (salt.empty() || salt.size() > 1024) {
    return Status::InvalidArgument("srp.bad_salt", "stored SRP salt must be 1..1024 bytes");
  }
  const BigInt v = Dec(verifier);
  if (verifier.size() > G.n_bytes || v.is_zero() || v >= G.N) {
    return Status::InvalidArgument("srp.bad_verifier", "stored SRP verifier is not in [1, N)");
  }
  SrpServerSession s;
  s.group_ = group;
  s.identity_ = std::string(identity);
  s.salt_.assign(salt.begin(), salt.end());
  // Fixed width (the modulus' bytes), so that a serialised session's size
  // does not vary with the verifier's leading zero bytes: an unknown
  // account's fake verifier and a real one serialise to the same size
  // (the minimal encoding made them differ in 1 of 256 sessions).
  s.v_ = Pad(v, G.n_bytes);
  s.b_ = Draw(random, kSrpSecretExponentSize);
  const BigInt b = Dec(s.b_);
  const BigInt B = (G.k * v + G.PowMod(G.g, b)) % G.N;
  s.B_ = Pad(B, G.n_bytes);
  return s;
}

Result<SrpServerSession> SrpServerSession::StartUnknown(const SrpGroup& group,
                                                        std::string_view identity,
                                                        ByteView server_secret, RandomFn random) {
  if (server_secret.size() < 16) {
    return Status::InvalidArgument("srp.bad_server_secret", "server secret must be >= 16 bytes");
  }
  const auto& G = group.impl();
  Bytes msg = ToBytes("srp fake salt|");
  msg.insert(msg.end(), identity.begin(), identity.end());
  Bytes salt = HmacSha256(server_secret, msg);  // 32 bytes = kSrpSaltSize
  salt.resize(kSrpSaltSize);
  // The fake verifier is a pseudo-random residue mod N (no exponentiation),
  // so this path costs what Start() costs: one g^b. B = k*v + g^b is
  // indistinguishable from uniform either way.
  Bytes vmsg = ToBytes("srp fake verifier|");
  vmsg.insert(vmsg.end(), identity.begin(), identity.end());
  Bytes stream = HkdfSha256(server_secret, {}, vmsg, G.n_bytes + 16);
  BigInt fake_v = Dec(stream) % G.N;
  Cleanse(stream);
  if (fake_v.is_zero()) fake_v = 1;
  LG_ASSIGN_OR_RETURN(SrpServerSession s,
                      Start(group, identity, salt, Enc(fake_v), std::move(random)));
  s.unknown_account_ = true;
  return s;
}

Result<Bytes> SrpServerSession::VerifyClient(ByteView A_bytes, ByteView M1) {
  if (state_ != kAwaitingProof) {
    return Status(StatusCode::kFailedPrecondition, "srp.session_finished",
                  "this SRP session already ended; start a new one");
  }
  const auto& G = group_.impl();
  // Whatever happens next, this session cannot be tried again.
  state_ = kFailed;
  if (A_bytes.size() > G.n_bytes) return IllegalPublicValue("A");
  const BigInt A = Dec(A_bytes);
  if (A >= G.N || (A % G.N).is_zero()) return IllegalPublicValue("A");
  const BigInt B = Dec(B_);
  const BigInt u = G.ComputeU(A, B);
  if (u.is_zero()) return UZero();
  const BigInt v = Dec(v_);
  const BigInt b = Dec(b_);
  // S = (A * v^u) ^ b mod N
  const BigInt S = G.PowMod((A * G.PowMod(v, u)) % G.N, b);
  Bytes S_bytes = Enc(S);
  Bytes K = G.H({S_bytes});
  const Bytes expected_m1 = G.ComputeM1(identity_, salt_, A, B, K);
  // Always compare (constant time) so an unknown account costs the same.
  const bool match = ConstantTimeEqual(M1, expected_m1);
  if (!match || unknown_account_) {
    Cleanse(S_bytes);
    Cleanse(K);
    return ClientProofMismatch();
  }
  S_ = std::move(S_bytes);
  K_ = std::move(K);
  state_ = kConfirmed;
  Cleanse(b_);
  b_.clear();
  return G.ComputeM2(A, M1, K_);
}

// ---- serialisation ----------------------------------------------------------
// "LGSS" | version 1 | state u8 | unknown u8 | then length-prefixed (u32 BE)
// fields: group, hash, identity, salt, v, b, B, K, S.

namespace {

void PutField(Bytes& out, ByteView f) {
  const auto n = static_cast<std::uint32_t>(f.size());
  for (int sh = 24; sh >= 0; sh -= 8) out.push_back(static_cast<std::uint8_t>(n >> sh));
  out.insert(out.end(), f.begin(), f.end());
}

struct Reader {
  ByteView in;
  std::size_t pos = 0;
  bool Field(Bytes& out, std::size_t max) {
    if (in.size() - pos < 4) return false;
    std::uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = n << 8 | in[pos + i];
    pos += 4;
    if (n > max || in.size() - pos < n) return false;
    out.assign(in.begin() + pos, in.begin() + pos + n);
    pos += n;
    return true;
  }
};

}  // namespace

Bytes SrpServerSession::Serialize() const {
  Bytes out = ToBytes("LGSS");
  out.push_back(1);
  out.push_back(state_);
  out.push_back(unknown_account_ ? 1 : 0);
  PutField(out, AsBytes(group_.suite().group));
  PutField(out, AsBytes(group_.suite().hash));
  PutField(out, AsBytes(identity_));
  PutField(out, salt_);
  PutField(out, v_);
  PutField(out, b_);
  PutField(out, B_);
  PutField(out, K_);
  PutField(out, S_);
  return out;
}

Result<SrpServerSession> SrpServerSession::Restore(ByteView bytes, const SrpPolicy& policy) {
  const Status malformed =
      Status::BadInput("srp.state_malformed", "stored SRP session state is malformed");
  if (bytes.size() < 7 || std::memcmp(bytes.data(), "LGSS", 4) != 0 || bytes[4] != 1) {
    return malformed;
  }
  const std::uint8_t state = bytes[5];
  const std::uint8_t unknown = bytes[6];
  if (state < kAwaitingProof || state > kFailed || unknown > 1) return malformed;
  Reader r{bytes, 7};
  Bytes group, hash, identity, salt, v, b, B, K, S;
  if (!r.Field(group, 64) || !r.Field(hash, 64) || !r.Field(identity, 4096) ||
      !r.Field(salt, 1024) || !r.Field(v, 1024) || !r.Field(b, 64) || !r.Field(B, 1024) ||
      !r.Field(K, 128) || !r.Field(S, 1024) || r.pos != bytes.size()) {
    return malformed;
  }
  SrpSuite suite{std::string(group.begin(), group.end()), std::string(hash.begin(), hash.end())};
  LG_ASSIGN_OR_RETURN(SrpGroup g, SrpGroup::Create(suite, policy));
  if (B.size() != g.modulus_bytes() || salt.empty() || v.empty() ||
      (state == kAwaitingProof && b.size() != kSrpSecretExponentSize)) {
    return malformed;
  }
  SrpServerSession s;
  s.group_ = std::move(g);
  s.identity_.assign(identity.begin(), identity.end());
  s.salt_ = std::move(salt);
  s.v_ = std::move(v);
  s.b_ = std::move(b);
  s.B_ = std::move(B);
  s.K_ = std::move(K);
  s.S_ = std::move(S);
  s.unknown_account_ = unknown == 1;
  s.state_ = static_cast<State>(state);
  return s;
}

}  // namespace livegate::crypto
