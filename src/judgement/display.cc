// The display report of an actions+light capture (issue 15): what the
// client drew full-screen and when, checked against the challenge's colour
// sequence and used to align the light check (R-SRV-ASJ-1, R-ASD-4: the
// active light challenge is judged on the sequence as it was shown).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "judgement/judgement.h"

namespace livegate::judgement {
namespace {

struct Expected {
  std::int64_t t_ms = 0;
  const ColourStep* colour = nullptr;  // nullptr: the overlay off
};

std::string Describe(const ColourStep* c) {
  if (c == nullptr) return "none";
  char hex[8];
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", c->r, c->g, c->b);
  return hex;
}
std::string Describe(const DisplayChange& d) {
  if (!d.lit) return "none";
  char hex[8];
  std::snprintf(hex, sizeof hex, "#%02x%02x%02x", d.r, d.g, d.b);
  return hex;
}

Status Refuse(const char* reason, const std::string& message) { return Status::BadInput(reason, message); }

}  // namespace

Result<DisplayAlignment> AlignDisplay(const Challenge& challenge,
                                      const std::optional<std::vector<DisplayChange>>& display,
                                      std::span<const std::int64_t> frame_times_ms,
                                      const Policy& policy) {
  DisplayAlignment out;
  out.drawn = challenge;
  if (challenge.colours.empty()) {
    if (display) {
      return Refuse("display.unexpected", "the capture reports screen colours but the challenge shows none");
    }
    return out;
  }
  if (!display) {
    return Refuse("display.missing",
                  "an actions+light capture must report the colours drawn and when (capture.display)");
  }
  out.reported = true;
  if (frame_times_ms.empty()) return out;  // the capture check refuses it (capture.no_frames)
  const std::int64_t tol = policy.replay.display_tolerance_ms;
  const std::int64_t t0 = frame_times_ms.front();
  std::int64_t last = 0;
  for (const std::int64_t t : frame_times_ms) last = std::max(last, t - t0);

  // The sequence as the challenge sets it, change by change.
  std::vector<const ColourStep*> colours;
  for (const auto& c : challenge.colours) colours.push_back(&c);
  std::stable_sort(colours.begin(), colours.end(),
                   [](const ColourStep* a, const ColourStep* b) { return a->start_ms < b->start_ms; });
  std::vector<Expected> expected;
  std::vector<std::size_t> start_of;  // index in `expected` of each colour's start
  for (std::size_t i = 0; i < colours.size(); ++i) {
    start_of.push_back(expected.size());
    expected.push_back({colours[i]->start_ms, colours[i]});
    if (i + 1 == colours.size() || colours[i + 1]->start_ms > colours[i]->end_ms) {
      expected.push_back({colours[i]->end_ms, nullptr});
    }
  }
  std::int64_t sequence_end = challenge.duration_ms;
  for (const auto* c : colours) sequence_end = std::max(sequence_end, c->end_ms);
  if (last > sequence_end + tol) {
    return Refuse("display.frames_outside_sequence",
                  "a frame was taken " + std::to_string(last) + " ms after the first, past the challenge's " +
                      std::to_string(sequence_end) + " ms");
  }

  const std::vector<DisplayChange>& got = *display;
  if (got.size() > expected.size()) {
    return Refuse("display.too_many_changes", std::to_string(got.size()) + " screen changes reported, the sequence has " +
                                                  std::to_string(expected.size()));
  }
  std::vector<std::int64_t> drawn_at(expected.size(), -1);
  std::vector<bool> drawn(expected.size(), false);
  for (std::size_t k = 0; k < got.size(); ++k) {
    const Expected& e = expected[k];
    const DisplayChange& d = got[k];
    const bool same = e.colour == nullptr ? !d.lit
                                          : d.lit && d.r == e.colour->r && d.g == e.colour->g && d.b == e.colour->b;
    const std::int64_t t = d.t_ms - t0;
    if (!same) {
      return Refuse("display.colour_mismatch", "change " + std::to_string(k) + " drew " + Describe(d) + " at " +
                                                   std::to_string(t) + " ms; the challenge shows " +
                                                   Describe(e.colour) + " from " + std::to_string(e.t_ms) + " ms");
    }
    if (t < -tol || t > last + tol) {
      return Refuse("display.outside_capture", "change " + std::to_string(k) + " (" + Describe(d) + ") drawn at " +
                                                   std::to_string(t) + " ms, outside the frames (0.." +
                                                   std::to_string(last) + " ms)");
    }
    const std::int64_t offset = t - e.t_ms;
    if (std::llabs(offset) > tol) {
      return Refuse("display.timing_mismatch", "change " + std::to_string(k) + " (" + Describe(d) + ") drawn at " +
                                                   std::to_string(t) + " ms; the challenge sets " +
                                                   std::to_string(e.t_ms) + " ms (tolerance " + std::to_string(tol) +
                                                   " ms)");
    }
    out.max_offset_ms = std::max<std::int64_t>(out.max_offset_ms, std::llabs(offset));
    drawn_at[k] = t;
    drawn[k] = true;
  }
  for (std::size_t k = got.size(); k < expected.size(); ++k) {
    // A change the capture ended before is not needed; one with frames
    // taken well after it is.
    if (expected[k].t_ms + tol < last) {
      return Refuse("display.incomplete", "change " + std::to_string(k) + " (" + Describe(expected[k].colour) +
                                              " at " + std::to_string(expected[k].t_ms) +
                                              " ms) was not reported, frames go on to " + std::to_string(last) + " ms");
    }
  }

  // The colour windows as drawn: from the change that put each colour up
  // to the next change drawn (or the nominal end when the capture ended
  // before it).
  out.drawn.colours.clear();
  for (std::size_t i = 0; i < colours.size(); ++i) {
    const std::size_t k = start_of[i];
    if (!drawn[k]) continue;  // never shown within the capture
    ColourStep c = *colours[i];
    c.start_ms = std::max<std::int64_t>(0, drawn_at[k]);
    c.end_ms = k + 1 < expected.size() && drawn[k + 1] ? drawn_at[k + 1] : colours[i]->end_ms;
    if (c.end_ms <= c.start_ms) continue;  // no frame can fall in it
    out.drawn.colours.push_back(c);
  }
  // No colour was up while frames were taken: keep the nominal windows, so
  // the light check still runs (and finds no response) instead of being
  // skipped for want of colours.
  if (out.drawn.colours.empty()) out.drawn.colours = challenge.colours;
  return out;
}

}  // namespace livegate::judgement
