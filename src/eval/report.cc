// CSV / JSON / HTML+SVG reports of evaluation runs (see report.h).
#include "eval/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace livegate::eval {
namespace {

std::string Num(double v, int digits = 6) {
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  if (std::isnan(v)) return "nan";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

nlohmann::json Threshold(double t) {
  if (std::isinf(t)) return t > 0 ? "inf" : "-inf";
  return t;
}

// A fixed palette that stays readable in print.
constexpr const char* kColours[] = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd",
                                    "#ff7f0e", "#8c564b", "#e377c2", "#17becf"};

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string FormatPercent(double rate, int digits) {
  if (std::isnan(rate)) return "n/a";
  return Fixed(rate * 100.0, digits) + " %";
}

std::string DetSvg(const std::vector<DetCurve>& curves, const DetPlotOptions& o) {
  const double lo = Probit(o.min_rate);
  const double hi = Probit(o.max_rate);
  const int left = 64, right = 16, top = 16, bottom = 52;
  const double pw = o.width - left - right;
  const double ph = o.height - top - bottom;
  auto clamp_rate = [&](double r) { return std::clamp(r, o.min_rate, o.max_rate); };
  auto sx = [&](double rate) { return left + (Probit(clamp_rate(rate)) - lo) / (hi - lo) * pw; };
  auto sy = [&](double rate) { return top + ph - (Probit(clamp_rate(rate)) - lo) / (hi - lo) * ph; };

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << o.width << "\" height=\"" << o.height
    << "\" viewBox=\"0 0 " << o.width << ' ' << o.height
    << "\" font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\n";
  s << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << pw << "\" height=\"" << ph
    << "\" fill=\"#fff\" stroke=\"#333\"/>\n";
  // Grid and tick labels on normal-deviate positions.
  const double ticks[] = {1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4, 0.5};
  for (double t : ticks) {
    if (t < o.min_rate || t > o.max_rate) continue;
    const std::string label = t < 0.001 ? Num(t * 100, 2) : Num(t * 100, 3);
    const double x = sx(t), y = sy(t);
    s << "<line x1=\"" << Fixed(x, 1) << "\" y1=\"" << top << "\" x2=\"" << Fixed(x, 1) << "\" y2=\""
      << top + ph << "\" stroke=\"#ddd\"/>\n";
    s << "<line x1=\"" << left << "\" y1=\"" << Fixed(y, 1) << "\" x2=\"" << left + pw << "\" y2=\""
      << Fixed(y, 1) << "\" stroke=\"#ddd\"/>\n";
    s << "<text x=\"" << Fixed(x, 1) << "\" y=\"" << top + ph + 14 << "\" text-anchor=\"middle\">"
      << label << "</text>\n";
    s << "<text x=\"" << left - 4 << "\" y=\"" << Fixed(y + 4, 1) << "\" text-anchor=\"end\">" << label
      << "</text>\n";
  }
  // The EER diagonal.
  s << "<line x1=\"" << Fixed(sx(o.min_rate), 1) << "\" y1=\"" << Fixed(sy(o.min_rate), 1) << "\" x2=\""
    << Fixed(sx(o.max_rate), 1) << "\" y2=\"" << Fixed(sy(o.max_rate), 1)
    << "\" stroke=\"#aaa\" stroke-dasharray=\"4 3\"/>\n";
  s << "<text x=\"" << left + pw / 2 << "\" y=\"" << o.height - 22 << "\" text-anchor=\"middle\">"
    << HtmlEscape(o.x_label) << " (%)</text>\n";
  s << "<text transform=\"translate(14," << top + ph / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << HtmlEscape(o.y_label) << " (%)</text>\n";

  for (std::size_t i = 0; i < curves.size(); ++i) {
    const auto& c = curves[i];
    const char* colour = kColours[i % std::size(kColours)];
    s << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.6\" points=\"";
    for (const auto& p : c.points) s << Fixed(sx(p.far), 1) << ',' << Fixed(sy(p.frr), 1) << ' ';
    s << "\"><title>" << HtmlEscape(c.label) << "</title></polyline>\n";
    for (const auto& [name, p] : c.marks) {
      s << "<circle cx=\"" << Fixed(sx(p.far), 1) << "\" cy=\"" << Fixed(sy(p.frr), 1)
        << "\" r=\"3.5\" fill=\"" << colour << "\"><title>" << HtmlEscape(c.label + ": " + name)
        << " (" << FormatPercent(p.far) << ", " << FormatPercent(p.frr) << ")</title></circle>\n";
    }
    // Legend, top right inside the plot.
    const double ly = top + 14 + 14.0 * i;
    s << "<line x1=\"" << left + pw - 150 << "\" y1=\"" << ly - 4 << "\" x2=\"" << left + pw - 132
      << "\" y2=\"" << ly - 4 << "\" stroke=\"" << colour << "\" stroke-width=\"2\"/>\n";
    s << "<text x=\"" << left + pw - 128 << "\" y=\"" << ly << "\">" << HtmlEscape(c.label)
      << "</text>\n";
  }
  s << "</svg>\n";
  return s.str();
}

std::string DetCsv(const std::vector<DetCurve>& curves) {
  std::ostringstream s;
  s << "curve,threshold,far,frr,false_accepts,negatives,false_rejects,positives\n";
  for (const auto& c : curves) {
    for (const auto& p : c.points) {
      s << CsvField(c.label) << ',' << Num(p.threshold, 9) << ',' << Num(p.far, 9) << ','
        << Num(p.frr, 9) << ',' << p.false_accepts << ',' << p.negatives << ',' << p.false_rejects
        << ',' << p.positives << '\n';
    }
  }
  return s.str();
}

std::string TableCsv(const Table& table) {
  std::ostringstream s;
  auto row = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) s << (i ? "," : "") << CsvField(r[i]);
    s << '\n';
  };
  row(table.header);
  for (const auto& r : table.rows) row(r);
  return s.str();
}

