#include "server/json_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <mutex>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace livegate::server {
namespace {

std::mutex g_mu;
std::shared_ptr<spdlog::logger> g_logger;

std::shared_ptr<spdlog::logger> Logger() {
  std::lock_guard<std::mutex> lock(g_mu);
  if (!g_logger) {
    g_logger = std::make_shared<spdlog::logger>("livegate",
                                                std::make_shared<spdlog::sinks::stdout_sink_mt>());
    g_logger->set_pattern("%v");
    g_logger->set_level(spdlog::level::info);
  }
  return g_logger;
}

std::string NowIso() {
  const auto now = std::chrono::system_clock::now();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(ms % 1000));
  return out;
}

}  // namespace

Status ConfigureJsonLog(std::string_view level, const std::filesystem::path& file) {
  spdlog::level::level_enum lv = spdlog::level::from_str(std::string(level));
  std::shared_ptr<spdlog::logger> logger;
  try {
    if (file.empty()) {
      logger = std::make_shared<spdlog::logger>("livegate",
                                                std::make_shared<spdlog::sinks::stdout_sink_mt>());
    } else {
      // Owner-only (issue 12, finding 6): create it 0600 ourselves and
      // tighten a file left by an older version, before spdlog opens it.
      const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd < 0 || ::fchmod(fd, 0600) != 0) {
        const std::string why = std::strerror(errno);
        if (fd >= 0) ::close(fd);
        return Status::BadInput("config.log_unwritable", "cannot open log " + file.string() + ": " + why);
      }
      ::close(fd);
      logger = std::make_shared<spdlog::logger>(
          "livegate", std::make_shared<spdlog::sinks::basic_file_sink_mt>(file.string()));
    }
  } catch (const std::exception& e) {
    return Status::BadInput("config.log_unwritable", std::string("cannot open log: ") + e.what());
  }
  logger->set_pattern("%v");
  logger->set_level(lv);
  logger->flush_on(spdlog::level::info);
  std::lock_guard<std::mutex> lock(g_mu);
  g_logger = logger;
  return Status::Ok();
}

void LogEvent(LogLevel level, std::string_view event, const nlohmann::json& fields) {
  static const char* kNames[] = {"trace", "debug", "info", "warn", "error"};
  static const spdlog::level::level_enum kLevels[] = {spdlog::level::trace, spdlog::level::debug,
                                                      spdlog::level::info, spdlog::level::warn,
                                                      spdlog::level::err};
  auto logger = Logger();
  const auto lv = kLevels[static_cast<int>(level)];
  if (!logger->should_log(lv)) return;
  nlohmann::json j = nlohmann::json::object();
  j["ts"] = NowIso();
  j["level"] = kNames[static_cast<int>(level)];
  j["event"] = event;
  if (fields.is_object()) {
    for (const auto& [k, v] : fields.items()) j[k] = v;
  }
  logger->log(lv, "{}", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

}  // namespace livegate::server
