// The C++ implementation against the shared protocol vectors
// (tests/vectors/protocol.json; the browser client runs the same file under
// node --test, web/test/protocol.test.mjs). R-SRP-1..5 (SRP-6a with key
// confirmation), R-SEC-COM-4/5 (per-channel, per-direction keys; sealed
// bodies), R-SEC-SRV-3 (sequence, timestamp and server nonce in the AAD).
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/kdf.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "protocol/envelope.h"
#include "support/test_data.h"
#include "vectors/protocol_vectors.h"

namespace livegate::vectors {
namespace {

using crypto::Bytes;
using nlohmann::json;

json Load() {
  std::ifstream in(livegate::testing::SourceDir() / "tests/vectors/protocol.json");
  EXPECT_TRUE(in.good()) << "tests/vectors/protocol.json missing";
  return json::parse(in);
}
Bytes Hex(const json& v) { return *crypto::HexDecode(v.get<std::string>()); }

TEST(ProtocolVectors, FileHasEveryPart) {
  const json doc = Load();
  EXPECT_EQ(doc.at("srp").size(), 2u);
  EXPECT_EQ(doc.at("envelopes").size(), 4u);
  EXPECT_EQ(doc.at("hkdf").size(), 1u);
  for (const auto& c : doc.at("srp")) {
    for (const char* k : {"N", "g", "verifier", "A", "B", "premaster_S", "K", "M1", "M2"}) {
      EXPECT_TRUE(c.contains(k)) << c.at("name") << " lacks " << k;
    }
  }
}

// Every deterministic value recomputed by today's C++ code equals the file.
TEST(ProtocolVectors, DeterministicOutputsMatchTheCppImplementation) {
  const json doc = Load();
  auto again = ComputeDeterministic(doc);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  for (std::size_t i = 0; i < doc["srp"].size(); ++i) {
    for (const char* k : {"N", "g", "verifier", "A", "B", "premaster_S", "K", "M1", "M2"}) {
      EXPECT_EQ((*again)["srp"][i][k], doc["srp"][i][k]) << doc["srp"][i]["name"] << " " << k;
    }
  }
  EXPECT_EQ((*again)["hkdf"], doc["hkdf"]);
  EXPECT_EQ((*again)["channel"], doc["channel"]);
  for (std::size_t i = 0; i < doc["envelopes"].size(); ++i) {
    EXPECT_EQ((*again)["envelopes"][i]["aad"], doc["envelopes"][i]["aad"]) << i;
  }
  EXPECT_EQ((*again)["base64url"], doc["base64url"]);
}

// RFC 5869 A.1 is a published value, not only ours.
TEST(ProtocolVectors, HkdfCaseIsRfc5869) {
  const json doc = Load();
  EXPECT_EQ(doc["hkdf"][0]["okm"],
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
}

// The server side accepts the file's client proof and answers the file's M2.
TEST(ProtocolVectors, ServerAcceptsTheClientProof) {
  const json doc = Load();
  for (const auto& c : doc["srp"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    auto group = crypto::SrpGroup::Create({c["group"], c["hash"]});
    ASSERT_TRUE(group.ok());
    const Bytes b = Hex(c["b"]);
    auto server = crypto::SrpServerSession::Start(*group, c["identity"].get<std::string>(), Hex(c["salt"]),
                                                  Hex(c["verifier"]), [&](std::size_t) { return b; });
    ASSERT_TRUE(server.ok());
    EXPECT_EQ(crypto::HexEncode(server->B()), c["B"]);
    auto m2 = server->VerifyClient(Hex(c["A"]), Hex(c["M1"]));
    ASSERT_TRUE(m2.ok()) << m2.status().ToString();
    EXPECT_EQ(crypto::HexEncode(*m2), c["M2"]);
    EXPECT_EQ(crypto::HexEncode(server->session_key()), c["K"]);
    // One flipped bit of M1 is refused like a wrong password.
    auto other = crypto::SrpServerSession::Start(*group, c["identity"].get<std::string>(), Hex(c["salt"]),
                                                 Hex(c["verifier"]), [&](std::size_t) { return b; });
    Bytes m1 = Hex(c["M1"]);
    m1[0] ^= 1;
    EXPECT_EQ(other->VerifyClient(Hex(c["A"]), m1).status().reason(), "srp.client_proof_mismatch");
  }
}

// The envelopes sealed by C++ open on the receiving C++ channel in order,
// with the header bytes equal to the AAD of the file.
TEST(ProtocolVectors, EnvelopesOpenOnTheReceivingChannel) {
  const json doc = Load();
  const auto& ch = doc["channel"];
  std::int64_t now = 0;
  crypto::Clock clock = [&now] { return now; };
  now = doc["envelopes"][0]["timestamp_ms"].get<std::int64_t>();
  auto server = crypto::SealedChannel::Create(Hex(ch["session_key"]), Hex(ch["channel_id"]), Hex(ch["server_nonce"]),
                                              crypto::ChannelRole::kServer, {}, clock);
  auto client = crypto::SealedChannel::Create(Hex(ch["session_key"]), Hex(ch["channel_id"]), Hex(ch["server_nonce"]),
                                              crypto::ChannelRole::kClient, {}, clock);
  ASSERT_TRUE(server.ok() && client.ok());
  for (const auto& e : doc["envelopes"]) {
    SCOPED_TRACE(e["name"].get<std::string>());
    now = e["timestamp_ms"].get<std::int64_t>();
    auto wire = crypto::Base64UrlDecode(e["wire"].get<std::string>());
    ASSERT_TRUE(wire.ok());
    const std::string body = e["body_utf8"];
    ASSERT_EQ(wire->size(), protocol::kEnvelopeOverhead + body.size());
    EXPECT_EQ(crypto::HexEncode(crypto::ByteView(*wire).first(crypto::kSealHeaderSize)), e["aad"]);
    EXPECT_EQ(crypto::HexEncode(crypto::ByteView(*wire).subspan(crypto::kSealHeaderSize, crypto::kAeadNonceSize)),
              e["gcm_nonce"]);
    const bool c2s = e["direction"] == 1;
    auto& receiver = c2s ? *server : *client;
    auto opened = protocol::OpenFromWire(receiver, *wire);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(std::string(opened->begin(), opened->end()), body);
    // The same bytes with the direction's key from the file, as plain AES-GCM.
    auto plain = crypto::AeadOpen(Hex(c2s ? ch["key_c2s"] : ch["key_s2c"]),
                                  crypto::ByteView(*wire).subspan(crypto::kSealHeaderSize), Hex(e["aad"]));
    ASSERT_TRUE(plain.ok());
    EXPECT_EQ(std::string(plain->begin(), plain->end()), body);
    // Replaying it is refused.
    EXPECT_EQ(protocol::OpenFromWire(receiver, *wire).status().reason(), "seal.replayed");
  }
}

}  // namespace
}  // namespace livegate::vectors
