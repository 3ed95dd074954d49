#pragma once
// Internal to server/store: the sessions row as every session query selects and reads it.
#include <string>

#include <pqxx/pqxx>

#include "server/store/types.hpp"

namespace vigil::store {

/// The columns of `sessions s` readSession() expects, in order (28 columns).
extern const std::string kSessionColumns;
SessionRecord readSession(const pqxx::row& r);
/// A session_events row selected as: id, session_id::text, at (RFC 3339), offset_ms, kind, text,
/// details::text.
SessionEvent readEvent(const pqxx::row& r);

}  // namespace vigil::store
