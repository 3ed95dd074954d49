#include "server/services/vault.hpp"

#include <stdexcept>

namespace vigil::services {

Vault::Vault(store::Store& store, crypto::MasterKeyring keyring)
    : store_(store),
      keyring_(std::make_unique<crypto::MasterKeyring>(std::move(keyring))),
      cipher_(std::make_unique<crypto::EnvelopeCipher>(*keyring_)) {}

std::unique_ptr<Vault> Vault::open(store::Store& store, const std::filesystem::path& key_file, bool allow_create) {
  auto checks = store.vaultKeyChecks();
  std::optional<crypto::MasterKeyring> ring;
  if (std::filesystem::exists(key_file)) {
    ring.emplace(crypto::MasterKeyring::load(key_file));
  } else if (checks.empty() && allow_create) {
    ring.emplace(crypto::MasterKeyring::create(key_file));
  } else {
    throw std::runtime_error("vault: master key file '" + key_file.string() +
                             "' is missing, but the database holds secrets sealed under a master key. "
                             "Restore the file (config key master_key_file); nothing was changed.");
  }
  // Every active key in the database must be in the file and must be the same key.
  for (auto& [id, check] : checks) {
    const crypto::SecureBytes* k = ring->key(id);
    if (!k)
      throw std::runtime_error("vault: master key '" + id + "' used by the database is not in '" + key_file.string() +
                               "' (wrong key file?); nothing was changed.");
    if (!crypto::verifyKeyCheck(*k, id, check))
      throw std::runtime_error("vault: master key '" + id + "' in '" + key_file.string() +
                               "' does not match the database (wrong key file?); nothing was changed.");
  }
  const std::string current = ring->currentId();
  bool known = false;
  for (auto& c : checks) known = known || c.first == current;
  if (!known) store.addVaultKey(current, crypto::makeKeyCheck(*ring->key(current), current));
  return std::unique_ptr<Vault>(new Vault(store, std::move(*ring)));
}

crypto::Envelope Vault::seal(std::string_view plaintext, const std::string& owner) const {
  // Pick up a key added by a concurrent `vault rekey` before sealing under the "current" key.
  keyring_->refreshIfChanged();
  return cipher_->seal(plaintext, owner);
}

std::optional<crypto::SecureString> Vault::unseal(const crypto::Envelope& env, const std::string& owner) const {
  return cipher_->open(env, owner);
}

std::optional<crypto::SecureString> Vault::accountSecret(std::int64_t account_id) const {
  auto env = store_.accountSecret(account_id);
  if (!env) return std::nullopt;
  return unseal(*env, "account:" + std::to_string(account_id));
}

static std::string ownerOf(const store::Store::WrappedSecret& s) {
  if (s.table == "recording_keys") return "recording:" + s.session_id;  // as RecordingSealing wraps it
  return s.table == "accounts" ? "account:" + std::to_string(s.id) : "user:" + std::to_string(s.id) + ":totp";
}

Vault::RekeyReport Vault::rekey(const std::function<void(std::int64_t, std::int64_t)>& progress) {
  RekeyReport rep;
  keyring_->refreshIfChanged();
  rep.old_key_id = keyring_->currentId();
  rep.new_key_id = keyring_->addKey();
  store_.addVaultKey(rep.new_key_id, crypto::makeKeyCheck(*keyring_->key(rep.new_key_id), rep.new_key_id));
  const std::int64_t total = store_.countSecretsNotUnder(rep.new_key_id);
  if (progress) progress(0, total);
  for (;;) {
    auto batch = store_.secretsNotUnder(rep.new_key_id, 200);
    if (batch.empty()) break;
    for (auto& row : batch) {
      auto re = cipher_->rewrap(row.env, ownerOf(row));
      if (!re)
        throw std::runtime_error("vault rekey: cannot unwrap the data key of " + row.table + " id " +
                                 std::to_string(row.id) + " (key '" + row.env.master_key_id +
                                 "'); rows re-wrapped so far stay valid, the old key is kept");
      if (store_.rewrapSecret(row, *re)) ++rep.rewrapped;
    }
    if (progress) progress(rep.rewrapped, total);
  }
  // Only now that nothing refers to them do the old keys leave the file and the database.
  keyring_->retireOldKeys();
  store_.retireVaultKeysExcept(rep.new_key_id);
  return rep;
}

}  // namespace vigil::services
