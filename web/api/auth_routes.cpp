// /api/v1/auth/* and /api/v1/me/*: login, logout, the caller's profile, password, TOTP enrolment.
#include "server/auth/password.hpp"
#include "server/crypto/secure_bytes.hpp"
#include "web/api/context.hpp"
#include "web/api/session_cookie.hpp"

namespace vigil::web {
namespace {

HttpResponse login(RequestContext& c) {
  allowOnlyFields(c.body, {"username", "password", "totp"});
  services::LoginRequest req;
  req.username = requireString(c.body, "username", 128);
  auto pw = c.body.find("password");
  if (pw == c.body.end() || !pw->is_string()) throw ApiError(400, "validation_failed", "password: is required");
  req.password = pw->get<std::string>();
  crypto::wipe(pw->get_ref<std::string&>());
  req.totp = optionalString(c.body, "totp", 16).value_or("");
  req.source_addr = c.req.remote_addr;

  auto res = c.deps.auth.login(std::move(req));
  switch (res.status) {
    case services::LoginStatus::Ok: {
      auto r = jsonResponse(200, json{{"user", userJson(*res.user)}, {"csrf_token", res.csrf_token}});
      r.headers.emplace_back("Set-Cookie", sessionSetCookie(res.session_token, false));
      return r;
    }
    case services::LoginStatus::MfaRequired:
      return errorResponse(401, "mfa_required", "enter the code from your authenticator app");
    case services::LoginStatus::Locked:
      return errorResponse(403, "account_locked", "this account is locked; try later or ask an administrator");
    case services::LoginStatus::Unavailable:
      return errorResponse(503, "directory_unavailable", "the directory service is unavailable; try again later");
    default:
      return errorResponse(401, "invalid_credentials", "wrong username or password");
  }
}

HttpResponse logout(RequestContext& c) {
  c.deps.auth.logout(c.session_token, c.user(), c.req.remote_addr);
  auto r = noContent();
  r.headers.emplace_back("Set-Cookie", sessionSetCookie("", true));
  return r;
}

HttpResponse me(RequestContext& c) {
  return jsonResponse(200, json{{"user", userJson(c.user())}, {"csrf_token", c.auth->csrf_token}});
}

HttpResponse changePassword(RequestContext& c) {
  allowOnlyFields(c.body, {"current_password", "new_password"});
  if (c.user().source != "local")
    throw ApiError(400, "validation_failed", "current_password: directory users change their password in the directory");
  auto cur = c.body.find("current_password");
  auto neu = c.body.find("new_password");
  if (cur == c.body.end() || !cur->is_string()) throw ApiError(400, "validation_failed", "current_password: is required");
  if (neu == c.body.end() || !neu->is_string()) throw ApiError(400, "validation_failed", "new_password: is required");
  std::string current = cur->get<std::string>(), next = neu->get<std::string>();
  crypto::wipe(cur->get_ref<std::string&>());
  crypto::wipe(neu->get_ref<std::string&>());
  struct Wipe {
    std::string &a, &b;
    ~Wipe() { crypto::wipe(a); crypto::wipe(b); }
  } wipe{current, next};
  if (!c.deps.auth.verifyPassword(current, c.user())) {
    c.audit("password_change", "user", std::to_string(c.user().id), "failed", {{"reason", "wrong_current_password"}});
    throw ApiError(400, "validation_failed", "current_password: is not correct");
  }
  if (auto why = auth::passwordPolicyViolation(next); !why.empty())
    throw ApiError(400, "validation_failed", "new_password: " + why);
  if (next == current) throw ApiError(400, "validation_failed", "new_password: must differ from the current one");
  store::User u = c.user();
  u.password_hash = c.deps.auth.hashPassword(next);
  u.must_change_password = false;
  c.deps.store.updateUser(u);
  c.audit("password_change", "user", std::to_string(u.id));
  return noContent();
}

HttpResponse mfaEnroll(RequestContext& c) {
  auto m = c.deps.auth.beginMfaEnrollment(c.user(), c.req.remote_addr);
  if (!m) throw ApiError(409, "conflict", "an authenticator is already enrolled; ask a superuser to reset it first");
  // The secret is shown exactly once, here, so the user can type it into an authenticator.
  return jsonResponse(200, json{{"secret", std::string(m->secret_base32.begin(), m->secret_base32.end())},
                                {"otpauth_uri", m->otpauth_uri}});
}

HttpResponse mfaConfirm(RequestContext& c) {
  allowOnlyFields(c.body, {"code"});
  const std::string code = requireString(c.body, "code", 16);
  if (!c.deps.auth.confirmMfaEnrollment(c.user(), code, c.req.remote_addr))
    throw ApiError(400, "validation_failed", "code: does not match; check the time on your device and try the next code");
  return jsonResponse(200, json{{"user", userJson(*c.deps.store.userById(c.user().id))}});
}

}  // namespace

void addAuthRoutes(std::vector<Route>& r) {
  r.push_back({"POST", "/api/v1/auth/login", false, login});
  r.push_back({"POST", "/api/v1/auth/logout", true, logout});
  r.push_back({"GET", "/api/v1/me", true, me});
  r.push_back({"POST", "/api/v1/me/password", true, changePassword});
  r.push_back({"POST", "/api/v1/me/mfa/enroll", true, mfaEnroll});
  r.push_back({"POST", "/api/v1/me/mfa/confirm", true, mfaConfirm});
}

}  // namespace vigil::web
