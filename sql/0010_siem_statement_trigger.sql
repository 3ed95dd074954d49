-- SIEM outbox feeding, cheaper:
-- * session events (thousands per second under a busy database session) are copied into the
--   outbox by one statement-level trigger per INSERT (a batch of the event writer) through its
--   transition table, with one NOTIFY per batch instead of one per row;
-- * nothing goes into the outbox while no node forwards anywhere (`siem_state.enabled`, set by the
--   forwarder from the configuration when it starts): the outbox is for delivery, not storage.
ALTER TABLE siem_state ADD COLUMN enabled boolean NOT NULL DEFAULT true;

CREATE OR REPLACE FUNCTION siem_enabled() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce((SELECT enabled FROM siem_state WHERE id = 1), true) $$;

DROP TRIGGER siem_session_event ON session_events;
DROP FUNCTION siem_from_session_event();

CREATE FUNCTION siem_from_session_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF NOT siem_enabled() THEN
    RETURN NULL;
  END IF;
  INSERT INTO siem_outbox(at, source, source_id, kind, session_id, offset_ms, payload)
  SELECT e.at, 'session_event', e.id, e.kind, e.session_id, e.offset_ms,
         to_jsonb(e) || jsonb_build_object('username', s.username, 'account_user', s.account_user,
                                           'target', s.target_name, 'client_addr', s.client_addr,
                                           'protocol', s.protocol)
  FROM new_events e LEFT JOIN sessions s ON s.id = e.session_id
  WHERE e.kind IN ('command','sql','file','risk')
  ORDER BY e.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    PERFORM pg_notify('vigil_siem', '');
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER siem_session_events AFTER INSERT ON session_events
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION siem_from_session_events();

CREATE OR REPLACE FUNCTION siem_from_audit() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  sid uuid;
  off bigint;
BEGIN
  IF NOT siem_enabled() THEN
    RETURN NULL;
  END IF;
  IF NEW.object_type = 'session' AND NEW.object_id ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    sid := NEW.object_id::uuid;
  ELSIF NEW.details ? 'session_id' AND (NEW.details->>'session_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN
    sid := (NEW.details->>'session_id')::uuid;
  END IF;
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

CREATE OR REPLACE FUNCTION siem_from_alert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT siem_enabled() THEN
    RETURN NULL;
  END IF;
  INSERT INTO siem_outbox(at, source, source_id, kind, session_id, offset_ms, payload)
  SELECT NEW.at, 'alert', NEW.id, 'alert', NEW.session_id, NEW.offset_ms,
         to_jsonb(NEW) || jsonb_build_object('account_user', s.account_user, 'target', s.target_name,
                                             'client_addr', s.client_addr, 'protocol', s.protocol)
  FROM (SELECT 1) one LEFT JOIN sessions s ON s.id = NEW.session_id;
  PERFORM pg_notify('vigil_siem', '');
  RETURN NULL;
END $$;
