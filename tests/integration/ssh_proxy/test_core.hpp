#pragma once
// A test-only session core: a Gatekeeper that checks grants in a small in-memory table and a
// Session that keeps every event in memory, so the SSH proxy is tested on its own against a
// real sshd and real clients. (The real core lives in server/ and is tested there.)
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "protocols/session.hpp"

namespace vigil::test {

/// Everything one session reported; shared by the Session object and the test.
struct SessionRecord {
  mutable std::mutex mu;
  std::condition_variable cv;
  std::string id;
  proto::Grant grant;
  std::vector<std::pair<std::string, std::string>> notes;
  std::vector<proto::FileOperation> files;
  std::vector<std::pair<int, int>> resizes;
  std::string channel_kind, channel_command, term;
  int cols = 0, rows = 0;
  std::string output, input;
  bool ended = false;
  int end_calls = 0;
  std::string end_reason, end_detail;
  std::uint64_t bytes_from_client = 0, bytes_to_client = 0;
  bool credential_taken = false;
  proto::SessionControl* control = nullptr;
  std::atomic<bool> healthy{true};

  bool waitEnded(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] { return ended; });
  }
  bool waitOutput(const std::string& needle, std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] { return output.find(needle) != std::string::npos; });
  }
  bool waitControl(std::chrono::milliseconds timeout) {
    std::unique_lock lk(mu);
    return cv.wait_for(lk, timeout, [&] { return control != nullptr; });
  }
  bool hasNote(const std::string& kind) const {
    std::lock_guard lk(mu);
    for (auto& n : notes)
      if (n.first == kind) return true;
    return false;
  }
  std::string reason() const {
    std::lock_guard lk(mu);
    return end_reason;
  }
};

class TestSession : public proto::Session {
 public:
  TestSession(std::shared_ptr<SessionRecord> rec, proto::Credential cred) : rec_(std::move(rec)), cred_(std::move(cred)) {}
  const std::string& id() const override { return rec_->id; }
  proto::Credential takeCredential() override {
    std::lock_guard lk(rec_->mu);
    rec_->credential_taken = true;
    return std::move(cred_);
  }
  void setControl(proto::SessionControl* c) override {
    std::lock_guard lk(rec_->mu);
    rec_->control = c;
    rec_->cv.notify_all();
  }
  void channelOpened(std::string_view kind, std::string_view command, std::string_view term, int cols,
                     int rows) override {
    std::lock_guard lk(rec_->mu);
    rec_->channel_kind = kind;
    rec_->channel_command = command;
    rec_->term = term;
    rec_->cols = cols;
    rec_->rows = rows;
  }
  void output(std::string_view b) override {
    std::lock_guard lk(rec_->mu);
    // Keeps the first MiB: enough for every assertion, bounded for bulk tests.
    if (rec_->output.size() < (1u << 20)) rec_->output.append(b.substr(0, (1u << 20) - rec_->output.size()));
    rec_->cv.notify_all();
  }
  void input(std::string_view b) override {
    std::lock_guard lk(rec_->mu);
    if (rec_->input.size() < (1u << 20)) rec_->input.append(b.substr(0, (1u << 20) - rec_->input.size()));
  }
  void resize(int cols, int rows) override {
    std::lock_guard lk(rec_->mu);
    rec_->resizes.emplace_back(cols, rows);
  }
  void fileOperation(const proto::FileOperation& op) override {
    std::lock_guard lk(rec_->mu);
    rec_->files.push_back(op);
  }
  void note(std::string_view kind, std::string_view text) override {
    std::lock_guard lk(rec_->mu);
    rec_->notes.emplace_back(kind, text);
  }
  bool recordingHealthy() const override { return rec_->healthy; }
  void end(std::string_view reason, std::string_view detail, std::uint64_t in, std::uint64_t out) override {
    std::lock_guard lk(rec_->mu);
    ++rec_->end_calls;
    if (rec_->ended) return;
    rec_->ended = true;
    rec_->end_reason = reason;
    rec_->end_detail = detail;
    rec_->bytes_from_client = in;
    rec_->bytes_to_client = out;
    rec_->cv.notify_all();
  }

 private:
  std::shared_ptr<SessionRecord> rec_;
  proto::Credential cred_;
};

/// Grants come from three small tables: one-time tokens, identity users, and accounts.
class TestGatekeeper : public proto::Gatekeeper {
 public:
  struct User {
    std::string password;
    std::string totp;  // the one valid code; empty: no TOTP
    std::set<std::string> key_fingerprints;
  };
  struct Account {
    proto::Grant grant;  // status Ok, target, policy, account_user
    std::string credential_kind;
    std::string secret;
  };

  /// Registers an account reachable as "<account_user>%<target name>".
  void addAccount(const std::string& key, Account a) {
    std::lock_guard lk(mu_);
    accounts_[key] = std::move(a);
  }
  void addUser(const std::string& name, User u) {
    std::lock_guard lk(mu_);
    users_[name] = std::move(u);
  }
  /// A fresh single-use token for the account.
  std::string mintToken(const std::string& account_key) {
    static std::atomic<int> n{0};
    std::random_device rd;
    std::string t = "tok" + std::to_string(rd()) + std::to_string(++n);
    std::lock_guard lk(mu_);
    tokens_[t] = account_key;
    return t;
  }

