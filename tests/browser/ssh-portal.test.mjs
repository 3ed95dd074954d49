// Browser tests of the portal's SSH pieces: the Connect dialog (one-time ssh command, copy button,
// countdown), the browser terminal page (xterm.js loads under the portal's CSP and reports the
// session's end), SSH public keys in the profile (inline validation error, add, delete), the
// Sessions page (empty state), and the SSH policy checkboxes of a safe.
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil node --test tests/browser/
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';

const STEP_TIMEOUT_MS = 120_000;
// The SSH listener on a free port: the Connect command names it.
const server = new VigilServer({ name: 'vigil-ssh-portal', extraConfig: ['ssh:', '  address: 127.0.0.1', '  port: 0'] });
const session = new BrowserSession('ssh-portal');
const keyDir = mkdtempSync(join(tmpdir(), 'vigil-ssh-portal-keys-'));
let page;
let account;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

/** A fresh OpenSSH key pair made for this run: { publicLine, fingerprint }. */
function makeKey(name) {
  const file = join(keyDir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${name}@test`, '-f', file]);
  const publicLine = readFileSync(`${file}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${file}.pub`], { encoding: 'utf8' }).split(/\s+/)[1];
  return { publicLine, fingerprint };
}

describe('Portal: SSH connect, browser terminal, SSH keys, sessions', { timeout: 15 * 60_000 }, () => {
  it('vigil serve starts and Chromium launches', { timeout: 240_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      ensureVendor();
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
      rmSync(keyDir, { recursive: true, force: true });
    }
  });

  step('the superuser logs in and an SSH account is set up for them (API)', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', {
      name: 'Linux', policy: { allowed_protocols: ['ssh'], record_sessions: true },
    });
    const target = await apiCall(page, 'POST', '/targets', { name: 'web01', protocol: 'ssh', address: '127.0.0.1', port: 1 });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: 'root', secret_kind: 'password',
      secret: `S-${randomBytes(9).toString('hex')}`,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['connect', 'view_recordings'] });
  });

  step('the Sessions page shows its empty state before any session', async () => {
    await page.goto(`${server.url}#/sessions`);
    await page.locator('#sessions .state-empty').waitFor();
    assert.equal(await page.locator('#sessions .state-title').textContent(), 'No sessions yet');
    assert.equal(await page.locator('#sessions table').count(), 0);
    await session.screenshot('sessions-empty');
  });

  step('Connect shows a one-time ssh command with a countdown, and Copy puts it on the clipboard', async () => {
    await page.goto(`${server.url}#/my-accounts`);
    const connect = page.locator(`button[data-connect="${account.id}"]`);
    await connect.waitFor();
    await connect.click();
    const command = page.locator('#launch-command');
    await command.waitFor();
    const text = (await command.textContent()).trim();
    const match = text.match(/^ssh (?:-p (\d+) )?(\S+)@(\S+)$/);
    assert.ok(match, `an ssh command: ${text}`);
    assert.ok(match[2].length >= 20 && !/^root$|admin/.test(match[2]), `the login name is a token: ${match[2]}`);
    assert.match(await page.locator('#launch-countdown').textContent(), /^Valid for \d+ s$/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'launch-copy', 'focus is on Copy');
    await page.keyboard.press('Enter');
    await page.locator('#launch-copy', { hasText: 'Copied' }).waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), text);
    await session.screenshot('connect-dialog');
    // The countdown moves.
    const before = Number((await page.locator('#launch-countdown').textContent()).match(/\d+/)[0]);
    await page.waitForFunction((n) => {
      const m = document.getElementById('launch-countdown').textContent.match(/\d+/);
      return m && Number(m[0]) < n;
    }, before, { timeout: 5000 });
    await page.keyboard.press('Escape');
    await page.locator('#connect-dialog').waitFor({ state: 'detached' });
    assert.equal(await page.locator(`text=${match[2]}`).count(), 0, 'the token leaves the page with the dialog');
  });

  step('an expired command is struck out, cannot be copied, and Connect again issues a new one', async () => {
    await page.locator(`button[data-connect="${account.id}"]`).click();
    await page.locator('#launch-command').waitFor();
    const first = (await page.locator('#launch-command').textContent()).trim();
    // Jump the page's clock past the token's lifetime instead of waiting a minute.
    await page.evaluate(() => {
      const real = Date.now.bind(Date);
      window.__realNow = real;
      Date.now = () => real() + 10 * 60_000;
    });
    await page.locator('#launch-countdown', { hasText: 'Expired — press Connect again' }).waitFor({ timeout: 5000 });
    assert.ok(await page.locator('#launch-copy').isDisabled(), 'Copy is disabled once expired');
    assert.ok(await page.locator('.command-box.command-expired').isVisible());
    await session.screenshot('connect-expired');
    await page.evaluate(() => { Date.now = window.__realNow; });
    await page.click('#launch-again');
    await page.locator('#launch-countdown', { hasText: /^Valid for \d+ s$/ }).waitFor();
    const second = (await page.locator('#launch-command').textContent()).trim();
    assert.notEqual(second, first, 'a new token');
    assert.ok(await page.locator('#launch-copy').isEnabled());
    await page.click('#connect-close');
    await page.locator('#connect-dialog').waitFor({ state: 'detached' });
  });

  step('Open in browser loads the terminal under the CSP and reports how the session ended', async () => {
    await page.locator(`button[data-connect="${account.id}"]`).click();
    await page.locator('#launch-command').waitFor();
    await page.click('#connect-browser');
    await page.locator('#terminal .xterm').waitFor();
    // The target (port 1) is down: the session closes with a message, shown as status.
    await page.locator('#terminal-status[data-state="closed"]').waitFor({ timeout: 60_000 });
    const status = await page.locator('#terminal-status').textContent();
    assert.match(status, /^Closed: /);
    assert.ok(!/code 1006/.test(status), `a reason, not a bare close code: ${status}`);
    assert.ok(await page.locator('#terminal-reconnect').isVisible());
    await session.screenshot('terminal-closed');
    assert.deepEqual(session.problems, [], 'no CSP violations or page errors (xterm’s styles go through the shim)');
  });

  step('the profile explains the identity login and refuses a malformed key inline', async () => {
    await page.goto(`${server.url}#/profile`);
    await page.locator('#ssh-keys-panel').waitFor();
    assert.match(await page.locator('#identity-login-syntax').textContent(),
      new RegExp(`^ssh -p <port> ${server.admin.username}%<account>%<target>@`));
    await page.locator('#ssh-keys-list .state-empty').waitFor();
    await page.fill('#ssh-key-text', 'ssh-ed25519 this-is-not-base64!!');
    await page.click('#ssh-key-form button[type=submit]');
    const error = page.locator('#ssh-key-error');
    await error.waitFor({ state: 'visible' });
    assert.ok((await error.textContent()).length > 5, 'the server’s validation message is shown');
    assert.equal(await page.locator('#ssh-keys-list tbody tr').count(), 0);
    await session.screenshot('ssh-key-invalid');
  });

  step('a real public key is added with its fingerprint, then deleted after confirmation', async () => {
    const key = makeKey('laptop');
    await page.fill('#ssh-key-text', key.publicLine);
    await page.fill('#ssh-key-comment', 'work laptop');
    await page.click('#ssh-key-form button[type=submit]');
    const row = page.locator('#ssh-keys-list tbody tr', { hasText: key.fingerprint });
    await row.waitFor();
    const text = await row.textContent();
    assert.ok(text.includes('ssh-ed25519') && text.includes('work laptop'), text);
    assert.ok(await page.locator('#ssh-key-error').isHidden(), 'the earlier error is gone');
    assert.equal(await page.inputValue('#ssh-key-text'), '', 'the form is cleared');
    await session.screenshot('ssh-key-added');

    await row.getByRole('button', { name: /Delete key/ }).click();
    const dialog = page.locator('dialog', { hasText: 'Delete this SSH key?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Delete key' }).click();
    await page.locator('#ssh-keys-list .state-empty').waitFor();
    const left = await apiCall(page, 'GET', '/me/ssh-keys');
    assert.equal((Array.isArray(left) ? left : left.items).length, 0);
  });

  step('the Recordings page lists the browser session that could not reach its target', async () => {
    await page.locator('#nav').getByRole('link', { name: 'Recordings', exact: true }).click();
    const row = page.locator('#sessions tbody tr').first();
    await row.waitFor();
    const text = await row.textContent();
    for (const expected of ['root@web01', 'Browser', 'Target unreachable']) assert.ok(text.includes(expected), `${expected} in: ${text}`);
    await session.screenshot('sessions');
  });

  step('the Recordings page shows 50 sessions and appends the rest with Load more', async () => {
    // 50 more sessions (each refused at the unreachable target), opened straight from the page.
    await page.evaluate(async (id) => {
      for (let i = 0; i < 50; i += 1) {
        await new Promise((done) => {
          const ws = new WebSocket(`wss://${window.location.host}/api/v1/accounts/${id}/terminal?cols=80&rows=24`);
          ws.addEventListener('close', done);
        });
      }
    }, account.id);
    await page.goto(`${server.url}#/my-accounts`);
    await page.goto(`${server.url}#/sessions`);
    const rows = page.locator('#sessions tbody tr');
    await page.locator('#recordings-more').waitFor();
    assert.equal(await rows.count(), 50);
    const newest = await rows.first().getAttribute('data-key');
    await page.click('#recordings-more');
    await page.waitForFunction(() => document.querySelectorAll('#sessions tbody tr').length === 51);
    assert.ok(await page.locator('#recordings-more').isHidden(), 'no page after the first session');
    assert.equal(await rows.first().getAttribute('data-key'), newest, 'the first page stays in place');
    assert.match(await page.textContent('#recordings-count'), /51 sessions shown — that is all/);
  });

  step('a safe’s SSH policy checkboxes save and load back', async () => {
    const safes = await apiCall(page, 'GET', '/safes');
    const safe = safes.items.find((s) => s.name === 'Linux');
    await page.goto(`${server.url}#/safes/${safe.id}`);
    const box = (name) => page.locator(`#ssh-policy input[name="${name}"]`);
    await box('allow_port_forwarding').waitFor();
    assert.equal(await box('allow_file_transfer').isChecked(), true);
    assert.equal(await box('allow_port_forwarding').isChecked(), false);
    await box('allow_port_forwarding').check();
    await box('trust_on_first_use').check();
    await page.click('#safe-edit-form button[type=submit]');
    await page.waitForFunction(async (id) => {
      const r = await fetch(`/api/v1/safes/${id}`);
      const s = await r.json();
      return s.policy.allow_port_forwarding === true && s.policy.trust_on_first_use === true;
    }, safe.id, { timeout: 10_000 });
    await page.reload();
    await box('allow_port_forwarding').waitFor();
    assert.equal(await box('allow_port_forwarding').isChecked(), true);
    assert.equal(await box('allow_agent_forwarding').isChecked(), false);
  });

  step('the whole run had no CSP violations or page errors', async () => {
    assert.deepEqual(session.problems, []);
  });
});
