// Reports: CSV quoting, JSON forms, self-contained HTML with an SVG DET.
#include "eval/report.h"

#include <fstream>
#include <limits>
#include <sstream>

#include <gtest/gtest.h>

#include "support/test_data.h"

namespace livegate::eval {
namespace {

DetCurve Curve() {
  ScoreSet s{{0.1, 0.3, 0.5, 0.7}, {0.4, 0.6, 0.8, 0.9, 1.0}, Polarity::kLowerIsPositive};
  DetCurve c;
  c.label = "demo <source>";
  c.points = ComputeDet(s).value();
  c.marks.push_back({"EER", ComputeEer(s)->below});
  return c;
}

TEST(ReportTest, TableCsvQuotesSpecialFields) {
  Table t{{"source", "note"}, {{"a,b", "say \"hi\""}, {"plain", "x"}}};
  EXPECT_EQ(TableCsv(t), "source,note\n\"a,b\",\"say \"\"hi\"\"\"\nplain,x\n");
}

TEST(ReportTest, TableTextAlignsColumns) {
  Table t{{"a", "bb"}, {{"ccc", "d"}}};
  EXPECT_EQ(TableText(t), "a    bb\nccc  d\n");
}

TEST(ReportTest, DetCsvHasOneRowPerPointAndInfiniteEnd) {
  const std::string csv = DetCsv({Curve()});
  std::istringstream in(csv);
  std::string line;
  int rows = 0;
  std::string last;
  std::getline(in, line);
  EXPECT_EQ(line, "curve,threshold,far,frr,false_accepts,negatives,false_rejects,positives");
  while (std::getline(in, line)) {
    ++rows;
    last = line;
  }
  EXPECT_EQ(rows, 10);
  EXPECT_EQ(last, "demo <source>,-inf,0,1,0,5,4,4");
}

TEST(ReportTest, HtmlIsSelfContainedAndEscaped) {
  HtmlReport r("Eval <run>");
  r.AddParagraph("a & b");
  r.AddTable("t", Table{{"x"}, {{"<y>"}}});
  r.AddDetPlot("DET", {Curve()});
  const std::string html = r.Render();
  EXPECT_NE(html.find("<title>Eval &lt;run&gt;</title>"), std::string::npos);
  EXPECT_NE(html.find("<p>a &amp; b</p>"), std::string::npos);
  EXPECT_NE(html.find("<td>&lt;y&gt;</td>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("demo &lt;source&gt;"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find(" src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
}

TEST(ReportTest, SvgPlacesPointsOnNormalDeviateAxes) {
  // With min 1e-4, max 0.5 and a 520 px plot (left 64, right 16): FMR 0.5 is
  // at the right edge x = 504, FMR 1e-4 (or 0, clamped) at the left x = 64.
  DetCurve c;
  c.label = "c";
  OperatingPoint a;
  a.far = 0.5;
  a.frr = 0.0;
  OperatingPoint b;
  b.far = 0.0;
  b.frr = 0.5;
  c.points = {a, b};
  const std::string svg = DetSvg({c});
  EXPECT_NE(svg.find("points=\"504.0,468.0 64.0,16.0 \""), std::string::npos) << svg;
}

TEST(ReportTest, JsonFormsKeepCountsAndInfiniteThresholds) {
  OperatingPoint p;
  p.threshold = -std::numeric_limits<double>::infinity();
  p.far = 0;
  p.frr = 1;
  p.positives = 4;
  p.false_rejects = 4;
  auto j = ToJson(p);
  EXPECT_EQ(j["threshold"], "-inf");
  EXPECT_EQ(j["false_rejects"], 4);
  PadScores pad;
  pad.bona_fide = {0.9};
  pad.attacks["print"] = {0.95, 0.1};
  auto r = PadErrorsAt(pad, 0.5);
  ASSERT_TRUE(r.ok());
  auto jp = ToJson(*r);
  EXPECT_DOUBLE_EQ(jp["apcer_per_type"]["print"]["apcer"].get<double>(), 0.5);
  EXPECT_EQ(jp["apcer_max_type"], "print");
  EXPECT_DOUBLE_EQ(jp["acer"].get<double>(), 0.25);
}

TEST(ReportTest, FormatPercent) {
  EXPECT_EQ(FormatPercent(0.0123), "1.23 %");
  EXPECT_EQ(FormatPercent(0.001, 3), "0.100 %");
}

TEST(ReportTest, WriteTextFileCreatesFoldersAndReportsFailure) {
  const auto dir = livegate::testing::MakeTempDir("eval_report");
  ASSERT_TRUE(WriteTextFile(dir / "a" / "b.txt", "hello").ok());
  std::ifstream f(dir / "a" / "b.txt");
  std::string s;
  std::getline(f, s);
  EXPECT_EQ(s, "hello");
  // A path under a regular file cannot be created.
  EXPECT_EQ(WriteTextFile(dir / "a" / "b.txt" / "c.txt", "x").reason(), "eval.write_failed");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace livegate::eval
