// Strip plots of per-threshold critical values (see pad_report.h).
#include "eval/pad_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

#include "eval/report.h"

namespace livegate::eval {
namespace {

std::string Num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.3g", v);
  return b;
}

const char* LaneColour(const std::string& label) {
  if (label == "bona_fide") return "#2a7d2a";
  if (label == "replay") return "#c0392b";
  if (label == "print") return "#8e44ad";
  if (label == "photo") return "#d35400";
  if (label == "deepfake") return "#2c3e50";
  return "#7f8c8d";
}

}  // namespace

std::string ThresholdStripSvg(const std::string& title, const std::vector<ThresholdSample>& samples,
                              Strictness strictness, const std::vector<StripMark>& marks, int width) {
  width = std::max(width, 480);
  // Lanes: bona fide first, then the attack types in name order.
  std::vector<std::string> lanes = {"bona_fide"};
  for (const auto& s : samples) {
    if (std::find(lanes.begin(), lanes.end(), s.label) == lanes.end()) lanes.push_back(s.label);
  }
  std::sort(lanes.begin() + 1, lanes.end());
  double lo = 1e300, hi = -1e300;
  for (const auto& s : samples) {
    if (s.kind == ThresholdSample::Kind::kValue && std::isfinite(s.value)) lo = std::min(lo, s.value), hi = std::max(hi, s.value);
  }
  for (const auto& m : marks) {
    if (std::isfinite(m.value)) lo = std::min(lo, m.value), hi = std::max(hi, m.value);
  }
  if (lo > hi) lo = 0, hi = 1;
  if (hi - lo < 1e-9) lo -= 0.5, hi += 0.5;
  const double pad = 0.05 * (hi - lo);
  lo -= pad, hi += pad;
  const int left = 90, right = 200, top = 34, lane_h = 26;
  const int pw = width - left - right;
  const int height = top + lane_h * int(lanes.size()) + 44;
  auto X = [&](double v) { return left + (v - lo) / (hi - lo) * pw; };
  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" font-family=\"sans-serif\" font-size=\"11\">\n";
  s << "<text x=\"4\" y=\"14\" font-weight=\"bold\">" << HtmlEscape(title) << "</text>\n";
  s << "<text x=\"" << left + pw << "\" y=\"28\" text-anchor=\"end\" fill=\"#555\">"
    << (strictness == Strictness::kHigherRefusesMore ? "threshold &#8594; refuses more" : "&#8592; refuses more") << "</text>\n";
  std::map<std::string, std::pair<int, int>> other;  // lane -> (always passes, always refused)
  for (std::size_t l = 0; l < lanes.size(); ++l) {
    const int y = top + lane_h * int(l);
    s << "<rect x=\"" << left << "\" y=\"" << y << "\" width=\"" << pw << "\" height=\"" << lane_h - 4
      << "\" fill=\"" << (l % 2 ? "#f4f4f4" : "#fafafa") << "\"/>\n";
    s << "<text x=\"" << left - 6 << "\" y=\"" << y + lane_h / 2 + 2 << "\" text-anchor=\"end\">"
      << HtmlEscape(lanes[l] == "bona_fide" ? "bona fide" : lanes[l]) << "</text>\n";
  }
  // Dots, jittered vertically by order so equal values stay visible.
  std::map<std::string, int> seen;
  for (const auto& smp : samples) {
    const auto lane = std::size_t(std::find(lanes.begin(), lanes.end(), smp.label) - lanes.begin());
    if (smp.kind != ThresholdSample::Kind::kValue || !std::isfinite(smp.value)) {
      auto& o = other[smp.label];
      (smp.kind == ThresholdSample::Kind::kAlwaysRefused ? o.second : o.first)++;
      continue;
    }
    const int k = seen[smp.label]++;
    const double y = top + lane_h * double(lane) + 5 + (k % 5) * 3.6;
    s << "<circle cx=\"" << X(smp.value) << "\" cy=\"" << y << "\" r=\"3.2\" fill=\"" << LaneColour(smp.label)
      << "\" fill-opacity=\"0.8\"><title>" << HtmlEscape(smp.session + " (" + smp.source + "): " + Num(smp.value))
      << "</title></circle>\n";
  }
  for (std::size_t l = 0; l < lanes.size(); ++l) {
    const auto it = other.find(lanes[l]);
    if (it == other.end()) continue;
    const int y = top + lane_h * int(l) + lane_h / 2 + 2;
    s << "<text x=\"" << left + pw + 6 << "\" y=\"" << y << "\" fill=\"#555\">" << it->second.first << " unmoved, "
      << it->second.second << " refused anyway</text>\n";
  }
  // Threshold lines and legend.
  const int bottom = top + lane_h * int(lanes.size());
  int ly = bottom + 14;
  int lx = left;
  for (const auto& m : marks) {
    if (!std::isfinite(m.value)) continue;
    s << "<line x1=\"" << X(m.value) << "\" y1=\"" << top - 2 << "\" x2=\"" << X(m.value) << "\" y2=\"" << bottom
      << "\" stroke=\"" << m.colour << "\" stroke-width=\"1.6\" stroke-opacity=\"" << m.opacity << "\""
      << (m.dashed ? " stroke-dasharray=\"5,3\"" : "") << "><title>" << HtmlEscape(m.label + ": " + Num(m.value))
      << "</title></line>\n";
  }
  // Axis ticks: 5 evenly spaced values.
  for (int t = 0; t <= 4; ++t) {
    const double v = lo + (hi - lo) * t / 4.0;
    s << "<text x=\"" << X(v) << "\" y=\"" << bottom + 10 << "\" text-anchor=\"middle\" fill=\"#555\">" << Num(v)
      << "</text>\n";
  }
  ly = bottom + 28;
  std::map<std::string, bool> legend_done;
  for (const auto& m : marks) {
    const std::string key = m.label.substr(0, m.label.find(':'));
    if (legend_done[key]) continue;
    legend_done[key] = true;
    s << "<line x1=\"" << lx << "\" y1=\"" << ly - 4 << "\" x2=\"" << lx + 18 << "\" y2=\"" << ly - 4 << "\" stroke=\""
      << m.colour << "\" stroke-width=\"2\"" << (m.dashed ? " stroke-dasharray=\"5,3\"" : "") << "/>\n";
    s << "<text x=\"" << lx + 22 << "\" y=\"" << ly << "\">" << HtmlEscape(key) << "</text>\n";
    lx += 30 + int(key.size()) * 6;
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace livegate::eval
