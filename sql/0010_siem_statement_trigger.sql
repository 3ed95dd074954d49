-- SIEM outbox feeding, cheaper:
-- * session events (thousands per second under a busy database session) are copied into the
--   outbox by one statement-level trigger per INSERT (a batch of the event writer) through its
--   transition table, with one NOTIFY per batch instead of one per row;
-- * nothing goes into the outbox while no node forwards anywhere (`siem_state.enabled`, set by the
--   forwarder from the configuration when it starts): the outbox is for delivery, not storage.
--   The feeding triggers carry the condition (WHEN), their functions are unchanged.
ALTER TABLE siem_state ADD COLUMN enabled boolean NOT NULL DEFAULT true;

CREATE FUNCTION siem_enabled() RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce((SELECT enabled FROM siem_state WHERE id = 1), true) $$;

DROP TRIGGER siem_session_event ON session_events;
DROP FUNCTION siem_from_session_event();

CREATE FUNCTION siem_from_session_events() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
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
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT WHEN (siem_enabled())
  EXECUTE FUNCTION siem_from_session_events();

DROP TRIGGER siem_audit ON audit_log;
CREATE TRIGGER siem_audit AFTER INSERT ON audit_log FOR EACH ROW WHEN (siem_enabled())
  EXECUTE FUNCTION siem_from_audit();

DROP TRIGGER siem_alert ON alerts;
CREATE TRIGGER siem_alert AFTER INSERT ON alerts FOR EACH ROW WHEN (siem_enabled())
  EXECUTE FUNCTION siem_from_alert();
