// Reports of evaluation runs: CSV, JSON and one self-contained HTML page
// (inline CSS and SVG, no script, no external resource) that draws DET
// curves on normal-deviate axes as ISO/IEC 19795-1 / 30107-3 reports do.
// Used by `livegate eval verify` and `livegate eval pad`.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/metrics.h"
#include "livegate/status.h"

namespace livegate::eval {

// A named curve plus labelled points to mark on it (EER, operating threshold).
struct DetCurve {
  std::string label;
  std::vector<OperatingPoint> points;                         // from ComputeDet
  std::vector<std::pair<std::string, OperatingPoint>> marks;  // drawn as dots
};

struct DetPlotOptions {
  std::string x_label = "False match rate (FMR)";        // PAD: "APCER"
  std::string y_label = "False non-match rate (FNMR)";   // PAD: "BPCER"
  // Axis range (rates). Points with a rate below min_rate (e.g. 0) are drawn
  // on the axis edge: a normal-deviate axis cannot show 0.
  double min_rate = 1e-4;  // 0.01 %
  double max_rate = 0.5;   // 50 %
  int width = 520;         // SVG pixels
  int height = 520;
};

// Inline <svg> element (no XML prolog) with the curves, their marks, a legend
// and tick labels at 0.01, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 40 %.
std::string DetSvg(const std::vector<DetCurve>& curves, const DetPlotOptions& options = {});

// CSV, one row per point:
//   curve,threshold,far,frr,false_accepts,negatives,false_rejects,positives
// (thresholds of the accept-all / reject-all ends print as -inf / inf).
std::string DetCsv(const std::vector<DetCurve>& curves);

// A plain table (the per-source summary rows).
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
};
std::string TableCsv(const Table& table);   // RFC 4180 quoting
std::string TableText(const Table& table);  // aligned columns for a terminal

// A self-contained HTML page built in order of the Add* calls.
class HtmlReport {
 public:
  explicit HtmlReport(std::string title);
  void AddHeading(const std::string& text);
  void AddParagraph(const std::string& text);   // escaped
  void AddPreformatted(const std::string& text);  // escaped, in <pre>
  void AddTable(const std::string& caption, const Table& table);
  void AddDetPlot(const std::string& caption, const std::vector<DetCurve>& curves,
                  const DetPlotOptions& options = {});
  // An inline <svg> built by the caller (trusted markup, not escaped).
  void AddFigure(const std::string& caption, const std::string& svg);
  std::string Render() const;

 private:
  std::string title_;
  std::string body_;
};

std::string HtmlEscape(const std::string& text);

// "1.23 %" with `digits` decimals; "n/a" for NaN.
std::string FormatPercent(double rate, int digits = 2);

// JSON forms (infinite thresholds become the strings "-inf" / "inf").
nlohmann::json ToJson(const OperatingPoint& point);
nlohmann::json ToJson(const EerResult& eer);
nlohmann::json ToJson(const VerificationSummary& summary);
nlohmann::json ToJson(const PadAtThreshold& pad);
// `label`: the policy tiers that use the target (e.g. "low, medium").
nlohmann::json ToJson(const FmrTargetPoint& point, const std::string& label);

// Writes `content` to `path`, creating parent folders.
// Reason: eval.write_failed.
Status WriteTextFile(const std::filesystem::path& path, const std::string& content);

}  // namespace livegate::eval