std::string TableText(const Table& table) {
  std::vector<std::size_t> width(table.header.size(), 0);
  auto grow = [&](const std::vector<std::string>& r) {
    if (r.size() > width.size()) width.resize(r.size(), 0);
    for (std::size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  };
  grow(table.header);
  for (const auto& r : table.rows) grow(r);
  std::ostringstream s;
  auto row = [&](const std::vector<std::string>& r) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i) s << "  ";
      s << r[i];
      if (i + 1 < r.size()) s << std::string(width[i] - r[i].size(), ' ');
    }
    s << '\n';
  };
  row(table.header);
  for (const auto& r : table.rows) row(r);
  return s.str();
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {}

void HtmlReport::AddHeading(const std::string& text) { body_ += "<h2>" + HtmlEscape(text) + "</h2>\n"; }
void HtmlReport::AddParagraph(const std::string& text) { body_ += "<p>" + HtmlEscape(text) + "</p>\n"; }
void HtmlReport::AddPreformatted(const std::string& text) {
  body_ += "<pre>" + HtmlEscape(text) + "</pre>\n";
}

void HtmlReport::AddTable(const std::string& caption, const Table& table) {
  std::string h = "<table>\n";
  if (!caption.empty()) h += "<caption>" + HtmlEscape(caption) + "</caption>\n";
  h += "<tr>";
  for (const auto& c : table.header) h += "<th>" + HtmlEscape(c) + "</th>";
  h += "</tr>\n";
  for (const auto& r : table.rows) {
    h += "<tr>";
    for (const auto& c : r) h += "<td>" + HtmlEscape(c) + "</td>";
    h += "</tr>\n";
  }
  body_ += h + "</table>\n";
}

void HtmlReport::AddDetPlot(const std::string& caption, const std::vector<DetCurve>& curves,
                            const DetPlotOptions& options) {
  body_ += "<figure>\n" + DetSvg(curves, options);
  if (!caption.empty()) body_ += "<figcaption>" + HtmlEscape(caption) + "</figcaption>\n";
  body_ += "</figure>\n";
}

void HtmlReport::AddFigure(const std::string& caption, const std::string& svg) {
  body_ += "<figure>\n" + svg;
  if (!caption.empty()) body_ += "<figcaption>" + HtmlEscape(caption) + "</figcaption>\n";
  body_ += "</figure>\n";
}

