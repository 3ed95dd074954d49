// /api/v1/me/ssh-keys: the caller's SSH public keys, for identity logins at the SSH proxy
// (ssh -p 2222 alice%root%web01@vigil with the matching private key).
#include "server/services/ssh_public_key.hpp"
#include "web/api/context.hpp"

namespace vigil::web {
namespace {

constexpr std::size_t kMaxKeysPerUser = 50;

json keyJson(const store::SshKey& k) {
  return json{{"id", k.id},
              {"algorithm", k.algorithm},
              {"fingerprint", k.fingerprint},
              {"public_key", k.public_key},
              {"comment", k.comment},
              {"created_at", k.created_at}};
}

HttpResponse list(RequestContext& c) {
  json items = json::array();
  for (auto& k : c.deps.store.listSshKeys(c.user().id)) items.push_back(keyJson(k));
  return jsonResponse(200, json{{"items", items}});
}

HttpResponse add(RequestContext& c) {
  allowOnlyFields(c.body, {"public_key", "comment"});
  const std::string line = requireString(c.body, "public_key", 16384, true);  // a pasted line often ends in a newline
  std::string error;
  auto parsed = services::parseSshPublicKey(line, error);
  if (!parsed) throw ApiError(400, "validation_failed", error);
  store::SshKey k;
  k.user_id = c.user().id;
  k.algorithm = parsed->algorithm;
  k.fingerprint = parsed->fingerprint;
  k.public_key = parsed->public_key;
  k.comment = optionalString(c.body, "comment", 256).value_or(parsed->comment.substr(0, 256));
  if (c.deps.store.listSshKeys(k.user_id).size() >= kMaxKeysPerUser)
    throw ApiError(400, "validation_failed", "public_key: at most " + std::to_string(kMaxKeysPerUser) + " keys per user");
  store::SshKey created;
  try {
    created = c.deps.store.addSshKey(k);
  } catch (const store::Conflict&) {
    throw ApiError(409, "conflict", "this key is already registered");
  }
  c.audit("ssh_key_add", "user", std::to_string(k.user_id), "ok",
          {{"key_id", created.id}, {"algorithm", created.algorithm}, {"fingerprint", created.fingerprint}});
  return jsonResponse(201, keyJson(created));
}

HttpResponse remove(RequestContext& c) {
  const auto id = c.idParam(0);
  if (!c.deps.store.deleteSshKey(c.user().id, id)) throw ApiError(404, "not_found", "no such key");
  c.audit("ssh_key_delete", "user", std::to_string(c.user().id), "ok", {{"key_id", id}});
  return noContent();
}

}  // namespace

void addSshKeyRoutes(std::vector<Route>& r) {
  r.push_back({"GET", "/api/v1/me/ssh-keys", true, list});
  r.push_back({"POST", "/api/v1/me/ssh-keys", true, add});
  r.push_back({"DELETE", "/api/v1/me/ssh-keys/{id}", true, remove});
}

}  // namespace vigil::web
