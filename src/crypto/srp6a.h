// SRP-6a (RFC 5054 / RFC 2945) with key confirmation: the key exchange of
// the secure channel (X.1279 clause 9 and Appendix II; R-SEC-COM-2/3,
// R-SRP-1..5). The password and the session key never cross the wire; the
// server stores only (salt, verifier).
//
// Construction (identical to RFC 5054 for k, x, v, A, B, u, S and to the
// RFC 2945 form used by srptools for K, M1, M2; H = the suite's hash, "|" =
// concatenation, PAD = left-pad with zeros to the byte length of N, numbers
// otherwise in minimal big-endian bytes):
//   k  = H(N | PAD(g))          x = H(s | H(I | ":" | P))     v = g^x mod N
//   A  = g^a mod N              B = (k*v + g^b) mod N          u = H(PAD(A) | PAD(B))
//   S  = (B - k*g^x)^(a + u*x)  = (A * v^u)^b  mod N
//   K  = H(S)
//   M1 = H(H(N) xor H(g) | H(I) | s | A | B | K)   (client proves first)
//   M2 = H(A | M1 | K)                            (then the server)
// Aborts: A mod N = 0 (server), B mod N = 0 (client), u = 0 (both).
// a and b are 256-bit secrets (RFC 5054 section 2.5.4 minimum).
//
// Unknown accounts (R-SRP-5 practice): StartUnknown answers with a
// deterministic salt HMAC-SHA256(server_secret, "srp fake salt|" | I) and a
// well-formed B from a deterministic fake verifier (HKDF stream mod N, so the
// cost is one exponentiation like a real account); VerifyClient then fails
// with exactly the Status of a wrong password.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/aead.h"
#include "livegate/status.h"

namespace livegate::crypto {

// Source of the ephemeral secrets a and b (and salts); tests inject a
// fixed output to replay known-answer vectors. Empty: RandomBytes.
using RandomFn = std::function<Bytes(std::size_t)>;

constexpr std::size_t kSrpSaltSize = 32;
constexpr std::size_t kSrpSecretExponentSize = 32;  // 256-bit a, b

// An SRP suite: group name ("modp/srp/2048" ... "modp/srp/8192", the RFC 5054
// Appendix A groups) and hash ("SHA-256", "SHA-384", "SHA-512"; for
// known-answer tests also "SHA-1", "BLAKE2b(224|256|384|512)", "BLAKE2s(256)").
struct SrpSuite {
  std::string group = "modp/srp/3072";  // default: 3072-bit group
  std::string hash = "SHA-256";         // default: SHA-256
};

// Which suites a deployment accepts (from configuration). Groups below 2048
// bits are refused whatever the list says (R-SRP-5).
struct SrpPolicy {
  // Default: the 2048, 3072, 4096, 6144 and 8192-bit RFC 5054 groups.
  std::vector<std::string> allowed_groups = {"modp/srp/2048", "modp/srp/3072", "modp/srp/4096",
                                             "modp/srp/6144", "modp/srp/8192"};
  // Default: SHA-256, SHA-384, SHA-512.
  std::vector<std::string> allowed_hashes = {"SHA-256", "SHA-384", "SHA-512"};
  // Suite for new verifiers. Default 3072-bit / SHA-256.
  SrpSuite default_suite;

  // Errors: Unsupported(srp.group_not_allowed | srp.group_too_small |
  // srp.hash_not_allowed).
  Status Check(const SrpSuite& suite) const;
};

// Group parameters + hash, resolved once. Cheap to copy (shared).
class SrpGroup {
 public:
  // A named suite, checked against `policy`.
  static Result<SrpGroup> Create(const SrpSuite& suite, const SrpPolicy& policy = SrpPolicy());
  // Explicit N and g (hex) without policy checks: known-answer tests only.
  static Result<SrpGroup> CreateForTesting(std::string_view n_hex, std::string_view g_hex,
                                           const std::string& hash);

