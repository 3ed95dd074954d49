-- Review of recorded sessions (issue 4): the review history, comments anchored to a moment of
-- the recording, and the indexes the recordings search, the sorts and the review queue use.

CREATE TABLE session_reviews (
  id           bigserial PRIMARY KEY,
  session_id   uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  status       text NOT NULL CHECK (status IN ('unreviewed','reviewed_ok','reviewed_suspicious',
                                               'requires_investigation')),
  comment      text NOT NULL DEFAULT '',
  reviewer_id  bigint REFERENCES users(id) ON DELETE SET NULL,
  reviewer     text NOT NULL,
  at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_reviews_session ON session_reviews(session_id, id);

CREATE TABLE session_comments (
  id          bigserial PRIMARY KEY,
  session_id  uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
  offset_ms   bigint NOT NULL CHECK (offset_ms >= 0),
  text        text NOT NULL,
  author_id   bigint REFERENCES users(id) ON DELETE SET NULL,
  author      text NOT NULL,
  at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_comments_session ON session_comments(session_id, offset_ms, id);

ALTER TABLE sessions ADD CONSTRAINT sessions_review_status_check
  CHECK (review_status IN ('unreviewed','reviewed_ok','reviewed_suspicious','requires_investigation'));

-- Keyset orders of GET /sessions: (key, id) so the next page starts strictly after the last row.
CREATE INDEX sessions_started_id ON sessions(started_at, id);
CREATE INDEX sessions_risk_id ON sessions(risk_score, id);
CREATE INDEX sessions_username ON sessions(username, started_at);
CREATE INDEX sessions_target ON sessions(target_id, started_at);
CREATE INDEX sessions_account ON sessions(account_id, started_at);
-- The review queue: unreviewed ended sessions, highest risk first, then oldest.
CREATE INDEX sessions_review_queue ON sessions(risk_score DESC, started_at, id)
  WHERE review_status = 'unreviewed' AND ended_at IS NOT NULL;
-- Per-session timeline by kind (markers: kind = 'risk'; transcript filters).
CREATE INDEX session_events_session_kind ON session_events(session_id, kind, offset_ms);
