#pragma once
// Wiping strings that held keystrokes or decrypted recording bytes: the whole capacity, since
// erasing characters in the middle (line editing) leaves their old bytes past the end.
#include <string.h>

#include <string>

namespace vigil::recorder {

inline void wipe(std::string& s) noexcept {
  if (s.capacity()) explicit_bzero(s.data(), s.capacity());
  s.clear();
}

}  // namespace vigil::recorder
