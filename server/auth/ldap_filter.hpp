#pragma once
// Building LDAP search filters from templates without letting user input change their structure.
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace vigil::auth {

/// Escapes a value for use inside an LDAP filter assertion (RFC 4515): `*`, `(`, `)`, `\` and
/// NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`. Everything else (UTF-8 included) is kept.
std::string escapeFilterValue(std::string_view value);

/// Replaces each `{name}` in `tmpl` with the escaped value of `name` (e.g. {"username", "bob"}).
/// Single pass: a value containing `{dn}` is not expanded again. Unknown placeholders are kept.
std::string expandFilter(std::string_view tmpl,
                         std::initializer_list<std::pair<std::string_view, std::string_view>> vars);

}  // namespace vigil::auth
