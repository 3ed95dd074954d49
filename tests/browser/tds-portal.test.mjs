// Browser test of the portal's Connect dialog for a SQL Server (TDS) account: a one-time `tsql`
// command line and a connection string with Vigil's TDS listener, the account's SQL login and
// the token as the password; the browser-terminal button is not offered; the command works
// with the real tsql (Vigil redeems the token, then reports the unreachable target).
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil node --test tests/browser/tds-portal.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';

const STEP_TIMEOUT_MS = 120_000;
const server = new VigilServer({ name: 'vigil-tds-portal', extraConfig: ['tds_proxy:', '  enabled: true', '  port: 0'] });
const session = new BrowserSession('tds-portal');
let page;
let account;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

describe('Portal: SQL Server connect', { timeout: 10 * 60_000 }, () => {
  it('vigil serve starts and Chromium launches', { timeout: 240_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      ensureVendor();
      await server.start();
      page = await session.launch();
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
    }
  });

  step('a SQL Server account is set up for the superuser (API)', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', { name: 'Databases', policy: { allowed_protocols: ['tds'] } });
    // Port 1 on loopback: nothing listens, so the login gets as far as the target and no further.
    const target = await apiCall(page, 'POST', '/targets', { name: 'sql01', protocol: 'tds', address: '127.0.0.1', port: 1 });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: 'sa_app', secret_kind: 'password',
      secret: `S-${randomBytes(9).toString('hex')}`,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['connect'] });
  });

  step('Connect shows a tsql command and a connection string with the token as the password', async () => {
    await page.goto(`${server.url}#/my-accounts`);
    const connect = page.locator(`button[data-connect="${account.id}"]`);
    await connect.waitFor();
    await connect.click();
    const command = page.locator('#launch-command');
    await command.waitFor();
    const text = (await command.textContent()).trim();
    const m = text.match(/^tsql -H (\S+) -p (\d+) -U sa_app -P ([a-z2-7]{20,})$/);
    assert.ok(m, `a tsql command: ${text}`);
    const conn = (await page.locator('#launch-connection-string').textContent()).trim();
    assert.equal(conn, `Server=${m[1]},${m[2]};User ID=sa_app;Password=${m[3]};Encrypt=True;TrustServerCertificate=True`);
    assert.ok(await page.locator('#connect-browser').isHidden(), 'no browser terminal for a SQL Server account');
    await session.screenshot('tds-connect-dialog');

    // The real tsql with that command line: Vigil takes the token and tries the (unreachable) target.
    const r = spawnSync('tsql', ['-H', '127.0.0.1', '-p', m[2], '-U', 'sa_app', '-P', m[3]],
      { input: 'select 1\ngo\nexit\n', encoding: 'utf8', timeout: 30_000 });
    const out = `${r.stdout}${r.stderr}`;
    assert.match(out, /Vigil could not log in to the target/, out);
    await page.keyboard.press('Escape');
    await page.locator('#connect-dialog').waitFor({ state: 'detached' });
  });
});