std::string HtmlReport::Render() const {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>" +
         HtmlEscape(title_) +
         "</title>\n<style>\n"
         "body{font-family:sans-serif;margin:2em;max-width:70em;color:#222}\n"
         "table{border-collapse:collapse;margin:1em 0}\n"
         "th,td{border:1px solid #bbb;padding:3px 8px;text-align:right}\n"
         "th{background:#eee}caption{text-align:left;font-weight:bold;padding:4px 0}\n"
         "td:first-child{text-align:left}figure{display:inline-block;margin:1em}\n"
         "pre{background:#f6f6f6;padding:8px;overflow:auto}\n"
         "</style>\n</head>\n<body>\n<h1>" +
         HtmlEscape(title_) + "</h1>\n" + body_ + "</body>\n</html>\n";
}

nlohmann::json ToJson(const OperatingPoint& p) {
  return {{"threshold", Threshold(p.threshold)},
          {"far", p.far},
          {"frr", p.frr},
          {"false_accepts", p.false_accepts},
          {"negatives", p.negatives},
          {"false_rejects", p.false_rejects},
          {"positives", p.positives}};
}

nlohmann::json ToJson(const EerResult& e) {
  return {{"eer", e.eer}, {"threshold", Threshold(e.threshold)}, {"below", ToJson(e.below)},
          {"above", ToJson(e.above)}};
}

nlohmann::json ToJson(const VerificationSummary& s) {
  return {{"genuine", s.genuine},
          {"impostor", s.impostor},
          {"eer", ToJson(s.eer)},
          {"fnmr_at_fmr_1pct", ToJson(s.at_fmr_1pct)},
          {"fnmr_at_fmr_0_1pct", ToJson(s.at_fmr_0_1pct)},
          {"fnmr_at_fmr_0_01pct", ToJson(s.at_fmr_0_01pct)},
          {"at_threshold", ToJson(s.at_threshold)}};
}

nlohmann::json ToJson(const FmrTargetPoint& p, const std::string& label) {
  nlohmann::json j = {{"tiers", label},
                      {"fmr_target", p.target},
                      {"confidence", p.confidence},
                      {"impostors", p.impostors},
                      {"genuine", p.genuine},
                      {"supported", p.supported},
                      {"impostors_needed", p.impostors_needed},
                      {"best_reachable_bound", p.best_reachable_bound},
                      {"point", ToJson(p.point)},
                      {"fmr_upper_bound", p.fmr_upper_bound},
                      {"empirical_only", ToJson(p.empirical)}};
  j["tail_model_threshold"] = p.tail_model_threshold ? nlohmann::json(*p.tail_model_threshold) : nlohmann::json(nullptr);
  j["tail_model_fnmr"] = p.tail_model_fnmr ? nlohmann::json(*p.tail_model_fnmr) : nlohmann::json(nullptr);
  j["tail_model_is_extrapolation"] = true;
  return j;
}

nlohmann::json ToJson(const PadAtThreshold& p) {
  nlohmann::json per_type = nlohmann::json::object();
  for (const auto& [type, apcer] : p.apcer) {
    per_type[type] = {{"apcer", apcer},
                      {"attacks", p.attacks.at(type)},
                      {"accepted", p.attacks_accepted.at(type)}};
  }
  return {{"threshold", Threshold(p.threshold)},
          {"bpcer", p.bpcer},
          {"bona_fide", p.bona_fide},
          {"bona_fide_rejected", p.bona_fide_rejected},
          {"apcer_per_type", per_type},
          {"apcer_max", p.apcer_max},
          {"apcer_max_type", p.apcer_max_type},
          {"apcer_pooled", p.apcer_pooled},
          {"acer", p.acer}};
}

Status WriteTextFile(const std::filesystem::path& path, const std::string& content) {
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) {
    return Status::BadInput("eval.write_failed", "cannot create " + path.parent_path().string() + ": " +
                                                     ec.message());
  }
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << content;
  f.close();
  if (!f) return Status::BadInput("eval.write_failed", "cannot write " + path.string());
  return Status::Ok();
}

}  // namespace livegate::eval
