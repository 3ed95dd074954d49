-- Compliance, part 1 (issue 8): dual authorization (access requests approved N of M), and
-- retention with legal holds. The safe's flag `require_dual_authorization` (0001) turns the
-- approval requirement on; the columns below say who approves and how many must.

ALTER TABLE safes
  ADD COLUMN approvals_needed     integer NOT NULL DEFAULT 1 CHECK (approvals_needed BETWEEN 1 AND 10),
  -- Approvers: these users, plus the safe's members holding `approver_permission` ('' = none).
  -- Never the requester, whatever the lists say.
  ADD COLUMN approver_user_ids    bigint[] NOT NULL DEFAULT '{}',
  ADD COLUMN approver_permission  text NOT NULL DEFAULT 'manage'
                                  CHECK (approver_permission IN ('', 'manage', 'monitor_live', 'view_recordings')),
  -- A SOC watcher must be present for the session to start (not enforceable yet: refused).
  ADD COLUMN moderated            boolean NOT NULL DEFAULT false,
  -- Retention class: pci (365 days, 90 hot), sox (7 years), hipaa (6 years) or custom
  -- (retention_days of 0001). hot_days: recordings older than this may move to the cold tier.
  ADD COLUMN retention_class      text NOT NULL DEFAULT 'custom' CHECK (retention_class IN ('pci','sox','hipaa','custom')),
  ADD COLUMN hot_days             integer CHECK (hot_days IS NULL OR hot_days BETWEEN 1 AND 36500);

CREATE TABLE access_requests (
  id             bigserial PRIMARY KEY,
  requester_id   bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  requester      text NOT NULL,
  account_id     bigint NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  safe_id        bigint NOT NULL REFERENCES safes(id) ON DELETE CASCADE,
  reason         text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  ticket_id      text NOT NULL DEFAULT '' CHECK (length(ticket_id) <= 128),
  window_from    timestamptz NOT NULL,
  window_to      timestamptz NOT NULL CHECK (window_to > window_from),
  approvals_needed integer NOT NULL,        -- the safe's N when the request was made
  status         text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending','approved','rejected','expired','cancelled')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  decided_at     timestamptz
);
CREATE INDEX access_requests_requester ON access_requests(requester_id, id);
CREATE INDEX access_requests_open ON access_requests(safe_id, status) WHERE status IN ('pending','approved');

CREATE TABLE access_request_decisions (
  id           bigserial PRIMARY KEY,
  request_id   bigint NOT NULL REFERENCES access_requests(id) ON DELETE CASCADE,
  approver_id  bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  approver     text NOT NULL,
  decision     text NOT NULL CHECK (decision IN ('approve','reject')),
  comment      text NOT NULL DEFAULT '',
  at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (request_id, approver_id)          -- N of M means N distinct people
);

ALTER TABLE sessions
  ADD COLUMN access_request_id bigint REFERENCES access_requests(id) ON DELETE SET NULL,
  -- Retention: when the recording and timeline were deleted (the row stays as evidence).
  ADD COLUMN purged_at timestamptz,
  -- 'hot' (recordings.dir) or 'cold' (retention.cold_dir).
  ADD COLUMN recording_tier text NOT NULL DEFAULT 'hot' CHECK (recording_tier IN ('hot','cold'));
CREATE INDEX sessions_retention ON sessions(ended_at) WHERE purged_at IS NULL AND ended_at IS NOT NULL;

CREATE TABLE legal_holds (
  id           bigserial PRIMARY KEY,
  scope        text NOT NULL CHECK (scope IN ('session','user','safe')),
  session_id   uuid REFERENCES sessions(id) ON DELETE CASCADE,
  user_id      bigint REFERENCES users(id) ON DELETE CASCADE,
  safe_id      bigint REFERENCES safes(id) ON DELETE CASCADE,
  reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
  created_by   text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  released_by  text,
  released_at  timestamptz,
  CHECK ((scope = 'session') = (session_id IS NOT NULL) AND (scope = 'user') = (user_id IS NOT NULL)
         AND (scope = 'safe') = (safe_id IS NOT NULL))
);
CREATE INDEX legal_holds_active ON legal_holds(scope) WHERE released_at IS NULL;
