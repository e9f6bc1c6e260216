// Strict JSON codec helpers: every rejection has its own reason.
#include "protocol/codec.h"

#include <gtest/gtest.h>

#include "crypto/kdf.h"

namespace livegate::protocol {
namespace {

TEST(CodecTest, ParsesObject) {
  auto doc = ParseJsonObject(R"({"a":"x","n":3})");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ((*doc)["n"], 3);
}

TEST(CodecTest, ParseRejections) {
  JsonLimits small;
  small.max_bytes = 10;
  auto big = ParseJsonObject(R"({"a":"0123456789"})", small);
  EXPECT_EQ(big.status().reason(), "codec.too_large");
  EXPECT_EQ(big.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(ParseJsonObject("{\"a\":").status().reason(), "codec.bad_json");
  EXPECT_EQ(ParseJsonObject("").status().reason(), "codec.bad_json");
  EXPECT_EQ(ParseJsonObject("[1,2]").status().reason(), "codec.not_object");
  EXPECT_EQ(ParseJsonObject("\"str\"").status().reason(), "codec.not_object");
  EXPECT_EQ(ParseJsonObject(R"({"a":1,"a":2})").status().reason(), "codec.duplicate_key");
  EXPECT_EQ(ParseJsonObject(R"({"o":{"a":1,"a":2}})").status().reason(), "codec.duplicate_key");
  // Same key in sibling objects is fine.
  EXPECT_TRUE(ParseJsonObject(R"({"x":{"a":1},"y":{"a":2}})").ok());
  EXPECT_EQ(ParseJsonObject(std::string(1000, '[') + std::string(1000, ']')).status().reason(),
            "codec.too_deep");
  // Brackets inside strings do not count as nesting.
  EXPECT_TRUE(ParseJsonObject(R"({"s":"[[[[[[[[[[[[[[[[[[[[\"]"})").ok());
}

TEST(CodecTest, ReaderHappyPath) {
  auto doc = ParseJsonObject(
      R"({"account_id":"alice","count":3,"ok":true,"score":0.5,"A":"AQID","kind":"face",)"
      R"("meta":{"k":1},"list":[1,2]})");
  ASSERT_TRUE(doc.ok());
  ObjectReader r(*doc, "msg");
  EXPECT_EQ(*r.String("account_id", 1, 64), "alice");
  EXPECT_EQ(*r.Integer("count", 0, 10), 3);
  EXPECT_TRUE(*r.Bool("ok"));
  EXPECT_DOUBLE_EQ(*r.Number("score", 0, 1), 0.5);
  EXPECT_EQ(*r.Base64Url("A", 3, 3), (crypto::Bytes{1, 2, 3}));
  EXPECT_EQ(*r.Enum("kind", {"face", "voice"}), "face");
  EXPECT_EQ((**r.Object("meta"))["k"], 1);
  EXPECT_EQ((*r.Array("list", 2))->size(), 2u);
  EXPECT_FALSE(r.OptionalString("absent", 0, 5)->has_value());
  EXPECT_TRUE(r.Finish().ok());
}

TEST(CodecTest, ReaderRejections) {
  auto doc = ParseJsonObject(
      R"({"s":"toolong","n":"3","i":11,"f":1.5,"b":"AQID","bad":"a+b=","kind":"x","arr":[1,2,3],"extra":1,"nul":null})");
  ASSERT_TRUE(doc.ok());
  ObjectReader r(*doc, "msg");
  EXPECT_EQ(r.String("missing", 0, 5).status().reason(), "codec.missing_field");
  EXPECT_EQ(r.String("nul", 0, 5).status().reason(), "codec.missing_field");
  auto s = r.String("s", 1, 3);
  EXPECT_EQ(s.status().reason(), "codec.string_length");
  EXPECT_NE(s.status().message().find("msg.s"), std::string::npos);
  EXPECT_EQ(r.Integer("n", 0, 5).status().reason(), "codec.wrong_type");
  EXPECT_EQ(r.Integer("i", 0, 10).status().reason(), "codec.out_of_range");
  EXPECT_EQ(r.Integer("f", 0, 10).status().reason(), "codec.wrong_type");
  EXPECT_EQ(r.Bool("s").status().reason(), "codec.wrong_type");
  EXPECT_EQ(r.Base64Url("b", 2).status().reason(), "codec.field_too_large");
  EXPECT_EQ(r.Base64Url("b", 10, 4).status().reason(), "codec.field_too_small");
  EXPECT_EQ(r.Base64Url("bad", 10).status().reason(), "codec.bad_base64url");
  EXPECT_EQ(r.Enum("kind", {"face"}).status().reason(), "codec.bad_enum");
  EXPECT_EQ(r.Array("arr", 2).status().reason(), "codec.too_many_items");
  EXPECT_EQ(r.Object("arr").status().reason(), "codec.wrong_type");
  const Status fin = r.Finish();
  EXPECT_EQ(fin.reason(), "codec.unknown_field");
  EXPECT_NE(fin.message().find("extra"), std::string::npos);
}

TEST(CodecTest, Base64UrlTextLengthCheckedBeforeDecoding) {
  nlohmann::json j = {{"blob", std::string(5000, 'A')}};
  ObjectReader r(j, "m");
  EXPECT_EQ(r.Base64Url("blob", 1024).status().reason(), "codec.field_too_large");
}

}  // namespace
}  // namespace livegate::protocol
