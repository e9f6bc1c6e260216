#include "vectors/protocol_vectors.h"

#include <botan/bigint.h>
#include <botan/dl_group.h>

#include "crypto/kdf.h"
#include "crypto/sealed_channel.h"
#include "crypto/srp6a.h"
#include "protocol/envelope.h"

namespace livegate::vectors {
namespace {

using crypto::Bytes;
using crypto::HexEncode;
using nlohmann::json;

Result<Bytes> Hex(const json& doc, const char* key) {
  if (!doc.contains(key) || !doc[key].is_string()) {
    return Status::BadInput("vectors.missing", std::string("missing hex field ") + key);
  }
  return crypto::HexDecode(doc[key].get<std::string>());
}

// a and b are injected through the RandomFn, exactly as the conformance test
// of the RFC vectors does.
crypto::RandomFn Fixed(Bytes value) {
  return [value](std::size_t n) {
    Bytes out(n, 0);
    std::copy(value.end() - std::min(n, value.size()), value.end(), out.end() - std::min(n, value.size()));
    return out;
  };
}

std::string GroupHex(const std::string& name, bool generator) {
  Botan::DL_Group g(name);
  const Botan::BigInt& v = generator ? g.get_g() : g.get_p();
  const auto bytes = Botan::BigInt::encode(v);
  return HexEncode(Bytes(bytes.begin(), bytes.end()));
}

Bytes Concat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

}  // namespace

json DefaultInputs() {
  json doc;
  doc["description"] =
      "livegate protocol test vectors shared by the C++ implementation and the browser client "
      "(docs/PROTOCOL.md). Hex is lower-case; numbers A, B are PAD()ed to the modulus width, "
      "verifier and premaster_S are minimal big-endian. Regenerate with "
      "build/tests/vectors/livegate_make_protocol_vectors tests/vectors/protocol.json only when "
      "the protocol changes on purpose (the browser client must change with it).";
  doc["generated_by"] = "tests/vectors/make_protocol_vectors.cc";
  // Account password (registration, deregistration) and device credential
  // (authentication: identity = device id, password = hex of the device secret).
  doc["srp"] = json::array({
      {{"name", "account password, 3072-bit group"},
       {"group", "modp/srp/3072"}, {"hash", "SHA-256"},
       {"identity", "alice"}, {"password", "correct horse battery staple"},
       {"salt", "5a1f9c3e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39281706f5e4d3c2b1a0f9e8d7"},
       {"a", "60975527035cf2ad1989806f0407210bc81edc04e2762a56afd529ddda2d4393"},
       {"b", "e487cb59d31ac550471e81f00f6928e01dda08e974a004f49e61f5d105284d20"}},
      {{"name", "device credential, 4096-bit group"},
       {"group", "modp/srp/4096"}, {"hash", "SHA-256"},
       {"identity", "web-3f9a1c2e7b6d4e10"},
       {"password", "9b3c1f0e2d4a5b6c7d8e9f00112233445566778899aabbccddeeff0011223344"},
       {"salt", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
       {"a", "00000000000000000000000000000000000000000000000000000000000000ff"},
       {"b", "7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"}},
  });
  doc["hkdf"] = json::array({
      // RFC 5869 appendix A.1.
      {{"name", "RFC 5869 A.1"},
       {"ikm", "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"},
       {"salt", "000102030405060708090a0b0c"},
       {"info", "f0f1f2f3f4f5f6f7f8f9"}, {"length", 42}},
  });
  // The sealed channel on the first SRP case's session key.
  doc["channel"] = {{"srp_case", 0},
                    {"channel_id", "c0c1c2c3c4c5c6c7c8c9cacbcccdcecf"},
                    {"server_nonce", "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"}};
  doc["envelopes"] = json::array({
      {{"name", "risk report, client to server, sequence 0"}, {"direction", 1}, {"sequence", 0},
       {"timestamp_ms", 1795621891095},
       {"body_utf8", R"({"device_type":"web-browser","platform":"web","os_version":"0","app_version":"0.1.0","integrity_flags":["no_trusted_environment"],"network_changed":false})"}},
      {{"name", "procedure, server to client, sequence 0"}, {"direction", 2}, {"sequence", 0},
       {"timestamp_ms", 1795621891240},
       {"body_utf8", R"({"biometric_type":"face","asd_type":"actions","tier":"medium"})"}},
      {{"name", "capture, client to server, sequence 1"}, {"direction", 1}, {"sequence", 1},
       {"timestamp_ms", 1795621899001}, {"body_utf8", "{\"challenge_id\":\"x\"}"}},
      {{"name", "empty body, server to client, sequence 1"}, {"direction", 2}, {"sequence", 1},
       {"timestamp_ms", 1795621899100}, {"body_utf8", ""}},
  });
  doc["base64url"] = json::array({
      {{"hex", ""}}, {{"hex", "ff"}}, {{"hex", "fbff"}}, {{"hex", "fbfffe"}},
      {{"hex", "00000000000000000000000000000000"}},
  });
  return doc;
}

Result<json> ComputeDeterministic(const json& in) {
  json doc = in;
  for (auto& c : doc.at("srp")) {
    const std::string group_name = c.at("group"), hash = c.at("hash");
    const std::string I = c.at("identity"), P = c.at("password");
    LG_ASSIGN_OR_RETURN(auto salt, Hex(c, "salt"));
    LG_ASSIGN_OR_RETURN(auto a, Hex(c, "a"));
    LG_ASSIGN_OR_RETURN(auto b, Hex(c, "b"));
    LG_ASSIGN_OR_RETURN(auto group, crypto::SrpGroup::Create({group_name, hash}));
    c["N"] = GroupHex(group_name, false);
    c["g"] = GroupHex(group_name, true);
    LG_ASSIGN_OR_RETURN(auto ver, crypto::MakeSrpVerifier(group, I, P, salt));
    LG_ASSIGN_OR_RETURN(auto server, crypto::SrpServerSession::Start(group, I, salt, ver.verifier, Fixed(b)));
    LG_ASSIGN_OR_RETURN(auto client,
                        crypto::SrpClientSession::Respond(group, I, P, salt, server.B(), Fixed(a)));
    LG_ASSIGN_OR_RETURN(auto M2, server.VerifyClient(client.A(), client.M1()));
    LG_RETURN_IF_ERROR(client.VerifyServer(M2));
    c["verifier"] = HexEncode(ver.verifier);
    c["B"] = HexEncode(server.B());
    c["A"] = HexEncode(client.A());
    c["premaster_S"] = HexEncode(client.premaster_secret());
    c["K"] = HexEncode(client.session_key());
    c["M1"] = HexEncode(client.M1());
    c["M2"] = HexEncode(M2);
    if (client.session_key() != server.session_key()) {
      return Status::Internal("vectors.srp_disagree", "client and server K differ");
    }
  }
  for (auto& h : doc.at("hkdf")) {
    LG_ASSIGN_OR_RETURN(auto ikm, Hex(h, "ikm"));
    LG_ASSIGN_OR_RETURN(auto salt, Hex(h, "salt"));
    LG_ASSIGN_OR_RETURN(auto info, Hex(h, "info"));
    h["okm"] = HexEncode(crypto::HkdfSha256(ikm, salt, info, h.at("length").get<std::size_t>()));
  }
  auto& ch = doc.at("channel");
  LG_ASSIGN_OR_RETURN(auto K, Hex(doc.at("srp").at(ch.at("srp_case").get<std::size_t>()), "K"));
  LG_ASSIGN_OR_RETURN(auto channel_id, Hex(ch, "channel_id"));
  LG_ASSIGN_OR_RETURN(auto server_nonce, Hex(ch, "server_nonce"));
  ch["session_key"] = HexEncode(K);
  ch["hkdf_salt"] = HexEncode(Concat(channel_id, server_nonce));
  ch["info_c2s"] = "livegate/seal/v1/c2s";
  ch["info_s2c"] = "livegate/seal/v1/s2c";
  ch["key_c2s"] = HexEncode(crypto::HkdfSha256(K, Concat(channel_id, server_nonce),
                                               crypto::AsBytes("livegate/seal/v1/c2s"), 32));
  ch["key_s2c"] = HexEncode(crypto::HkdfSha256(K, Concat(channel_id, server_nonce),
                                               crypto::AsBytes("livegate/seal/v1/s2c"), 32));
  for (auto& e : doc.at("envelopes")) {
    crypto::SealHeader h;
    std::copy(channel_id.begin(), channel_id.end(), h.channel_id.begin());
    std::copy(server_nonce.begin(), server_nonce.end(), h.server_nonce.begin());
    h.direction = static_cast<crypto::Direction>(e.at("direction").get<int>());
    h.sequence = e.at("sequence").get<std::uint64_t>();
    h.timestamp_ms = e.at("timestamp_ms").get<std::int64_t>();
    h.body_length = static_cast<std::uint32_t>(e.at("body_utf8").get<std::string>().size());
    e["aad"] = HexEncode(crypto::EncodeSealHeader(h));
  }
  for (auto& b : doc.at("base64url")) {
    LG_ASSIGN_OR_RETURN(auto bytes, Hex(b, "hex"));
    b["text"] = crypto::Base64UrlEncode(bytes);
  }
  return doc;
}

Status SealEnvelopes(json& doc) {
  const auto& ch = doc.at("channel");
  LG_ASSIGN_OR_RETURN(auto K, Hex(ch, "session_key"));
  LG_ASSIGN_OR_RETURN(auto channel_id, Hex(ch, "channel_id"));
  LG_ASSIGN_OR_RETURN(auto server_nonce, Hex(ch, "server_nonce"));
  std::int64_t now = 0;
  crypto::Clock clock = [&now] { return now; };
  now = doc.at("envelopes").at(0).at("timestamp_ms").get<std::int64_t>();
  LG_ASSIGN_OR_RETURN(auto client, crypto::SealedChannel::Create(K, channel_id, server_nonce,
                                                                 crypto::ChannelRole::kClient, {}, clock));
  LG_ASSIGN_OR_RETURN(auto server, crypto::SealedChannel::Create(K, channel_id, server_nonce,
                                                                 crypto::ChannelRole::kServer, {}, clock));
  for (auto& e : doc.at("envelopes")) {
    now = e.at("timestamp_ms").get<std::int64_t>();
    auto& sender = e.at("direction").get<int>() == 1 ? client : server;
    if (sender.next_send_sequence() != e.at("sequence").get<std::uint64_t>()) {
      return Status::Internal("vectors.sequence", "envelopes must be listed in each direction's order");
    }
    LG_ASSIGN_OR_RETURN(auto wire, protocol::SealToWire(sender, crypto::AsBytes(e.at("body_utf8").get<std::string>())));
    e["wire"] = crypto::Base64UrlEncode(wire);
    e["gcm_nonce"] = HexEncode(crypto::ByteView(wire).subspan(crypto::kSealHeaderSize, crypto::kAeadNonceSize));
  }
  return Status::Ok();
}

}  // namespace livegate::vectors
