// SRP-6a behaviour (R-SEC-COM-2/3, R-SRP-2..5): handshake, key confirmation,
// safety aborts, unknown-account indistinguishability, state persistence,
// policy, and interoperability with Botan's own SRP6 implementation.
#include "crypto/srp6a.h"

#include <botan/auto_rng.h>
#include <botan/bigint.h>
#include <botan/dl_group.h>
#include <botan/srp6.h>
#include <gtest/gtest.h>

#include "crypto/kdf.h"

namespace livegate::crypto {
namespace {

const SrpSuite k2048{"modp/srp/2048", "SHA-256"};

SrpGroup Group(const SrpSuite& s = k2048) {
  auto g = SrpGroup::Create(s);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return *g;
}

TEST(SrpTest, DefaultSuiteIs3072Sha256) {
  SrpPolicy p;
  EXPECT_EQ(p.default_suite.group, "modp/srp/3072");
  EXPECT_EQ(p.default_suite.hash, "SHA-256");
  auto g = SrpGroup::Create(p.default_suite);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->modulus_bytes(), 384u);
}

// R-SEC-COM-2/3, R-SRP-2/4: only s, B, A, M1, M2 cross; both sides derive the same session key.
TEST(SrpTest, FullHandshakeAgreesOnKey) {
  const SrpGroup g = Group(SrpPolicy().default_suite);
  auto ver = MakeSrpVerifier(g, "alice", "correct horse");
  ASSERT_TRUE(ver.ok());
  EXPECT_EQ(ver->salt.size(), kSrpSaltSize);
  auto server = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->B().size(), 384u);
  auto client = SrpClientSession::Respond(g, "alice", "correct horse", server->salt(), server->B());
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE(server->confirmed());
  auto m2 = server->VerifyClient(client->A(), client->M1());
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_TRUE(server->confirmed());
  ASSERT_TRUE(client->VerifyServer(*m2).ok());
  EXPECT_EQ(client->session_key(), server->session_key());
  EXPECT_EQ(client->session_key().size(), 32u);
}

TEST(SrpTest, WrongPasswordFailsAtM1) {
  const SrpGroup g = Group();
  auto ver = MakeSrpVerifier(g, "alice", "right");
  auto server = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier);
  auto client = SrpClientSession::Respond(g, "alice", "wrong", server->salt(), server->B());
  ASSERT_TRUE(client.ok());
  auto m2 = server->VerifyClient(client->A(), client->M1());
  ASSERT_FALSE(m2.ok());
  EXPECT_EQ(m2.status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(m2.status().reason(), "srp.client_proof_mismatch");
  EXPECT_FALSE(server->confirmed());
  EXPECT_TRUE(server->session_key().empty());
  // One attempt per session.
  auto again = server->VerifyClient(client->A(), client->M1());
  EXPECT_EQ(again.status().reason(), "srp.session_finished");
}

TEST(SrpTest, ServerProofMismatchDetectedByClient) {
  const SrpGroup g = Group();
  auto ver = MakeSrpVerifier(g, "alice", "pw");
  auto server = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier);
  auto client = SrpClientSession::Respond(g, "alice", "pw", server->salt(), server->B());
  auto m2 = server->VerifyClient(client->A(), client->M1());
  ASSERT_TRUE(m2.ok());
  Bytes bad = *m2;
  bad[0] ^= 0x80;
  const Status st = client->VerifyServer(bad);
  EXPECT_EQ(st.reason(), "srp.server_proof_mismatch");
  EXPECT_FALSE(client->confirmed());
}

