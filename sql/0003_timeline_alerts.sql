-- Shared by review, SOC and the protocols to come: the kinds of timeline events every protocol
-- writes, and the alerts the risk engine raises.

-- Timeline event kinds:
--   command       a shell command (SSH) as the shell ran it
--   file          an SFTP/scp file operation
--   lifecycle     start, end, channel opened, SOC actions (suspend/resume/terminate)
--   note          anything else (exit status, refused forwarding, ...)
--   output        text the person was shown (terminal lines), for search
--   risk          a risk rule matched (details: rule id, severity, score, actions) — player markers
--   keystrokes    text typed (RDP keystroke lines)
--   window_title  a window title change (RDP)
--   sql           an SQL statement (databases; details: duration, rows, error)
ALTER TABLE session_events DROP CONSTRAINT session_events_kind_check;
ALTER TABLE session_events ADD CONSTRAINT session_events_kind_check
  CHECK (kind IN ('command','file','lifecycle','note','output','risk','keystrokes','window_title','sql'));

-- Risk alerts: one per rule match whose actions include "alert" (or any block/suspend/terminate/
-- lock). The SOC acknowledges them; the SIEM forwarder sends them.
CREATE TABLE alerts (
  id             bigserial PRIMARY KEY,
  at             timestamptz NOT NULL DEFAULT now(),
  session_id     uuid REFERENCES sessions(id) ON DELETE CASCADE,
  offset_ms      bigint NOT NULL DEFAULT 0,          -- position in the session's recording
  user_id        bigint REFERENCES users(id) ON DELETE SET NULL,
  username       text NOT NULL DEFAULT '',
  rule_id        text NOT NULL,
  severity       text NOT NULL CHECK (severity IN ('low','medium','high','critical')),
  score          integer NOT NULL DEFAULT 0,
  actions        text[] NOT NULL DEFAULT '{}',        -- what was done: alert, block, suspend, ...
  message        text NOT NULL DEFAULT '',            -- the rule's description
  matched        text NOT NULL DEFAULT '',            -- the command / statement / title matched
  status         text NOT NULL DEFAULT 'open' CHECK (status IN ('open','acknowledged')),
  acknowledged_by text NOT NULL DEFAULT '',
  acknowledged_at timestamptz
);
CREATE INDEX alerts_at ON alerts(at);
CREATE INDEX alerts_session ON alerts(session_id);
CREATE INDEX alerts_open ON alerts(id) WHERE status = 'open';
