// Challenge drawing, validation and JSON (R-SRV-ASJ-3, R-FLOW-X2,
// decision 11.1). Randomness only from the injected source.
#include <array>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "judgement/judgement.h"

namespace livegate::judgement {
namespace {

using json = nlohmann::json;

constexpr std::array<std::string_view, kActionCount> kActionNames = {
    "blink", "open_mouth", "turn_left", "turn_right", "nod"};

// Uniform integer in [0, n) by rejection sampling (no modulo bias).
std::uint32_t Uniform(const RandomSource& random, std::uint32_t n) {
  if (n <= 1) return 0;
  const std::uint32_t limit = UINT32_MAX - (UINT32_MAX % n);
  for (;;) {
    std::array<std::uint8_t, 4> b{};
    random(b);
    std::uint32_t v = (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) |
                      (std::uint32_t(b[2]) << 8) | b[3];
    if (v < limit) return v % n;
  }
}

struct Rgb { std::uint8_t r, g, b; };
// Saturated colours: their reflection on skin differs most.
constexpr std::array<Rgb, 6> kPalette = {{{255, 0, 0}, {0, 255, 0}, {0, 0, 255},
                                          {255, 255, 0}, {0, 255, 255}, {255, 0, 255}}};

}  // namespace

std::string_view ActionName(Action action) { return kActionNames[static_cast<int>(action)]; }
std::optional<Action> ParseAction(std::string_view name) {
  for (int i = 0; i < kActionCount; ++i) {
    if (kActionNames[i] == name) return static_cast<Action>(i);
  }
  return std::nullopt;
}
std::string_view AsdTypeName(AsdType type) {
  switch (type) {
    case AsdType::kPassive: return "passive";
    case AsdType::kActions: return "actions";
    case AsdType::kActionsLight: return "actions+light";
  }
  return "?";
}
std::optional<AsdType> ParseAsdType(std::string_view name) {
  if (name == "passive") return AsdType::kPassive;
  if (name == "actions") return AsdType::kActions;
  if (name == "actions+light") return AsdType::kActionsLight;
  return std::nullopt;
}

const CheckResult* LivenessVerdict::Find(std::string_view name) const {
  for (const auto& c : checks) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

Result<Challenge> DrawChallenge(const Policy& policy, AsdType type, const RandomSource& random) {
  const ChallengePolicy& cp = policy.challenge;
  if (!random) return Status::InvalidArgument("challenge.no_random_source", "no random source given");
  if (type != AsdType::kPassive && (cp.num_actions < 1 || cp.actions.empty())) {
    return Status::InvalidArgument("challenge.bad_policy", "policy allows no actions for an action challenge");
  }
  if (!cp.allow_repeats && cp.actions.size() < 2 && cp.num_actions > 1) {
    return Status::InvalidArgument("challenge.bad_policy", "one action type cannot fill a sequence without repeats");
  }
  Challenge c;
  std::array<std::uint8_t, 16> id{};
  random(id);
  c.id.reserve(32);
  for (auto b : id) {
    char hex[3];
    std::snprintf(hex, sizeof hex, "%02x", b);
    c.id += hex;
  }
  c.type = type;
  std::int64_t t = cp.lead_in_ms;
  if (type != AsdType::kPassive) {
    std::optional<Action> prev;
    for (int i = 0; i < cp.num_actions; ++i) {
      Action a;
      do {
        a = cp.actions[Uniform(random, static_cast<std::uint32_t>(cp.actions.size()))];
      } while (!cp.allow_repeats && prev && a == *prev);
      const std::int64_t len =
          cp.action_window_ms + Uniform(random, static_cast<std::uint32_t>(cp.window_jitter_ms + 1));
      c.steps.push_back({a, t, t + len});
      t += len;
      prev = a;
    }
  } else {
    t += cp.action_window_ms;
  }
  c.duration_ms = t + cp.window_slack_ms;
  if (type == AsdType::kActionsLight && cp.num_colours > 0) {
    std::optional<std::uint32_t> prev;
    std::int64_t ct = 0;
    for (int i = 0; i < cp.num_colours; ++i) {
      std::uint32_t k;
      do {
        k = Uniform(random, kPalette.size());
      } while (prev && k == *prev);
      c.colours.push_back({kPalette[k].r, kPalette[k].g, kPalette[k].b, ct, ct + cp.colour_step_ms});
      ct += cp.colour_step_ms;
      prev = k;
    }
    c.duration_ms = std::max(c.duration_ms, ct);
  }
  return c;
}

Status ValidateChallenge(const Challenge& c, const Policy& policy) {
  if (c.scripted && !policy.challenge.allow_scripted) {
    return Status(StatusCode::kPermissionDenied, "challenge.scripted_not_allowed",
                  "a scripted challenge is for tests and evaluation only; this policy refuses it");
  }
  if (c.steps.size() > 16) return Status::BadInput("challenge.too_many_steps", "more than 16 actions");
  std::int64_t prev_start = INT64_MIN;
  for (const auto& s : c.steps) {
    if (s.start_ms < 0 || s.end_ms <= s.start_ms || s.start_ms < prev_start) {
      return Status::BadInput("challenge.bad_window", "action windows must be non-empty and ordered");
    }
    prev_start = s.start_ms;
  }
  for (const auto& s : c.colours) {
    if (s.start_ms < 0 || s.end_ms <= s.start_ms) {
      return Status::BadInput("challenge.bad_window", "colour windows must be non-empty");
    }
  }
  if (c.type != AsdType::kPassive && c.steps.empty()) {
    return Status::BadInput("challenge.bad_window", "an action challenge without actions");
  }
  return Status::Ok();
}

std::string ChallengeToJson(const Challenge& c) {
  json j;
  j["id"] = c.id;
  if (!c.bound_nonce.empty()) j["bound_nonce"] = c.bound_nonce;
  j["type"] = std::string(AsdTypeName(c.type));
  j["duration_ms"] = c.duration_ms;
  j["steps"] = json::array();
  for (const auto& s : c.steps) {
    j["steps"].push_back({{"action", std::string(ActionName(s.action))}, {"start_ms", s.start_ms},
                          {"end_ms", s.end_ms}});
  }
  if (!c.colours.empty()) {
    j["colours"] = json::array();
    for (const auto& s : c.colours) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "#%02x%02x%02x", s.r, s.g, s.b);
      j["colours"].push_back({{"rgb", hex}, {"start_ms", s.start_ms}, {"end_ms", s.end_ms}});
    }
  }
  if (c.scripted) j["scripted"] = true;
  return j.dump();
}