TEST(SrpTest, UnknownAccountIndistinguishable) {
  const SrpGroup g = Group();
  const Bytes secret = RandomBytes(32);
  auto known_ver = MakeSrpVerifier(g, "alice", "pw");
  auto known = SrpServerSession::Start(g, "alice", known_ver->salt, known_ver->verifier);
  auto fake1 = SrpServerSession::StartUnknown(g, "mallory", secret);
  auto fake2 = SrpServerSession::StartUnknown(g, "mallory", secret);
  auto fake_other = SrpServerSession::StartUnknown(g, "trent", secret);
  ASSERT_TRUE(known.ok() && fake1.ok() && fake2.ok() && fake_other.ok());
  // Same shapes as a real account.
  EXPECT_EQ(fake1->salt().size(), known->salt().size());
  EXPECT_EQ(fake1->B().size(), known->B().size());
  // Salt is deterministic per account (a repeat query shows the same salt,
  // as for a real account) and differs between accounts; B is fresh.
  EXPECT_EQ(fake1->salt(), fake2->salt());
  EXPECT_NE(fake1->salt(), fake_other->salt());
  EXPECT_NE(fake1->B(), fake2->B());
  EXPECT_NE(fake1->B(), Bytes(fake1->B().size(), 0));

  // The client proceeds normally and fails at M1 with the same Status as a
  // wrong password for a known account.
  auto c_fake = SrpClientSession::Respond(g, "mallory", "guess", fake1->salt(), fake1->B());
  ASSERT_TRUE(c_fake.ok());
  auto r_fake = fake1->VerifyClient(c_fake->A(), c_fake->M1());
  auto c_wrong = SrpClientSession::Respond(g, "alice", "guess", known->salt(), known->B());
  auto r_wrong = known->VerifyClient(c_wrong->A(), c_wrong->M1());
  ASSERT_FALSE(r_fake.ok());
  ASSERT_FALSE(r_wrong.ok());
  EXPECT_EQ(r_fake.status().code(), r_wrong.status().code());
  EXPECT_EQ(r_fake.status().reason(), r_wrong.status().reason());
  EXPECT_EQ(r_fake.status().message(), r_wrong.status().message());
  EXPECT_EQ(r_fake.status().ToString(), r_wrong.status().ToString());

  // The serialised state does not reveal the fake either by size.
  EXPECT_EQ(SrpServerSession::StartUnknown(g, "mallory", secret)->Serialize().size(),
            SrpServerSession::Start(g, "mallory", fake1->salt(), known_ver->verifier)
                ->Serialize().size());
}

TEST(SrpTest, ServerAbortsOnIllegalA) {
  const SrpGroup g = Group();
  auto ver = MakeSrpVerifier(g, "alice", "pw");
  const Botan::DL_Group dl("modp/srp/2048");
  const auto n = Botan::BigInt::encode_1363(dl.get_p(), 256);
  const Bytes N(n.begin(), n.end());
  const Bytes zero(256, 0);
  const Bytes m1(32, 0);
  for (const Bytes& A : {zero, N, Bytes{}}) {
    auto server = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier);
    auto r = server->VerifyClient(A, m1);
    EXPECT_EQ(r.status().reason(), "srp.illegal_public_value");
    EXPECT_EQ(r.status().code(), StatusCode::kBadInput);
  }
  // 2N does not fit the modulus length.
  Bytes big(257, 0);
  big[0] = 1;
  auto server = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier);
  EXPECT_EQ(server->VerifyClient(big, m1).status().reason(), "srp.illegal_public_value");
}

TEST(SrpTest, ClientAbortsOnIllegalB) {
  const SrpGroup g = Group();
  const Botan::DL_Group dl("modp/srp/2048");
  const auto n = Botan::BigInt::encode_1363(dl.get_p(), 256);
  const Bytes salt(32, 7);
  for (const Bytes& B : {Bytes(256, 0), Bytes(n.begin(), n.end()), Bytes{}}) {
    auto c = SrpClientSession::Respond(g, "alice", "pw", salt, B);
    EXPECT_EQ(c.status().reason(), "srp.illegal_public_value");
  }
  EXPECT_EQ(SrpClientSession::Respond(g, "alice", "pw", {}, Bytes(256, 1)).status().reason(),
            "srp.bad_salt");
}

TEST(SrpTest, StateSurvivesSerializeRestore) {
  const SrpGroup g = Group();
  auto ver = MakeSrpVerifier(g, "alice", "pw");
  auto server = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier);
  const Bytes state = server->Serialize();
  // "Another process" restores and finishes the flow.
  auto restored = SrpServerSession::Restore(state);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->B(), server->B());
  EXPECT_EQ(restored->salt(), server->salt());
  auto client = SrpClientSession::Respond(g, "alice", "pw", restored->salt(), restored->B());
  auto m2 = restored->VerifyClient(client->A(), client->M1());
  ASSERT_TRUE(m2.ok());
  EXPECT_TRUE(client->VerifyServer(*m2).ok());
  // The finished state round-trips too and refuses a second proof.
  auto done = SrpServerSession::Restore(restored->Serialize());
  ASSERT_TRUE(done.ok());
  EXPECT_TRUE(done->confirmed());
  EXPECT_EQ(done->session_key(), client->session_key());
  EXPECT_EQ(done->VerifyClient(client->A(), client->M1()).status().reason(),
            "srp.session_finished");
}

TEST(SrpTest, RestoreRejectsMalformedAndDisallowed) {
  const SrpGroup g = Group();
  auto ver = MakeSrpVerifier(g, "alice", "pw");
  const Bytes state = SrpServerSession::Start(g, "alice", ver->salt, ver->verifier)->Serialize();
  for (std::size_t cut : {0ul, 5ul, 20ul, state.size() - 1}) {
    Bytes t(state.begin(), state.begin() + cut);
    EXPECT_EQ(SrpServerSession::Restore(t).status().reason(), "srp.state_malformed") << cut;
  }
  Bytes extra = state;
  extra.push_back(0);
  EXPECT_EQ(SrpServerSession::Restore(extra).status().reason(), "srp.state_malformed");
  SrpPolicy strict;
  strict.allowed_groups = {"modp/srp/3072"};
  EXPECT_EQ(SrpServerSession::Restore(state, strict).status().reason(), "srp.group_not_allowed");
}

