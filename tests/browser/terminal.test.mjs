// End to end through the browser terminal: Chromium (xterm.js) → Vigil's WebSocket → the SSH
// proxy → a real private sshd. Types a command, sees its output, and finds it in the session's
// recording. Nothing is skipped: a missing piece (sshd, the SSH listener, the terminal bridge,
// the sessions API) fails the test.
//
// Not in the default `node --test tests/browser/` run (its name does not end in .test.mjs) until
// the SSH proxy and the session API are on main; run it with
//   VIGIL_BIN=build/server/vigil node --test tests/browser/terminal.e2e.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';
import { Sshd } from './sshd.mjs';

const STEP_TIMEOUT_MS = 120_000;
const sshd = new Sshd();
const server = new VigilServer({
  name: 'vigil-terminal-e2e',
  extraConfig: ['ssh:', '  enabled: true', '  address: 127.0.0.1', '  port: 0'],
});
const session = new BrowserSession('terminal-e2e');
const MARKER = `hi-${randomBytes(4).toString('hex')}`;
let page;
let account;
let sessionId;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

/** The terminal's visible text, one string per row. */
const screenRows = () => page.locator('#terminal .xterm-rows > div').allTextContents();

/** The recording as asciicast text (zstd-compressed at rest; the API may pass it through). */
async function fetchRecording(id) {
  const b64 = await page.evaluate(async (sid) => {
    const r = await fetch(`/api/v1/sessions/${encodeURIComponent(sid)}/recording`);
    if (!r.ok) return `ERROR ${r.status} ${await r.text()}`;
    const bytes = new Uint8Array(await r.arrayBuffer());
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }, id);
  if (b64.startsWith('ERROR')) throw new Error(`recording: ${b64}`);
  let data = Buffer.from(b64, 'base64');
  if (data.length >= 4 && data.readUInt32LE(0) === 0xfd2fb528) data = execFileSync('zstd', ['-dc'], { input: data });
  return data.toString('utf8');
}

describe('Browser terminal end to end', { timeout: 15 * 60_000 }, () => {
  it('sshd, vigil serve (with the SSH listener) and Chromium start', { timeout: 240_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      ensureVendor();
      await sshd.start();
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
      sshd.stop();
      if (steps.failed) process.stderr.write(`${server.tail()}\n`);
    }
  });

  step('an account on the sshd is set up for the superuser', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', { name: 'E2E', policy: { allowed_protocols: ['ssh'], record_sessions: true } });
    const target = await apiCall(page, 'POST', '/targets', {
      name: 'sshd', protocol: 'ssh', address: '127.0.0.1', port: sshd.port, host_key_fingerprint: sshd.hostKeyFingerprint,
    });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: sshd.user, secret_kind: 'password', secret: sshd.password,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['connect', 'view_recordings'] });
  });

  step('Open in browser connects and shows the session id', async () => {
    await page.goto(`${server.url}#/my-accounts`);
    await page.locator(`button[data-terminal="${account.id}"]`).click();
    await page.locator('#terminal-status[data-state="connected"]').waitFor({ timeout: 60_000 });
    sessionId = await page.locator('#terminal').getAttribute('data-session-id');
    assert.match(sessionId, /^[0-9a-f-]{36}$/);
    assert.match(await page.locator('#terminal-status').textContent(), new RegExp(`session ${sessionId}`));
    assert.equal(await page.locator('#terminal-title').textContent(), `${sshd.user}@sshd`);
  });

  step('typing `echo` shows its output in the terminal', async () => {
    // The keyboard focus is on the terminal without a click.
    await page.waitForFunction(() => document.activeElement && document.activeElement.closest('#terminal'));
    // Like a person, type at the shell's prompt: keys sent before the shell has set up its
    // terminal run, but the tty may not echo them (seen under load in CI).
    await page.waitForFunction(() => [...document.querySelectorAll('#terminal .xterm-rows > div')]
      .some((row) => /[$#>]\s*$/.test(row.textContent.trimEnd()) && row.textContent.trim() !== ''), null, { timeout: 30_000 });
    await page.keyboard.type(`echo ${MARKER}`);
    await page.keyboard.press('Enter');
    await page.waitForFunction((m) => [...document.querySelectorAll('#terminal .xterm-rows > div')]
      .some((row) => row.textContent.trim() === m), MARKER, { timeout: 20_000 });
    await session.screenshot('echo');
    const rows = await screenRows();
    assert.ok(rows.some((r) => r.includes(`echo ${MARKER}`)), 'the command line is shown (echoed by the shell)');
  });

  step('the window size follows the browser window', async () => {
    const before = await page.evaluate(() => document.querySelector('#terminal .xterm-rows').children.length);
    await page.setViewportSize({ width: 900, height: 600 });
    await page.waitForFunction((n) => document.querySelector('#terminal .xterm-rows').children.length < n, before);
    await page.keyboard.type('stty size');
    await page.keyboard.press('Enter');
    const rows = await page.evaluate(() => document.querySelector('#terminal .xterm-rows').children.length);
    await page.waitForFunction((r) => [...document.querySelectorAll('#terminal .xterm-rows > div')]
      .some((row) => new RegExp(`^${r} \\d+$`).test(row.textContent.trim())), rows, { timeout: 20_000 });
  });

  step('Disconnect ends the session and says so', async () => {
    await page.click('#terminal-disconnect');
    await page.locator('#terminal-status[data-state="closed"]').waitFor({ timeout: 20_000 });
    assert.match(await page.locator('#terminal-status').textContent(), /^Closed: /);
  });

  step('the recording holds the command and its output; the session is listed as a browser session', async () => {
    let text = '';
    for (let i = 0; i < 20 && !text.includes(MARKER); i += 1) {
      try { text = await fetchRecording(sessionId); } catch { /* not finished yet */ }
      if (!text.includes(MARKER)) await new Promise((r) => setTimeout(r, 500));
    }
    const lines = text.split('\n').filter(Boolean);
    const header = JSON.parse(lines[0]);
    assert.equal(header.version, 2);
    const events = lines.slice(1).map((l) => JSON.parse(l));
    const output = events.filter((e) => e[1] === 'o').map((e) => e[2]).join('');
    assert.ok(output.includes(`${MARKER}\r\n`), 'the output event has the echo');
    const input = events.filter((e) => e[1] === 'i').map((e) => e[2]).join('');
    assert.ok(input.includes(`echo ${MARKER}`), 'the input events have the keystrokes');

    await page.goto(`${server.url}#/sessions`);
    const row = page.locator(`#sessions tbody tr[data-key="${sessionId}"]`);
    await row.waitFor();
    const cells = await row.textContent();
    assert.ok(cells.includes('Browser') && cells.includes(`${sshd.user}@sshd`), cells);
    assert.deepEqual(session.problems, [], 'no CSP violations or page errors');
  });
});
