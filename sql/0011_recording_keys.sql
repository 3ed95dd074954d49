-- The data key of each encrypted recording, wrapped by the master key, in the database as well as
-- in the recording's first line: `vault rekey` re-wraps these rows with the other vault secrets,
-- and readers use this row (the file's copy stays as written, so the hash chain and the seal are
-- untouched). Before this table a rekey retired the master key the file's copy was wrapped with,
-- and encrypted recordings could no longer be played.
CREATE TABLE recording_keys (
  id           bigserial PRIMARY KEY,
  session_id   uuid NOT NULL UNIQUE REFERENCES sessions(id) ON DELETE CASCADE,
  key_id       text NOT NULL,
  wrapped_key  bytea NOT NULL,
  ciphertext   bytea NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX recording_keys_key_id ON recording_keys(key_id);
