#include "livegate/status.h"

#include <gtest/gtest.h>

namespace livegate {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::BadInput("number.not_positive", "expected a positive number");
  return v;
}

Result<int> Twice(int v) {
  LG_ASSIGN_OR_RETURN(int x, ParsePositive(v));
  return 2 * x;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "Ok");
}

TEST(StatusTest, CarriesCodeReasonAndMessage) {
  Status s = Status::BadInput("image.truncated", "the file ends early");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kBadInput);
  EXPECT_EQ(s.reason(), "image.truncated");
  EXPECT_EQ(s.ToString(), "BadInput(image.truncated): the file ends early");
}

TEST(ResultTest, PropagatesErrorsThroughAssignOrReturn) {
  auto good = Twice(4);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 8);
  auto bad = Twice(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().reason(), "number.not_positive");
}

}  // namespace
}  // namespace livegate
