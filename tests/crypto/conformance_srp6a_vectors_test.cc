// Known-answer tests for SRP-6a (R-SRP-5): RFC 5054 Appendix B and the 54
// srptools vectors (9 hashes x 6 groups). a and b are injected through a
// fixed-output RandomFn.
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "crypto/kdf.h"
#include "crypto/srp6a.h"
#include "support/test_data.h"

namespace livegate::crypto {
namespace {

std::string Clean(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}
Bytes Hex(const nlohmann::json& v) { return *HexDecode(Clean(v.get<std::string>())); }
// Minimal big-endian (strip leading zero bytes) for comparisons with vectors.
std::string MinHex(ByteView b) {
  std::size_t i = 0;
  while (i < b.size() && b[i] == 0) ++i;
  return HexEncode(b.subspan(i));
}
RandomFn Fixed(Bytes value) {
  return [value](std::size_t n) {
    Bytes out(n, 0);
    // Left-pad to the requested size: the exponent value is what matters.
    std::copy(value.begin(), value.end(), out.end() - std::min(n, value.size()));
    return out;
  };
}
std::string HashName(const std::string& h) {
  if (h == "sha1") return "SHA-1";
  if (h == "sha256") return "SHA-256";
  if (h == "sha384") return "SHA-384";
  if (h == "sha512") return "SHA-512";
  if (h.rfind("blake2b-", 0) == 0) return "BLAKE2b(" + h.substr(8) + ")";
  if (h.rfind("blake2s-", 0) == 0) return "BLAKE2s(" + h.substr(8) + ")";
  return h;
}

// Returns the number of vectors checked.
int CheckVectors(const std::filesystem::path& file, bool expect_kmm) {
  std::ifstream in(file);
  const auto doc = nlohmann::json::parse(in);
  int n = 0;
  for (const auto& v : doc.at("testVectors")) {
    const std::string label = v.at("H").get<std::string>() + "/" + std::to_string(v.at("size").get<int>());
    SCOPED_TRACE(label);
    auto group = SrpGroup::CreateForTesting(Clean(v["N"]), Clean(v["g"]), HashName(v["H"]));
    EXPECT_TRUE(group.ok()) << group.status().ToString();
    if (!group.ok()) continue;
    const std::string I = v["I"], P = v["P"];
    const Bytes s = Hex(v["s"]);
    auto ver = MakeSrpVerifier(*group, I, P, s);
    EXPECT_TRUE(ver.ok());
    EXPECT_EQ(MinHex(ver->verifier), MinHex(Hex(v["v"])));

    auto server = SrpServerSession::Start(*group, I, s, ver->verifier, Fixed(Hex(v["b"])));
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (!server.ok()) continue;
    EXPECT_EQ(MinHex(server->B()), MinHex(Hex(v["B"])));

    auto client = SrpClientSession::Respond(*group, I, P, s, server->B(), Fixed(Hex(v["a"])));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    if (!client.ok()) continue;
    EXPECT_EQ(MinHex(client->A()), MinHex(Hex(v["A"])));
    EXPECT_EQ(MinHex(client->premaster_secret()), MinHex(Hex(v["S"])));
    if (expect_kmm) {
      EXPECT_EQ(HexEncode(client->session_key()), Clean(v["K"]));
      EXPECT_EQ(HexEncode(client->M1()), Clean(v["M1"]));
    }
    auto m2 = server->VerifyClient(client->A(), client->M1());
    EXPECT_TRUE(m2.ok()) << m2.status().ToString();
    if (!m2.ok()) continue;
    EXPECT_EQ(MinHex(server->premaster_secret()), MinHex(Hex(v["S"])));
    if (expect_kmm) {
      EXPECT_EQ(HexEncode(*m2), Clean(v["M2"]));
    }
    EXPECT_TRUE(client->VerifyServer(*m2).ok());
    EXPECT_EQ(client->session_key(), server->session_key());
    ++n;
  }
  return n;
}

TEST(SrpVectorsTest, Rfc5054AppendixB) {
  LG_REQUIRE_TEST_DATA("4_srp_vectors/rfc5054.json");
  // RFC 5054 gives v, A, B, u, S (no K/M1/M2); the u value is checked
  // implicitly through S.
  EXPECT_EQ(CheckVectors(livegate::testing::TestDataDir() / "4_srp_vectors/rfc5054.json", false), 1);
}

TEST(SrpVectorsTest, Srptools54Vectors) {
  LG_REQUIRE_TEST_DATA("4_srp_vectors/srptools_vectors.json");
  // Our K/M1/M2 construction is the one srptools uses, so all fields match.
  EXPECT_EQ(CheckVectors(livegate::testing::TestDataDir() / "4_srp_vectors/srptools_vectors.json", true),
            54);
}

}  // namespace
}  // namespace livegate::crypto
