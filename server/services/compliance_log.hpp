#pragma once
// The "compliance" logger (access requests, retention, legal holds): the default logger's sinks
// under its own name. Reasons and comments are not logged (they are in the audit log).
#include <memory>

#include <spdlog/spdlog.h>

namespace vigil::services {

inline std::shared_ptr<spdlog::logger> complianceLog() {
  if (auto l = spdlog::get("compliance")) return l;
  auto l = spdlog::default_logger()->clone("compliance");
  try {
    spdlog::register_logger(l);
  } catch (const spdlog::spdlog_ex&) {
    if (auto other = spdlog::get("compliance")) return other;
  }
  return l;
}

}  // namespace vigil::services
