// Structured logs: one JSON object per line (spdlog underneath), so every
// operation can be searched by event, account, reason code. Never log
// biometric data, keys, verifiers or passwords (decision 11.14).
#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "livegate/status.h"

namespace livegate::server {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

// Configures the process-wide JSON logger: level "trace".."error", file
// empty = stdout. Safe to call again (tests).
Status ConfigureJsonLog(std::string_view level, const std::filesystem::path& file);

// {"ts":"2026-11-25T15:00:00.123Z","level":"info","event":"flow.started",...fields}
void LogEvent(LogLevel level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());

}  // namespace livegate::server
