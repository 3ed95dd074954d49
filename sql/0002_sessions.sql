-- Sessions through the proxies: channel policy per safe, one-time launch tokens, users' SSH
-- public keys, the sessions themselves and their searchable timeline.

-- Trigram search over commands (ILIKE '%rm -rf%'). pg_trgm is a trusted extension: the owner of
-- the database (the embedded cluster's `vigil` role) may create it without superuser rights.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

ALTER TABLE safes
  ADD COLUMN allow_file_transfer    boolean NOT NULL DEFAULT true,
  ADD COLUMN allow_port_forwarding  boolean NOT NULL DEFAULT false,
  ADD COLUMN allow_agent_forwarding boolean NOT NULL DEFAULT false,
  ADD COLUMN allow_x11_forwarding   boolean NOT NULL DEFAULT false,
  ADD COLUMN trust_on_first_use     boolean NOT NULL DEFAULT false;

CREATE TABLE launch_tokens (
  token_hash  bytea PRIMARY KEY,           -- SHA-256 of the token; the token itself is never stored
  user_id     bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  account_id  bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  used_from   text NOT NULL DEFAULT ''
);
CREATE INDEX launch_tokens_expires ON launch_tokens(expires_at);

CREATE TABLE user_ssh_keys (
  id           bigserial PRIMARY KEY,
  user_id      bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  algorithm    text NOT NULL,
  fingerprint  text NOT NULL,              -- SHA256:<base64, no padding>, as OpenSSH prints it
  public_key   text NOT NULL,              -- the OpenSSH one-line form "<algorithm> <base64>"
  comment      text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now(),
  UNIQUE (user_id, fingerprint)
);

CREATE TABLE sessions (
  id                 uuid PRIMARY KEY,       -- UUIDv7: time-ordered, also the recording's name
  node               text NOT NULL DEFAULT '',
  user_id            bigint REFERENCES users(id) ON DELETE SET NULL,
  username           text NOT NULL,
  account_id         bigint REFERENCES accounts(id) ON DELETE SET NULL,
  account_user       text NOT NULL,
  target_id          bigint REFERENCES targets(id) ON DELETE SET NULL,
  target_name        text NOT NULL,
  target_address     text NOT NULL DEFAULT '',
  safe_id            bigint REFERENCES safes(id) ON DELETE SET NULL,
  safe_name          text NOT NULL DEFAULT '',
  protocol           text NOT NULL,
  via                text NOT NULL CHECK (via IN ('ssh','web')),
  client_addr        text NOT NULL DEFAULT '',
  started_at         timestamptz NOT NULL DEFAULT now(),
  ended_at           timestamptz,
  end_reason         text NOT NULL DEFAULT '',
  end_detail         text NOT NULL DEFAULT '',
  bytes_from_client  bigint NOT NULL DEFAULT 0,
  bytes_to_client    bigint NOT NULL DEFAULT 0,
  recording_path     text NOT NULL DEFAULT '',  -- relative to recordings.dir; '' if not recorded
  recording_bytes    bigint NOT NULL DEFAULT 0,
  command_count      integer NOT NULL DEFAULT 0,
  risk_score         integer NOT NULL DEFAULT 0,
  review_status      text NOT NULL DEFAULT 'unreviewed'
);
CREATE INDEX sessions_started ON sessions(started_at);
CREATE INDEX sessions_user ON sessions(user_id, started_at);
CREATE INDEX sessions_safe ON sessions(safe_id, started_at);
CREATE INDEX sessions_open ON sessions(node) WHERE ended_at IS NULL;

CREATE TABLE session_events (
  id          bigserial PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  at          timestamptz NOT NULL DEFAULT now(),
  offset_ms   bigint NOT NULL DEFAULT 0,
  kind        text NOT NULL CHECK (kind IN ('command','file','lifecycle','note')),
  text        text NOT NULL DEFAULT '',
  details     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX session_events_session ON session_events(session_id, offset_ms);
CREATE INDEX session_events_fts ON session_events USING gin (to_tsvector('simple', text));
CREATE INDEX session_events_trgm ON session_events USING gin (text gin_trgm_ops);