Result<Challenge> ChallengeFromJson(std::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::BadInput("challenge.bad_json", "challenge is not a JSON object");
  auto bad = [](std::string reason, std::string msg) { return Status::BadInput(std::move(reason), std::move(msg)); };
  Challenge c;
  try {
    c.id = j.value("id", std::string());
    c.bound_nonce = j.value("bound_nonce", std::string());
    auto type = ParseAsdType(j.value("type", std::string("actions")));
    if (!type) return bad("challenge.bad_type", "unknown ASD type");
    c.type = *type;
    c.duration_ms = j.value("duration_ms", std::int64_t{0});
    c.scripted = j.value("scripted", false);
    if (j.contains("steps")) {
      if (!j["steps"].is_array()) return bad("challenge.bad_json", "steps must be an array");
      for (const auto& s : j["steps"]) {
        auto a = ParseAction(s.at("action").get<std::string>());
        if (!a) return bad("challenge.bad_action", "unknown action " + s.at("action").dump());
        c.steps.push_back({*a, s.at("start_ms").get<std::int64_t>(), s.at("end_ms").get<std::int64_t>()});
      }
    }
    if (j.contains("colours")) {
      for (const auto& s : j["colours"]) {
        std::string rgb = s.at("rgb").get<std::string>();
        unsigned r, g, b;
        if (rgb.size() != 7 || std::sscanf(rgb.c_str(), "#%02x%02x%02x", &r, &g, &b) != 3) {
          return bad("challenge.bad_json", "colour must be #rrggbb");
        }
        c.colours.push_back({std::uint8_t(r), std::uint8_t(g), std::uint8_t(b),
                             s.at("start_ms").get<std::int64_t>(), s.at("end_ms").get<std::int64_t>()});
      }
    }
  } catch (const json::exception& e) {
    return bad("challenge.bad_json", std::string("challenge field missing or mistyped: ") + e.what());
  }
  for (const auto& s : c.steps) {
    if (s.end_ms <= s.start_ms || s.start_ms < 0) return bad("challenge.bad_window", "empty or negative window");
  }
  if (c.duration_ms <= 0) {
    for (const auto& s : c.steps) c.duration_ms = std::max(c.duration_ms, s.end_ms);
    for (const auto& s : c.colours) c.duration_ms = std::max(c.duration_ms, s.end_ms);
  }
  return c;
}

}  // namespace livegate::judgement
