#include "protocols/rdp/rdp_log.hpp"

namespace vigil::rdp {

std::shared_ptr<spdlog::logger> rdpLog() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto l = spdlog::get("proxy.rdp")) return l;
    try {
      // Shares the default logger's sinks (stderr + file when `vigil serve` set them up).
      auto def = spdlog::default_logger();
      auto l = std::make_shared<spdlog::logger>("proxy.rdp", def->sinks().begin(), def->sinks().end());
      l->set_level(def->level());
      l->flush_on(spdlog::level::info);
      spdlog::register_logger(l);
      return l;
    } catch (const spdlog::spdlog_ex&) {
      if (auto l = spdlog::get("proxy.rdp")) return l;
      return spdlog::default_logger();
    }
  }();
  return logger;
}

}  // namespace vigil::rdp
