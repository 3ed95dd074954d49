-- Tamper evidence and encryption at rest (issue 8, points 3 and 4).

-- A safe whose recordings are encrypted at rest (AES-256-GCM per chunk, data key wrapped by the
-- master key).
ALTER TABLE safes ADD COLUMN encrypt_recordings boolean NOT NULL DEFAULT false;

-- The seal of a finished recording: the signed manifest (exact bytes signed), its Ed25519
-- signature, the public key that made it, and the chunk index ("<index> <offset> <length>
-- <hash>" lines), so `vigil verify` names the first bad chunk even if the sidecar was edited.
CREATE TABLE recording_seals (
  session_id   uuid PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
  manifest     text NOT NULL,
  signature    text NOT NULL,
  public_key   text NOT NULL,
  chunk_index  text NOT NULL,
  chunk_count  bigint NOT NULL,
  final_hash   text NOT NULL,
  file_size    bigint NOT NULL,
  encrypted    boolean NOT NULL DEFAULT false,
  sealed_at    timestamptz NOT NULL DEFAULT now()
);

-- The audit log as a hash chain: each row stores the previous row's hash and its own, over its
-- canonical content, in chain order (chain_seq). A deleted row breaks the link of the next row;
-- an edited row no longer matches its hash. Computed by a BEFORE INSERT trigger under an
-- advisory lock held to commit, so concurrent inserts are chained one after the other (the SIEM
-- trigger is AFTER INSERT and simply sees the new columns).
ALTER TABLE audit_log ADD COLUMN chain_seq bigint, ADD COLUMN prev_hash text, ADD COLUMN row_hash text;

CREATE FUNCTION audit_row_hash(prev text, r audit_log) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT encode(sha256(convert_to(
    coalesce(prev, '') || E'\x1f' || coalesce(r.chain_seq::text, '') || E'\x1f' || r.id::text || E'\x1f' ||
    to_char(r.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US') || E'\x1f' ||
    coalesce(r.actor_id::text, '') || E'\x1f' || r.actor || E'\x1f' || r.source_addr || E'\x1f' ||
    r.action || E'\x1f' || r.object_type || E'\x1f' || r.object_id || E'\x1f' || r.outcome || E'\x1f' ||
    r.details::text, 'UTF8')), 'hex')
$$;

-- Existing rows, in id order.
DO $$
DECLARE
  r audit_log;
  prev text := repeat('0', 64);
  n bigint := 0;
BEGIN
  FOR r IN SELECT * FROM audit_log ORDER BY id LOOP
    n := n + 1;
    r.chain_seq := n;
    r.prev_hash := prev;
    prev := audit_row_hash(r.prev_hash, r);
    UPDATE audit_log SET chain_seq = n, prev_hash = r.prev_hash, row_hash = prev WHERE id = r.id;
  END LOOP;
END $$;

CREATE UNIQUE INDEX audit_log_chain_seq ON audit_log(chain_seq);

CREATE FUNCTION audit_chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  last_seq bigint;
  last_hash text;
BEGIN
  -- Held until commit: the next insert waits and then sees this row (read committed).
  PERFORM pg_advisory_xact_lock(hashtext('vigil_audit_chain'));
  SELECT chain_seq, row_hash INTO last_seq, last_hash FROM audit_log
   WHERE chain_seq IS NOT NULL ORDER BY chain_seq DESC LIMIT 1;
  NEW.chain_seq := coalesce(last_seq, 0) + 1;
  NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
  NEW.row_hash := audit_row_hash(NEW.prev_hash, NEW);
  RETURN NEW;
END $$;
CREATE TRIGGER audit_chain BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION audit_chain();
