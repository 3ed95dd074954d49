#include "protocols/ssh/ssh_common.hpp"

#include <sys/stat.h>

#include <filesystem>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace vigil::ssh {

spdlog::logger& log() {
  static std::shared_ptr<spdlog::logger> logger = [] {
    if (auto l = spdlog::get("proxy.ssh")) return l;
    try {
      // Shares the default logger's sinks (stderr + file when `vigil serve` set them up).
      auto def = spdlog::default_logger();
      auto l = std::make_shared<spdlog::logger>("proxy.ssh", def->sinks().begin(), def->sinks().end());
      l->set_level(def->level());
      l->flush_on(spdlog::level::info);
      spdlog::register_logger(l);
      return l;
    } catch (const spdlog::spdlog_ex&) {
      if (auto l = spdlog::get("proxy.ssh")) return l;
      return spdlog::default_logger();
    }
  }();
  return *logger;
}

std::string fingerprintOf(ssh_key key) {
  if (key == nullptr) return {};
  unsigned char* hash = nullptr;
  size_t len = 0;
  if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash, &len) != SSH_OK) return {};
  char* text = ssh_get_fingerprint_hash(SSH_PUBLICKEY_HASH_SHA256, hash, len);
  ssh_clean_pubkey_hash(&hash);
  if (text == nullptr) return {};
  std::string out(text);
  ssh_string_free_char(text);
  return out;
}

ssh_key loadOrCreateHostKey(const std::string& path, std::string& error) {
  ssh_key key = nullptr;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    if (ssh_pki_import_privkey_file(path.c_str(), nullptr, nullptr, nullptr, &key) != SSH_OK) {
      error = "cannot read the SSH host key " + path;
      return nullptr;
    }
    if (ssh_key_type(key) != SSH_KEYTYPE_ED25519) {
      ssh_key_free(key);
      error = "the SSH host key " + path + " is not an ed25519 key";
      return nullptr;
    }
    return key;
  }
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK) {
    error = "cannot generate an ed25519 host key";
    return nullptr;
  }
  // The key file must never be readable by others, not even for an instant.
  mode_t old = umask(077);
  int rc = ssh_pki_export_privkey_file(key, nullptr, nullptr, nullptr, path.c_str());
  umask(old);
  if (rc != SSH_OK) {
    ssh_key_free(key);
    error = "cannot write the SSH host key " + path;
    return nullptr;
  }
  chmod(path.c_str(), 0600);
  log().info("generated SSH host key {} ({})", path, fingerprintOf(key));
  return key;
}

bool forwardableEnv(std::string_view name) {
  return name == "LANG" || name.rfind("LC_", 0) == 0;
}

bool isScpCommand(std::string_view command) {
  // OpenSSH's scp runs "scp [-v] [-r] [-p] [-d] -t|-f [--] path" on the far side; any scp run
  // there is a file transfer as far as the policy goes.
  while (!command.empty() && command.front() == ' ') command.remove_prefix(1);
  return command.rfind("scp ", 0) == 0;
}

}  // namespace vigil::ssh
