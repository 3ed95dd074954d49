#pragma once
// Runs helper programs (PostgreSQL's initdb/pg_ctl) without a shell: argv in, exit code and
// combined output out.
#include <string>
#include <vector>

namespace vigil {

struct ProcessResult {
  int exit_code = -1;   // -1 when it could not be started or was killed by a signal
  std::string output;   // stdout + stderr
};

/// Runs argv[0] (absolute path or found in PATH) and waits. Thread-safe.
ProcessResult runProcess(const std::vector<std::string>& argv);

}  // namespace vigil