TEST(SrpTest, PolicyAllowList) {
  EXPECT_EQ(SrpGroup::Create({"modp/srp/1024", "SHA-256"}).status().reason(),
            "srp.group_not_allowed");
  SrpPolicy lax;
  lax.allowed_groups.push_back("modp/srp/1536");
  EXPECT_EQ(SrpGroup::Create({"modp/srp/1536", "SHA-256"}, lax).status().reason(),
            "srp.group_too_small");
  EXPECT_EQ(SrpGroup::Create({"modp/srp/2048", "SHA-1"}).status().reason(),
            "srp.hash_not_allowed");
  EXPECT_TRUE(SrpGroup::Create({"modp/srp/4096", "SHA-512"}).ok());
  SrpPolicy only384;
  only384.allowed_hashes = {"SHA-384"};
  EXPECT_EQ(SrpGroup::Create(k2048, only384).status().reason(), "srp.hash_not_allowed");
  EXPECT_TRUE(SrpGroup::Create({"modp/srp/2048", "SHA-384"}, only384).ok());
}

// Interoperability with an independent implementation (Botan's SRP6).
TEST(SrpTest, InteroperatesWithBotan) {
  const SrpGroup g = Group();
  Botan::AutoSeeded_RNG rng;
  const std::vector<uint8_t> salt(32, 0x5a);
  const Botan::BigInt botan_v = Botan::generate_srp6_verifier("bob", "pw", salt, "modp/srp/2048", "SHA-256");
  auto ver = MakeSrpVerifier(g, "bob", "pw", salt);
  ASSERT_TRUE(ver.ok());
  const auto bv = Botan::BigInt::encode(botan_v);
  EXPECT_EQ(ver->verifier, Bytes(bv.begin(), bv.end()));

  // Botan server, our client: same premaster S.
  Botan::SRP6_Server_Session botan_server;
  const Botan::BigInt B = botan_server.step1(botan_v, "modp/srp/2048", "SHA-256", rng);
  const auto B_bytes = Botan::BigInt::encode_1363(B, 256);
  auto client = SrpClientSession::Respond(g, "bob", "pw", salt, Bytes(B_bytes.begin(), B_bytes.end()));
  ASSERT_TRUE(client.ok());
  const Botan::SymmetricKey botan_S = botan_server.step2(Botan::BigInt::decode(client->A()));
  const Botan::BigInt S1 = Botan::BigInt::decode(botan_S.bits_of());
  const Botan::BigInt S2 = Botan::BigInt::decode(client->premaster_secret());
  EXPECT_EQ(S1, S2);

  // Botan client, our server: same premaster S.
  auto server = SrpServerSession::Start(g, "bob", salt, ver->verifier);
  const auto [A, S_client] = Botan::srp6_client_agree("bob", "pw", "modp/srp/2048", "SHA-256", salt,
                                                      Botan::BigInt::decode(server->B()), rng);
  // Botan does no key confirmation: build K and M1 from Botan's S with the
  // documented construction, independently of our code.
  const Botan::DL_Group dl("modp/srp/2048");
  auto enc = [](const Botan::BigInt& n) { auto v = Botan::BigInt::encode(n); return Bytes(v.begin(), v.end()); };
  auto cat = [](std::initializer_list<Bytes> parts) { Bytes o; for (auto& p : parts) o.insert(o.end(), p.begin(), p.end()); return o; };
  const Bytes K = Sha256(enc(Botan::BigInt::decode(S_client.bits_of())));
  Bytes hx = Sha256(enc(dl.get_p()));
  const Bytes hg = Sha256(enc(dl.get_g()));
  for (std::size_t i = 0; i < hx.size(); ++i) hx[i] ^= hg[i];
  const Bytes M1 = Sha256(cat({hx, Sha256(ToBytes("bob")), Bytes(salt.begin(), salt.end()), enc(A),
                               enc(Botan::BigInt::decode(server->B())), K}));
  const auto A_bytes = Botan::BigInt::encode_1363(A, 256);
  auto m2 = server->VerifyClient(Bytes(A_bytes.begin(), A_bytes.end()), M1);
  ASSERT_TRUE(m2.ok()) << m2.status().ToString();
  EXPECT_EQ(server->session_key(), K);
  EXPECT_EQ(*m2, Sha256(cat({enc(A), M1, K})));
}

}  // namespace
}  // namespace livegate::crypto
