#pragma once
// The RDP proxy's logger ("rdp"). Lines inside a session carry session=<id>.
#include <memory>

#include <spdlog/spdlog.h>

namespace vigil::rdp {

std::shared_ptr<spdlog::logger> rdpLog();

}  // namespace vigil::rdp
