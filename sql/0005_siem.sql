-- SIEM forwarding: a durable outbox fed by triggers in the same transaction as the event itself,
-- so an event is in the outbox if and only if it is in the database (docs/siem.md).
--
-- Ordering: ids come from a sequence and are taken before commit, so they do not follow commit
-- order (a long transaction can commit id 10 after id 11 was delivered). The forwarder's
-- sequencer therefore stamps `seq` on rows once they are visible (committed), in one serialized
-- transaction at a time; destinations read in `seq` order and keep their cursor on `seq`, so a
-- late commit is never skipped.
CREATE TABLE siem_outbox (
  id          bigserial PRIMARY KEY,
  seq         bigint UNIQUE,                -- NULL until the sequencer has seen the row
  at          timestamptz NOT NULL DEFAULT now(),
  source      text NOT NULL CHECK (source IN ('audit','alert','session_event')),
  source_id   bigint NOT NULL,
  kind        text NOT NULL,                -- audit action, 'alert', or the session event kind
  session_id  uuid,
  offset_ms   bigint NOT NULL DEFAULT 0,    -- position in the recording (for the deep link)
  payload     jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX siem_outbox_unsequenced ON siem_outbox(id) WHERE seq IS NULL;

-- The next `seq` to hand out (a counter row, not a sequence: the sequencer reserves a block and
-- numbers rows in one statement, under an advisory lock).
CREATE TABLE siem_state (
  id             integer PRIMARY KEY CHECK (id = 1),
  next_seq       bigint NOT NULL,
  dropped_total  bigint NOT NULL DEFAULT 0   -- rows ever dropped over siem.max_queue
);
INSERT INTO siem_state(id, next_seq) VALUES (1, 1);

-- One row per configured destination: the highest `seq` it has received.
CREATE TABLE siem_cursors (
  destination  text PRIMARY KEY,
  delivered    bigint NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  failures     bigint NOT NULL DEFAULT 0,      -- failed attempts (connect, handshake, write) so far
  last_error   text NOT NULL DEFAULT '',
  last_error_at timestamptz
);

CREATE FUNCTION siem_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sid uuid;
  off bigint;
BEGIN
  IF NEW.object_type = 'session' AND NEW.object_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    sid := NEW.object_id::uuid;
  ELSIF NEW.details ? 'session_id' AND (NEW.details->>'session_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    sid := (NEW.details->>'session_id')::uuid;
  END IF;
  -- The moment in the player: the details' offset_ms when given, else the time since the session
  -- started (session end, SOC actions, reviews).
  IF (NEW.details->>'offset_ms') ~ '^[0-9]{1,15}$' THEN
    off := (NEW.details->>'offset_ms')::bigint;
  ELSIF sid IS NOT NULL THEN
    SELECT greatest(0, (extract(epoch FROM NEW.at - s.started_at) * 1000)::bigint) INTO off
    FROM sessions s WHERE s.id = sid;
  END IF;
  INSERT INTO siem_outbox(at, source, source_id, kind, session_id, offset_ms, payload)
  VALUES (NEW.at, 'audit', NEW.id, NEW.action, sid, coalesce(off, 0), to_jsonb(NEW));
  PERFORM pg_notify('vigil_siem', '');
  RETURN NULL;
END $$;
CREATE TRIGGER siem_audit AFTER INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION siem_from_audit();

CREATE FUNCTION siem_from_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO siem_outbox(at, source, source_id, kind, session_id, offset_ms, payload)
  SELECT NEW.at, 'alert', NEW.id, 'alert', NEW.session_id, NEW.offset_ms,
         to_jsonb(NEW) || jsonb_build_object('account_user', s.account_user, 'target', s.target_name,
                                             'client_addr', s.client_addr, 'protocol', s.protocol)
  FROM (SELECT 1) one LEFT JOIN sessions s ON s.id = NEW.session_id;
  PERFORM pg_notify('vigil_siem', '');
  RETURN NULL;
END $$;
CREATE TRIGGER siem_alert AFTER INSERT ON alerts FOR EACH ROW EXECUTE FUNCTION siem_from_alert();

-- Commands, statements, file operations and risk matches; output lines and keystrokes are not
-- forwarded (volume, and keystrokes may hold secrets).
CREATE FUNCTION siem_from_session_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO siem_outbox(at, source, source_id, kind, session_id, offset_ms, payload)
  SELECT NEW.at, 'session_event', NEW.id, NEW.kind, NEW.session_id, NEW.offset_ms,
         to_jsonb(NEW) || jsonb_build_object('username', s.username, 'account_user', s.account_user,
                                             'target', s.target_name, 'client_addr', s.client_addr,
                                             'protocol', s.protocol)
  FROM (SELECT 1) one LEFT JOIN sessions s ON s.id = NEW.session_id;
  PERFORM pg_notify('vigil_siem', '');
  RETURN NULL;
END $$;
CREATE TRIGGER siem_session_event AFTER INSERT ON session_events FOR EACH ROW
  WHEN (NEW.kind IN ('command','sql','file','risk'))
  EXECUTE FUNCTION siem_from_session_event();
