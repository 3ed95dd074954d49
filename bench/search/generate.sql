-- Synthetic history for the search benchmark: :users users, :safes safes, :targets targets (one
-- account each), :sessions sessions over the last year and :events_per_session timeline rows per
-- session (commands, output lines, file operations, risk events). Loaded with the GIN indexes
-- dropped and rebuilt afterwards, as a bulk import would. Run by bench/search/run.sh.
\set ON_ERROR_STOP on
SET maintenance_work_mem = '1GB';
SET synchronous_commit = off;
\timing on
\echo users, safes, targets, accounts

INSERT INTO users (username, display_name, roles)
SELECT 'user' || i, 'Bench user ' || i, ARRAY['auditor'] FROM generate_series(1, :users) i;
INSERT INTO safes (name, description) SELECT 'safe-' || i, 'bench' FROM generate_series(1, :safes) i;
INSERT INTO targets (name, protocol, address, port)
SELECT 'host' || i, CASE WHEN i % 10 = 0 THEN 'postgres' WHEN i % 7 = 0 THEN 'rdp' ELSE 'ssh' END,
       '10.0.' || (i / 250) || '.' || (i % 250), 22
FROM generate_series(1, :targets) i;
INSERT INTO accounts (safe_id, target_id, username, secret_kind, secret_key_id, secret_wrapped_key, secret_ciphertext)
SELECT (SELECT min(id) FROM safes) + (t.id % :safes), t.id, 'root', 'password', 'bench', '\x00', '\x00'
FROM targets t;

\echo sessions
-- Sessions: ids are UUIDv7-shaped (time-ordered by started_at), like the proxies write them.
CREATE TEMP TABLE s_gen AS
SELECT i,
       now() - interval '365 days' + (i::double precision / :sessions) * interval '365 days'
         + (random() * interval '20 minutes') AS started,
       (30 + (random() ^ 3) * 14400)::int AS dur_s,
       1 + (hashint4(i) & 2147483647) % :users AS u,
       1 + (hashint4(i + 7) & 2147483647) % :targets AS t
FROM generate_series(1, :sessions) i;

INSERT INTO sessions (id, node, user_id, username, account_id, account_user, target_id, target_name,
                      target_address, safe_id, safe_name, protocol, via, client_addr, started_at,
                      ended_at, end_reason, recording_path, recording_bytes, command_count,
                      risk_score, review_status)
SELECT (lpad(to_hex((extract(epoch FROM g.started) * 1000)::bigint), 12, '0') || '7' ||
        substr(md5(g.i::text), 1, 3) || '8' || substr(md5(g.i::text), 4, 15))::uuid,
       'node-a', usr.id, usr.username, a.id, a.username, tg.id, tg.name, tg.address, sf.id, sf.name,
       tg.protocol, CASE WHEN g.i % 5 = 0 THEN 'web' ELSE 'ssh' END,
       '192.0.2.' || (g.i % 250) || ':' || (40000 + g.i % 20000),
       g.started, g.started + g.dur_s * interval '1 second', 'client_closed',
       '', 0, :events_per_session / 2,
       CASE WHEN g.i % 50 = 0 THEN 40 + g.i % 60 WHEN g.i % 7 = 0 THEN 10 ELSE 0 END,
       (ARRAY['unreviewed','unreviewed','unreviewed','reviewed_ok','reviewed_suspicious','requires_investigation'])[1 + g.i % 6]
FROM s_gen g
JOIN users usr ON usr.username = 'user' || g.u
JOIN targets tg ON tg.name = 'host' || g.t
JOIN accounts a ON a.target_id = tg.id
JOIN safes sf ON sf.id = a.safe_id;

DROP INDEX IF EXISTS session_events_fts;
DROP INDEX IF EXISTS session_events_trgm;

\echo timeline rows
-- Timeline rows: commands drawn from an administrator's vocabulary with varying arguments, the
-- output lines they print, and now and then a file transfer or a risk event.
INSERT INTO session_events (session_id, at, offset_ms, kind, text, details)
SELECT s.id, s.started_at + (s.ended_at - s.started_at) * e / :events_per_session,
       (extract(epoch FROM s.ended_at - s.started_at) * 1000 * e / :events_per_session)::bigint,
       CASE WHEN e % 2 = 1 THEN 'command'
            WHEN e % 20 = 0 THEN 'file'
            WHEN e = 4 AND s.risk_score > 0 THEN 'risk'
            ELSE 'output' END,
       CASE WHEN e % 2 = 1 THEN
              (ARRAY['ls -la /var/log/', 'tail -n 200 /var/log/syslog', 'systemctl restart nginx',
                     'journalctl -u sshd --since today', 'df -h', 'free -m', 'ps aux | grep java',
                     'cat /etc/hosts', 'vi /etc/nginx/sites-enabled/', 'sudo apt-get upgrade -y',
                     'grep -R "timeout" /etc/', 'du -sh /srv/data/', 'tar czf /tmp/backup-',
                     'docker ps -a', 'kubectl get pods -n ', 'rm -rf /tmp/build-', 'chmod 644 /etc/',
                     'iptables -L -n', 'netstat -tlnp', 'curl -s http://localhost:8080/health',
                     'psql -c "select count(*) from orders"', 'crontab -l', 'useradd deploy',
                     'openssl x509 -noout -in /etc/ssl/certs/', 'mysql -e "show processlist"'])
                [1 + ((hashtext(s.id::text) # hashint4(e)) & 2147483647) % 25]
              || substr(md5(s.id::text || e), 1, 6)
            WHEN e = 4 AND s.risk_score > 0 THEN 'rule chmod-777: chmod 777 /srv/www/' || substr(md5(s.id::text), 1, 6)
            WHEN e % 20 = 0 THEN '/srv/releases/app-' || substr(md5(s.id::text || e), 1, 8) || '.tar.gz'
            ELSE (ARRAY['total 48 drwxr-xr-x 2 root root 4096 ', 'Active: active (running) since ',
                        'Filesystem Size Used Avail Use% Mounted on ', 'tcp 0 0 0.0.0.0:22 LISTEN ',
                        'error: connection refused by upstream ', 'OK ', 'Reading package lists... Done ',
                        'CONTAINER ID IMAGE COMMAND CREATED STATUS '])
                   [1 + ((hashtext(s.id::text) # hashint4(e * 31)) & 2147483647) % 8] || substr(md5(e::text || s.id::text), 1, 10)
       END,
       '{}'::jsonb
FROM sessions s CROSS JOIN generate_series(1, :events_per_session) e;

\echo indexes (full text, trigram) and statistics
CREATE INDEX session_events_fts ON session_events USING gin (to_tsvector('simple', text));
CREATE INDEX session_events_trgm ON session_events USING gin (text gin_trgm_ops);
VACUUM ANALYZE sessions;
VACUUM ANALYZE session_events;
