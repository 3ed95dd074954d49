#pragma once
// The current screen of a libvterm terminal as ANSI bytes: what a late joiner (a live watcher)
// writes to a blank terminal of the same size to see exactly what the session's person sees
// now — characters, colours and attributes, then the cursor. Small on purpose: one pass over
// the cells, an SGR sequence only where attributes change.
#include <string>

struct VTerm;

namespace vigil::recorder {

/// Clears the receiving terminal, paints every row, and puts the cursor where it is. UTF-8.
/// Not thread-safe with respect to the VTerm (call from the thread that feeds it).
std::string screenSnapshotAnsi(VTerm* vt);

}  // namespace vigil::recorder
