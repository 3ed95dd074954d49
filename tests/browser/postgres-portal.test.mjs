// Browser test of the portal's PostgreSQL pieces: Connect on a postgres account shows a ready
// `psql "host=... port=... user=... dbname=... sslmode=require"` line and the one-time token as
// the password (no "Open in browser"); that exact line, run by a real psql with the token, reaches
// a real PostgreSQL target through Vigil; the player shows the session's statements with their
// rows and duration (a database session has no terminal recording).
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil node --test tests/browser/postgres-portal.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';

const STEP_TIMEOUT_MS = 120_000;
const PGBIN = '/usr/lib/postgresql/15/bin';
const server = new VigilServer({ name: 'vigil-pg-portal', extraConfig: ['ssh:', '  port: 0', 'postgres_proxy:', '  enabled: true', '  port: 0'] });
const session = new BrowserSession('postgres-portal');
let page;
let account;
let target;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

function freePort() {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

/** A private PostgreSQL target: TLS on, role `dba` with a SCRAM password, database `dba`. */
async function startTarget() {
  const dir = mkdtempSync('/tmp/vigil-pgportal-');
  chmodSync(dir, 0o755);
  execSync(`chown postgres ${dir}`);
  const port = await freePort();
  const password = `Dba-${randomBytes(8).toString('hex')}`;
  const data = join(dir, 'data');
  execSync(`runuser -u postgres -- ${PGBIN}/initdb -D ${data} -A trust --no-sync -E UTF8 --locale=C.UTF-8 -U postgres`, { stdio: 'ignore' });
  execSync(`openssl req -x509 -newkey rsa:2048 -nodes -keyout ${data}/server.key -out ${data}/server.crt -days 2 -subj /CN=pg ` +
    `&& chown postgres ${data}/server.key ${data}/server.crt && chmod 600 ${data}/server.key`, { stdio: 'ignore' });
  appendFileSync(join(data, 'postgresql.conf'), `ssl = on\npassword_encryption = 'scram-sha-256'\nlisten_addresses = '127.0.0.1'\n` +
    `port = ${port}\nunix_socket_directories = '${dir}'\nfsync = off\n`);
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n');
  execSync(`runuser -u postgres -- ${PGBIN}/pg_ctl -w -D ${data} -l ${dir}/log start`, { stdio: 'ignore' });
  execSync(`runuser -u postgres -- psql -X -q -h ${dir} -p ${port} -U postgres -d postgres ` +
    `-c "CREATE ROLE dba LOGIN PASSWORD '${password}'" -c "CREATE DATABASE dba OWNER dba"`, { stdio: 'ignore' });
  return {
    dir, port, password,
    stop: () => {
      try { execSync(`runuser -u postgres -- ${PGBIN}/pg_ctl -D ${data} -m immediate stop`, { stdio: 'ignore' }); } catch { /* gone */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('Portal: PostgreSQL connect and the statement player', { timeout: 10 * 60_000 }, () => {
  it('vigil serve, a PostgreSQL target and Chromium start', { timeout: 240_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      ensureVendor();
      target = await startTarget();
      await server.start();
      page = await session.launch();
      await session.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(server.url).origin });
    } catch (error) {
      steps.fail();
      throw error;
    }
  });

  after(async () => {
    try {
      await session.close();
    } finally {
      await server.stop();
      if (steps.failed) process.stderr.write(`${server.tail()}\n`);
      if (target) target.stop();
    }
  });

  step('the superuser sets up a postgres account for themselves (API)', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', { name: 'Databases', policy: { allowed_protocols: ['postgres'] } });
    const t = await apiCall(page, 'POST', '/targets', { name: 'pg01', protocol: 'postgres', address: '127.0.0.1', port: target.port });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: t.id, username: 'dba', secret_kind: 'password', secret: target.password,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['connect', 'view_recordings'] });
  });

  let command;
  let token;
  step('Connect shows a ready psql line and the one-time token as the password', async () => {
    await page.goto(`${server.url}#/my-accounts`);
    const connect = page.locator(`button[data-connect="${account.id}"]`);
    await connect.waitFor();
    await connect.click();
    await page.locator('#launch-command').waitFor();
    command = (await page.locator('#launch-command').textContent()).trim();
    const pgLine = server.output.find((l) => /^PostgreSQL: /.test(l));
    assert.ok(pgLine, 'vigil printed its PostgreSQL listener');
    const port = pgLine.match(/:(\d+)$/)[1];
    assert.equal(command, `psql "host=127.0.0.1 port=${port} user=dba dbname=dba sslmode=require"`);
    token = (await page.locator('#launch-password').textContent()).trim();
    assert.ok(token.length >= 20, 'a token');
    assert.ok(await page.locator('#connect-browser').isHidden(), 'no browser terminal for a database account');
    await page.click('#launch-password-copy');
    await page.locator('#launch-password-copy', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), token);
    await session.screenshot('postgres-connect-dialog');
    await page.click('#connect-close');
    await page.locator('#connect-dialog').waitFor({ state: 'detached' });
  });

  step('the shown psql line with the token reaches the target as the vault account', async () => {
    const argv = command.match(/^psql "(.*)"$/)[1];
    const out = execFileSync('psql', ['-X', '-At', argv, '-c', 'SELECT current_user', '-c', 'SELECT generate_series(1, 3)'], {
      env: { ...process.env, PGPASSWORD: token }, encoding: 'utf8', timeout: 30_000,
    });
    assert.equal(out.trim(), 'dba\n1\n2\n3');
  });

  step('the player lists the statements with rows and duration', async () => {
    const list = await apiCall(page, 'GET', `/sessions?account_id=${account.id}`);
    const sid = list.items[0].id;
    await page.goto(`${server.url}#/sessions/${sid}`);
    await page.locator('#player-sql-notice').waitFor();
    const row = page.locator('.transcript-row.kind-sql', { hasText: 'SELECT generate_series(1, 3)' });
    await row.waitFor();
    assert.match(await row.locator('.transcript-sql').textContent(), /\d+ ms · 3 rows · SELECT 3/);
    await session.screenshot('postgres-player');
  });
});
