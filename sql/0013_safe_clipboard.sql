-- Per-safe clipboard rule for graphical (RDP) sessions, as CyberArk PSM and Teleport offer it:
--   deny       (default) the clipboard channel is not relayed: nothing crosses either way
--   allow_log  text crosses both ways and every transfer is a `clipboard` timeline row with the
--              text (searchable, risk rules on text pasted to the target)
--   allow      text crosses both ways; the timeline row says who copied how much, not what
-- Only text formats are relayed; files and pictures on the clipboard never cross.
ALTER TABLE safes
  ADD COLUMN clipboard text NOT NULL DEFAULT 'deny' CHECK (clipboard IN ('deny', 'allow_log', 'allow'));

-- Timeline kind for clipboard transfers.
ALTER TABLE session_events DROP CONSTRAINT session_events_kind_check;
ALTER TABLE session_events ADD CONSTRAINT session_events_kind_check
  CHECK (kind IN ('command','file','lifecycle','note','output','risk','keystrokes','window_title','sql','clipboard'));