  const SrpSuite& suite() const;
  std::size_t modulus_bytes() const;  // byte length of N: the size of A and B on the wire
  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

// What the server stores for an account (R-SRP-3): never the password.
struct SrpVerifier {
  SrpSuite suite;
  Bytes salt;      // kSrpSaltSize random bytes
  Bytes verifier;  // v, minimal big-endian
};

// Fresh random salt (unless `salt` is given) and v = g^x mod N.
Result<SrpVerifier> MakeSrpVerifier(const SrpGroup& group, std::string_view identity,
                                    std::string_view password, ByteView salt = {},
                                    RandomFn random = {});

// Client side. Created from the server's first answer (salt, B); yields A
// and M1 to send, then checks the server's M2.
class SrpClientSession {
 public:
  // Errors: BadInput(srp.illegal_public_value) for B mod N = 0 or B >= N,
  // BadInput(srp.u_zero), BadInput(srp.bad_salt).
  static Result<SrpClientSession> Respond(const SrpGroup& group, std::string_view identity,
                                          std::string_view password, ByteView salt, ByteView B,
                                          RandomFn random = {});
  const Bytes& A() const { return A_; }    // PAD(A): modulus_bytes() long
  const Bytes& M1() const { return M1_; }
  // Constant-time check of the server's proof. After success session_key()
  // is confirmed. Error: Unauthenticated(srp.server_proof_mismatch).
  Status VerifyServer(ByteView M2);
  bool confirmed() const { return confirmed_; }
  const Bytes& session_key() const { return K_; }
  const Bytes& premaster_secret() const { return S_; }  // for interop tests only

 private:
  Bytes A_, M1_, M2_, K_, S_;
  bool confirmed_ = false;
};

// Server side. Its whole state serialises to bytes so that another server
// process can continue the flow (the state holds b and v: the caller must
// store it encrypted, e.g. AeadSeal under a KeyManager-derived key).
class SrpServerSession {
 public:
  static Result<SrpServerSession> Start(const SrpGroup& group, std::string_view identity,
                                        ByteView salt, ByteView verifier, RandomFn random = {});
  // For an account that does not exist: indistinguishable answer.
  static Result<SrpServerSession> StartUnknown(const SrpGroup& group, std::string_view identity,
                                               ByteView server_secret, RandomFn random = {});

  const Bytes& salt() const { return salt_; }
  const Bytes& B() const { return B_; }  // PAD(B): modulus_bytes() long
  const SrpSuite& suite() const { return group_.suite(); }

  // Checks A and the client's proof M1 (constant time) and returns M2.
  // One attempt per session: any failure ends it.
  // Errors: BadInput(srp.illegal_public_value) for A mod N = 0 or A >= N,
  // BadInput(srp.u_zero), Unauthenticated(srp.client_proof_mismatch) for a
  // wrong password AND for an unknown account (same code, reason, message),
  // FailedPrecondition(srp.session_finished) for a second attempt.
  Result<Bytes> VerifyClient(ByteView A, ByteView M1);
  bool confirmed() const { return state_ == kConfirmed; }
  const Bytes& session_key() const { return K_; }  // valid once confirmed()
  const Bytes& premaster_secret() const { return S_; }

  // Versioned, length-prefixed encoding of the whole state.
  Bytes Serialize() const;
  // Errors: BadInput(srp.state_malformed), Unsupported(srp.*) if the suite
  // is no longer allowed by `policy`.
  static Result<SrpServerSession> Restore(ByteView bytes, const SrpPolicy& policy = SrpPolicy());

 private:
  enum State : std::uint8_t { kAwaitingProof = 1, kConfirmed = 2, kFailed = 3 };
  SrpGroup group_;
  std::string identity_;
  Bytes salt_, v_, b_, B_, K_, S_;
  bool unknown_account_ = false;
  State state_ = kAwaitingProof;
};

}  // namespace livegate::crypto
