#pragma once
// Small pieces shared by both legs of the SSH proxy: the component logger, key fingerprints in
// OpenSSH's format, and the host key kept on disk.
#include <libssh/libssh.h>

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace vigil::ssh {

/// The "proxy.ssh" logger (created on first use; any thread).
spdlog::logger& log();

/// "SHA256:<base64, no padding>" as OpenSSH prints it; empty on error.
std::string fingerprintOf(ssh_key key);

/// Loads the ed25519 host key from `path`, or generates one and writes it there (mode 0600)
/// when the file does not exist. Returns null with `error` set on failure. Caller frees.
ssh_key loadOrCreateHostKey(const std::string& path, std::string& error);

/// Deleters for libssh handles, so early returns cannot leak them.
struct KeyFree {
  void operator()(ssh_key k) const { ssh_key_free(k); }
};
using KeyPtr = std::unique_ptr<std::remove_pointer_t<ssh_key>, KeyFree>;

/// True for the only environment variables forwarded to the target (locale).
bool forwardableEnv(std::string_view name);

/// True if an exec command line is a legacy scp server ("scp -t ..." / "scp -f ...").
bool isScpCommand(std::string_view command);

}  // namespace vigil::ssh
