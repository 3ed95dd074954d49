#include "server/logging.hpp"

#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace vigil {

void setupLogging(const Config& cfg, bool to_file) {
  std::vector<spdlog::sink_ptr> sinks;
  sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  if (to_file && cfg.log.file != "-") {
    auto file = cfg.log.file.empty() ? (cfg.data_dir / "logs/vigil.log").string() : cfg.log.file;
    std::filesystem::create_directories(std::filesystem::path(file).parent_path());
    sinks.push_back(std::make_shared<spdlog::sinks::rotating_file_sink_mt>(file, 10 * 1024 * 1024, 5));
  }
  auto logger = std::make_shared<spdlog::logger>("vigil", sinks.begin(), sinks.end());
  logger->set_level(spdlog::level::from_str(cfg.log.level));
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace vigil
