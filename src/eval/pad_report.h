// Per-threshold score distributions for the `eval pad --cv` HTML report
// (issue 13): a strip plot of the sessions' critical values, one lane for
// the bona fide and one per attack type, with the shipped, calibrated and
// cross-validated thresholds drawn across, so a threshold's margin to the
// nearest bona fide and attack can be seen. Plain SVG, no script.
#pragma once

#include <string>
#include <vector>

#include "eval/calibration.h"

namespace livegate::eval {

struct StripMark {
  std::string label;   // legend text
  double value = 0;
  std::string colour;  // CSS colour
  bool dashed = false;
  double opacity = 1.0;
};

// `samples`: the sessions' critical values (kValue drawn as dots with the
// session id as tooltip; the others counted per lane on the right).
std::string ThresholdStripSvg(const std::string& title, const std::vector<ThresholdSample>& samples,
                              Strictness strictness, const std::vector<StripMark>& marks, int width = 760);

}  // namespace livegate::eval
