#pragma once
// The access report of issue 8 (who accessed which account on which target, when, for how long,
// under which approval, with risk events and review status) in the forms more than one caller
// writes: the CSV (the portal's download and the evidence bundle) and the report's time bounds.
#include <optional>
#include <string>
#include <vector>

#include "server/store/compliance_types.hpp"

namespace vigil::services {

/// "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS]Z" as seconds since the epoch; `date_only` tells which.
std::optional<long long> parseReportTime(const std::string& s, bool& date_only);
/// Seconds since the epoch as "YYYY-MM-DDTHH:MM:SSZ".
std::string isoTime(long long t);

/// RFC 4180 quoting; a cell starting with = + - @ is prefixed with ' so spreadsheets do not run it.
std::string csvCell(const std::string& v);
const std::vector<std::string>& accessReportColumns();
std::vector<std::string> accessReportCells(const store::AccessReportRow& r);
/// Header line and one line per row, CRLF line ends.
std::string accessReportCsv(const std::vector<store::AccessReportRow>& rows);

}  // namespace vigil::services