  proto::Grant redeemLaunchToken(std::string_view token, const proto::ClientInfo&) override {
    std::lock_guard lk(mu_);
    ++redeem_calls;
    auto it = tokens_.find(std::string(token));
    if (it == tokens_.end()) return denied("launch token unknown, expired or already used");
    std::string key = it->second;
    tokens_.erase(it);
    return grantFor(key);
  }
  proto::Grant loginWithPassword(const proto::IdentityLogin& login, std::string_view password,
                                 std::string_view totp, const proto::ClientInfo&) override {
    std::lock_guard lk(mu_);
    auto u = users_.find(login.vigil_user);
    if (u == users_.end() || u->second.password != password) return denied("wrong user name or password");
    return secondFactor(u->second, login, totp);
  }
  bool userHasTotp(std::string_view user) override {
    std::lock_guard lk(mu_);
    auto u = users_.find(std::string(user));
    return u != users_.end() && !u->second.totp.empty();
  }
  proto::Grant refuseMissingTotp(const proto::Grant&, std::string message, const proto::ClientInfo&) override {
    return denied(std::move(message));
  }
  bool userHasPublicKey(std::string_view user, std::string_view fp) override {
    std::lock_guard lk(mu_);
    auto u = users_.find(std::string(user));
    return u != users_.end() && u->second.key_fingerprints.count(std::string(fp));
  }
  proto::Grant loginWithPublicKey(const proto::IdentityLogin& login, std::string_view fp, std::string_view totp,
                                  const proto::ClientInfo&) override {
    std::lock_guard lk(mu_);
    auto u = users_.find(login.vigil_user);
    if (u == users_.end() || !u->second.key_fingerprints.count(std::string(fp))) return denied("key not accepted");
    return secondFactor(u->second, login, totp);
  }
  proto::Grant authorizeUser(std::int64_t, std::int64_t, const proto::ClientInfo&) override {
    return denied("not used in these tests");
  }
  std::unique_ptr<proto::Session> startSession(const proto::Grant& grant, const proto::ClientInfo& client,
                                               std::string& error) override {
    std::lock_guard lk(mu_);
    if (grant.status != proto::Grant::Status::Ok) {
      error = "not authorized";
      return nullptr;
    }
    if (fail_next_start) {
      fail_next_start = false;
      error = "the recording cannot be opened";
      return nullptr;
    }
    auto acc = accounts_.find(grant.account_user + "%" + grant.target.name);
    if (acc == accounts_.end()) {
      error = "no such account";
      return nullptr;
    }
    auto rec = std::make_shared<SessionRecord>();
    rec->id = "sess-" + std::to_string(records_.size() + 1);
    rec->grant = grant;
    records_.push_back(rec);
    last_client = client;
    proto::Credential cred{acc->second.grant.account_user, acc->second.credential_kind,
                           crypto::toSecure(acc->second.secret)};
    return std::make_unique<TestSession>(rec, std::move(cred));
  }
  bool pinHostKey(std::int64_t target_id, std::string_view fp, std::string_view) override {
    std::lock_guard lk(mu_);
    pinned[target_id] = std::string(fp);
    for (auto& [k, a] : accounts_)
      if (a.grant.target.target_id == target_id) a.grant.target.host_key_fingerprint = std::string(fp);
    return true;
  }

  std::size_t sessionCount() const {
    std::lock_guard lk(mu_);
    return records_.size();
  }
  std::shared_ptr<SessionRecord> lastSession() const {
    std::lock_guard lk(mu_);
    return records_.empty() ? nullptr : records_.back();
  }
  /// Waits for the n-th session (1-based) to appear.
  std::shared_ptr<SessionRecord> waitSession(std::size_t n, std::chrono::milliseconds timeout) const {
    auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      {
        std::lock_guard lk(mu_);
        if (records_.size() >= n) return records_[n - 1];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return nullptr;
  }

  std::map<std::int64_t, std::string> pinned;
  proto::ClientInfo last_client;
  int redeem_calls = 0;
  bool fail_next_start = false;

 private:
  static proto::Grant denied(std::string msg) {
    proto::Grant g;
    g.status = proto::Grant::Status::Denied;
    g.message = std::move(msg);
    return g;
  }
  proto::Grant grantFor(const std::string& key) {
    auto a = accounts_.find(key);
    if (a == accounts_.end()) return denied("no permission for this account");
    return a->second.grant;
  }
  proto::Grant secondFactor(const User& u, const proto::IdentityLogin& login, std::string_view totp) {
    if (!u.totp.empty()) {
      if (totp.empty()) {
        proto::Grant g;
        g.status = proto::Grant::Status::NeedTotp;
        return g;
      }
      if (totp != u.totp) return denied("wrong one-time code");
    }
    return grantFor(login.account_user + "%" + login.target_name);
  }

  mutable std::mutex mu_;
  std::map<std::string, std::string> tokens_;
  std::map<std::string, User> users_;
  std::map<std::string, Account> accounts_;
  std::vector<std::shared_ptr<SessionRecord>> records_;
};

}  // namespace vigil::test
