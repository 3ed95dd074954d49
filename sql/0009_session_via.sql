-- How the person reached Vigil: their own client of the session's protocol ('ssh', 'rdp', 'tds',
-- 'postgres') or the browser ('web'). Until now RDP and database sessions were stored as 'ssh'.
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_via_check;
ALTER TABLE sessions ADD CONSTRAINT sessions_via_check CHECK (via IN ('ssh', 'rdp', 'tds', 'postgres', 'web'));
UPDATE sessions SET via = protocol WHERE via = 'ssh' AND protocol IN ('rdp', 'tds', 'postgres');
