-- Users, roles, portal sessions, safes, targets, vault accounts, audit log.

CREATE TABLE users (
  id                    bigserial PRIMARY KEY,
  username              text NOT NULL UNIQUE CHECK (length(username) BETWEEN 1 AND 128),
  display_name          text NOT NULL DEFAULT '',
  roles                 text[] NOT NULL DEFAULT '{}'
                        CHECK (roles <@ ARRAY['superuser','vault_admin','admin','auditor','soc']),
  source                text NOT NULL DEFAULT 'local' CHECK (source IN ('local','ldap')),
  password_hash         text,
  must_change_password  boolean NOT NULL DEFAULT false,
  -- TOTP secret, envelope-encrypted under the master key (owner "user:<id>:totp").
  totp_key_id           text,
  totp_wrapped_key      bytea,
  totp_ciphertext       bytea,
  totp_enrolled         boolean NOT NULL DEFAULT false,
  totp_last_step        bigint,
  failed_logins         integer NOT NULL DEFAULT 0,
  locked                boolean NOT NULL DEFAULT false,
  locked_until          timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE portal_sessions (
  token_hash   bytea PRIMARY KEY,            -- SHA-256 of the cookie value; the value itself is never stored
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token   text NOT NULL,
  source_addr  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_seen    timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX portal_sessions_user ON portal_sessions(user_id);

CREATE TABLE safes (
  id                          bigserial PRIMARY KEY,
  name                        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
  description                 text NOT NULL DEFAULT '',
  record_sessions             boolean NOT NULL DEFAULT true,
  live_monitoring             boolean NOT NULL DEFAULT true,
  require_dual_authorization  boolean NOT NULL DEFAULT false,
  retention_days              integer NOT NULL DEFAULT 90 CHECK (retention_days BETWEEN 1 AND 36500),
  allowed_protocols           text[] NOT NULL DEFAULT ARRAY['ssh','rdp','tds','postgres']
                              CHECK (allowed_protocols <@ ARRAY['ssh','rdp','tds','postgres']),
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE safe_members (
  safe_id      bigint NOT NULL REFERENCES safes(id) ON DELETE CASCADE,
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  permissions  text[] NOT NULL
               CHECK (permissions <@ ARRAY['connect','view_recordings','monitor_live','manage']),
  PRIMARY KEY (safe_id, user_id)
);
CREATE INDEX safe_members_user ON safe_members(user_id);

CREATE TABLE targets (
  id                       bigserial PRIMARY KEY,
  name                     text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 128),
  protocol                 text NOT NULL CHECK (protocol IN ('ssh','rdp','tds','postgres')),
  address                  text NOT NULL CHECK (length(address) BETWEEN 1 AND 255),
  port                     integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
  host_key_fingerprint     text NOT NULL DEFAULT '',
  certificate_fingerprint  text NOT NULL DEFAULT '',
  description              text NOT NULL DEFAULT '',
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE accounts (
  id                 bigserial PRIMARY KEY,
  safe_id            bigint NOT NULL REFERENCES safes(id) ON DELETE RESTRICT,
  target_id          bigint NOT NULL REFERENCES targets(id) ON DELETE RESTRICT,
  username           text NOT NULL CHECK (length(username) BETWEEN 1 AND 256),
  description        text NOT NULL DEFAULT '',
  secret_kind        text NOT NULL CHECK (secret_kind IN ('password','private_key')),
  -- Envelope encryption: ciphertext under a per-secret data key, which is wrapped by master key
  -- `secret_key_id`; associated data binds both to "account:<id>".
  secret_key_id      text NOT NULL,
  secret_wrapped_key bytea NOT NULL,
  secret_ciphertext  bytea NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (target_id, username)
);
CREATE INDEX accounts_safe ON accounts(safe_id);

-- One check value per master key id, so a wrong key file is detected before anything is touched.
CREATE TABLE vault_keys (
  key_id      text PRIMARY KEY,
  key_check   bytea NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);

CREATE TABLE audit_log (
  id           bigserial PRIMARY KEY,
  at           timestamptz NOT NULL DEFAULT now(),
  actor_id     bigint,
  actor        text NOT NULL DEFAULT '',
  source_addr  text NOT NULL DEFAULT '',
  action       text NOT NULL,
  object_type  text NOT NULL DEFAULT '',
  object_id    text NOT NULL DEFAULT '',
  outcome      text NOT NULL CHECK (outcome IN ('ok','failed','denied')),
  details      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_log_at ON audit_log(at);
CREATE INDEX audit_log_actor ON audit_log(actor);
