#pragma once
// The credential vault: account secrets and TOTP secrets sealed with envelope encryption under
// the master keyring. Plaintext exists only in SecureString values that zero themselves.
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/crypto/envelope.hpp"
#include "server/store/store.hpp"

namespace vigil::services {

class Vault {
 public:
  /// Opens (or, on a fresh database, creates) the keyring at `key_file` and checks every active
  /// master key recorded in the database against it. Throws std::runtime_error with a clear
  /// reason — missing file, wrong key, key absent from the file — before anything is written.
  static std::unique_ptr<Vault> open(store::Store& store, const std::filesystem::path& key_file,
                                     bool allow_create);

  /// Seals a secret for an owner ("account:<id>", "user:<id>:totp").
  crypto::Envelope seal(std::string_view plaintext, const std::string& owner) const;
  std::optional<crypto::SecureString> unseal(const crypto::Envelope& env, const std::string& owner) const;

  /// An account's secret (for the proxies that inject it). nullopt if absent or undecryptable.
  std::optional<crypto::SecureString> accountSecret(std::int64_t account_id) const;

  struct RekeyReport {
    std::string old_key_id;
    std::string new_key_id;
    std::int64_t rewrapped = 0;
  };
  /// Adds a new master key, re-wraps every data key under it in batches (the server keeps
  /// running: it reloads the keyring when it meets an unknown key id), then retires old keys.
  RekeyReport rekey(const std::function<void(std::int64_t done, std::int64_t total)>& progress);

  crypto::MasterKeyring& keyring() { return *keyring_; }

 private:
  Vault(store::Store& store, crypto::MasterKeyring keyring);
  store::Store& store_;
  std::unique_ptr<crypto::MasterKeyring> keyring_;
  std::unique_ptr<crypto::EnvelopeCipher> cipher_;
};

}  // namespace vigil::services
