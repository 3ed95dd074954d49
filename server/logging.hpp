#pragma once
#include "server/config.hpp"

namespace vigil {
/// Sends logs to stderr and to log.file (default <data_dir>/logs/vigil.log, rotated at 10 MB x 5).
/// Passwords, keys, tokens and keystrokes must never be passed to a logger.
void setupLogging(const Config& cfg, bool to_file);
}  // namespace vigil
