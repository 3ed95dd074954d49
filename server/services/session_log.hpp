#pragma once
// The "sessions" logger (gatekeeper, recorder, event writer): the default logger's sinks under
// its own name. Lines about one session carry `session=<id>`. Never pass keystrokes, command
// texts, passwords or tokens to it.
#include <memory>

#include <spdlog/spdlog.h>

namespace vigil::services {

inline std::shared_ptr<spdlog::logger> sessionLog() {
  if (auto l = spdlog::get("sessions")) return l;
  auto l = spdlog::default_logger()->clone("sessions");
  try {
    spdlog::register_logger(l);
  } catch (const spdlog::spdlog_ex&) {
    if (auto other = spdlog::get("sessions")) return other;  // registered by another thread meanwhile
  }
  return l;
}

}  // namespace vigil::services
