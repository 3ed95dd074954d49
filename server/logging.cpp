#include "server/logging.hpp"

#include <sys/stat.h>

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace vigil {

void setupLogging(const Config& cfg, bool to_file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (to_file && cfg.log.file != "-") {
    auto file = cfg.log.file.empty() ? (cfg.data_dir / "logs/vigil.log").string() : cfg.log.file;
    // Logs name users, addresses and refusal reasons: readable by the service account only.
    const auto dir = std::filesystem::path(file).parent_path();
    std::filesystem::create_directories(dir);
    if (!cfg.log.file.empty()) {
      // an operator-chosen location: leave its directory's mode alone
    } else {
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, std::filesystem::perm_options::replace);
    }
    const mode_t old_mask = ::umask(077);
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file, 10 * 1024 * 1024, 5));
    ::umask(old_mask);
    std::error_code ec;
    std::filesystem::permissions(file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::replace, ec);
  }
  auto logger = std::make_shared<spdlog::logger>("vigil", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(cfg.log.level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace vigil
