-- Recordings sorted by risk (GET /sessions?sort=risk_desc, the review order): the whole sort key
-- in one index, read backwards, instead of sorting every session with a risk score.
CREATE INDEX sessions_risk_started ON sessions(risk_score, started_at, id);
DROP INDEX IF EXISTS sessions_risk_id;
