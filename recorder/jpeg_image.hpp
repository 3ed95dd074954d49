#pragma once
// A still picture of a graphical session's screen as JPEG (libjpeg-turbo, straight from BGRX):
// what a SOC watcher's browser shows of a live RDP session.
#include <cstdint>
#include <string>

namespace vigil::recorder {

/// Encodes `width` x `height` BGRX pixels (`stride` bytes per row) at `quality` (1-100).
/// Empty with `error` set on failure (bad size, libjpeg error).
std::string encodeJpeg(const std::uint8_t* bgrx, int width, int height, int stride, int quality, std::string& error);

}  // namespace vigil::recorder
