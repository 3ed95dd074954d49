// The SOC's Live sessions page end to end: a real `ssh` through Vigil's SSH listener to a real
// private sshd appears on the page (pushed over the SOC WebSocket); Watch shows its output
// live in a read-only xterm.js; Suspend stops the user's keystrokes (a file the user tries to
// create does not appear), Resume restores them, Terminate ends the user's ssh with the reason.
// On a moderated safe another user's session is listed as needing a moderator and its input is
// held until the SOC presses Watch.
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil node --test tests/browser/live.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';
import { Sshd } from './sshd.mjs';

const STEP_TIMEOUT_MS = 120_000;
const server = new VigilServer({ name: 'vigil-live', extraConfig: ['ssh:', '  address: 127.0.0.1', '  port: 0'] });
const session = new BrowserSession('live');
const sshd = new Sshd();
let page;
let account;
let ssh; // { proc, out, exited }
let ssh2; // the operator's session on the moderated safe
let safeId;
const marker = `/tmp/vigil-live-browser-${randomBytes(4).toString('hex')}`;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

/**
 * Real `ssh -tt` on a pty of 100x30 (util-linux `script`, so the session has a real terminal
 * size), with a launch token; keys are written to script's stdin.
 */
function startSsh(port, token) {
  const ssh = `ssh -tt -p ${port} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes ${token}@127.0.0.1`;
  const proc = spawn('script', ['-qfec', `stty cols 100 rows 30; exec ${ssh}`, '/dev/null'],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TERM: 'xterm-256color' } });
  const s = { proc, out: '', exitCode: null };
  proc.stdout.setEncoding('utf8');
  proc.stderr.setEncoding('utf8');
  proc.stdout.on('data', (d) => { s.out += d; });
  proc.stderr.on('data', (d) => { s.out += d; });
  s.exited = new Promise((done) => proc.on('exit', (code) => { s.exitCode = code; done(code); }));
  return s;
}

async function waitForOutput(s, text, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!s.out.includes(text)) {
    if (Date.now() > deadline) throw new Error(`ssh output has no "${text}":\n${s.out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function submitDialog() {
  await page.locator('dialog[open] button[type=submit]').click();
  await page.locator('dialog[open]').waitFor({ state: 'detached', timeout: 10_000 });
}

describe('Live sessions page end to end', { timeout: 15 * 60_000 }, () => {
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
      if (ssh && ssh.exitCode === null) ssh.proc.kill('SIGKILL');
      if (ssh2 && ssh2.exitCode === null) ssh2.proc.kill('SIGKILL');
      await session.close();
    } finally {
      await server.stop();
      sshd.stop();
      if (steps.failed) process.stderr.write(`${server.tail()}\n`);
    }
  });

  step('an account on the sshd is set up and the user connects with the real ssh client', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', { name: 'Live', policy: { allowed_protocols: ['ssh'], record_sessions: true } });
    safeId = safe.id;
    const target = await apiCall(page, 'POST', '/targets', {
      name: 'sshd', protocol: 'ssh', address: '127.0.0.1', port: sshd.port, host_key_fingerprint: sshd.hostKeyFingerprint,
    });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: sshd.user, secret_kind: 'password', secret: sshd.password,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['connect'] });
    const launch = await apiCall(page, 'POST', `/accounts/${account.id}/launch`, {});
    ssh = startSsh(server.sshPort, launch.token);
    ssh.proc.stdin.write('echo ready-$((1+2))\n');
    await waitForOutput(ssh, 'ready-3');
  });

  step('the Live sessions page lists the running session, pushed over its WebSocket', async () => {
    await page.goto(`${server.url}/#/live`);
    await page.locator('#nav a[data-route=live]').waitFor();
    await page.locator('#live-status[data-state=live]').waitFor({ timeout: 20_000 });
    const row = page.locator('#live-table tr.live-row');
    await row.first().waitFor({ timeout: 20_000 });
    assert.equal(await row.count(), 1);
    const text = await row.first().textContent();
    assert.ok(text.includes(server.admin.username) && text.includes(sshd.user) && text.includes('sshd'), text);
    // The duration ticks in the page (no polling of the server).
    const d1 = await row.first().locator('.live-duration').textContent();
    await page.waitForFunction((d) => document.querySelector('#live-table .live-duration').textContent !== d, d1,
      { timeout: 5_000 });
    await page.locator('#live-filter').fill('no-such-user-xyz');
    await page.locator('#live-table').waitFor({ state: 'detached' });
    await page.locator('#live-filter').fill(sshd.user);
    await row.first().waitFor();
  });

  step('Watch shows the current screen and then the output live', async () => {
    ssh.proc.stdin.write('echo before-$((6*7))\n');
    await waitForOutput(ssh, 'before-42');
    await page.locator('#live-table .live-watch-btn').first().click();
    await page.locator('#live-watch-status[data-state=watching]').waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => [...document.querySelectorAll('#live-terminal .xterm-rows > div')]
      .some((r) => r.textContent.includes('before-42')), null, { timeout: 20_000 });
    ssh.proc.stdin.write('echo after-$((7*7))\n');
    await page.waitForFunction(() => [...document.querySelectorAll('#live-terminal .xterm-rows > div')]
      .some((r) => r.textContent.includes('after-49')), null, { timeout: 20_000 });
    await session.screenshot('live-watch');
  });

  step('Suspend from the page blocks the user’s input; Resume restores it', async () => {
    await page.locator('#live-suspend').click();
    await page.locator('#live-message').fill('SOC check in progress');
    await submitDialog();
    await waitForOutput(ssh, 'session suspended: SOC check in progress', 5_000);
    ssh.proc.stdin.write(`touch ${marker}\n`);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(existsSync(marker), false, 'a keystroke typed while suspended reached the target');
    await page.locator('#live-resume').click();
    await submitDialog();
    await waitForOutput(ssh, 'session resumed', 5_000);
    ssh.proc.stdin.write('echo resumed-$((2*4))\n');
    await waitForOutput(ssh, 'resumed-8');
    await page.waitForFunction(() => [...document.querySelectorAll('#live-terminal .xterm-rows > div')]
      .some((r) => r.textContent.includes('resumed-8')), null, { timeout: 20_000 });
    assert.equal(existsSync(marker), false);
  });

  step('Terminate from the page ends the user’s ssh with the reason', async () => {
    await page.locator('#live-terminate').click();
    await page.locator('#live-reason').fill('ended by the SOC test');
    const t0 = Date.now();
    await submitDialog();
    await Promise.race([ssh.exited, new Promise((_, rej) => setTimeout(() => rej(new Error('ssh did not end')), 5_000))]);
    assert.ok(Date.now() - t0 < 3_000, `ssh took ${Date.now() - t0} ms to end`);
    assert.ok(ssh.out.includes('session terminated: ended by the SOC test'), ssh.out.slice(-500));
    await page.locator('#live-watch-status[data-state=closed]').waitFor({ timeout: 10_000 });
    await page.locator('#live-table').waitFor({ state: 'detached', timeout: 10_000 });
    await session.screenshot('live-terminated');
  });

  step('a moderated safe: another user’s session waits for a moderator; Watch lets it run', async () => {
    const opPassword = `Op-${randomBytes(8).toString('hex')}`;
    const op = await apiCall(page, 'POST', '/users', { username: 'operator1', roles: [], password: opPassword });
    await apiCall(page, 'PUT', `/safes/${safeId}/members/${op.id}`, { permissions: ['connect'] });
    await apiCall(page, 'PUT', `/safes/${safeId}/compliance`, { moderated: true });
    const context = await session.browser.newContext({ ignoreHTTPSErrors: true });
    let token;
    try {
      const opPage = await context.newPage();
      await loginThroughPortal(opPage, server.url, 'operator1', opPassword);
      token = (await apiCall(opPage, 'POST', `/accounts/${account.id}/launch`, {})).token;
    } finally {
      await context.close();
    }
    ssh2 = startSsh(server.sshPort, token);
    await waitForOutput(ssh2, 'waiting for a moderator', 15_000);
    await page.locator('#live-table .live-needs-moderator').waitFor({ timeout: 20_000 });
    await session.screenshot('live-needs-moderator');
    ssh2.proc.stdin.write(`touch ${marker}-held\n`);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(existsSync(`${marker}-held`), false, 'input reached the target before a moderator watched');
    await page.locator('#live-table .live-watch-btn').first().click();
    await page.locator('#live-watch-status[data-state=watching]').waitFor({ timeout: 20_000 });
    await waitForOutput(ssh2, 'session resumed', 10_000);
    ssh2.proc.stdin.write('echo moderated-$((6*7))\n');
    await waitForOutput(ssh2, 'moderated-42');
    await page.locator('#live-table .live-needs-moderator').waitFor({ state: 'detached', timeout: 10_000 });
    assert.ok(await page.locator('#live-table .badge', { hasText: 'moderated' }).count() >= 1);
    ssh2.proc.stdin.write('exit\n');
    await Promise.race([ssh2.exited, new Promise((_, rej) => setTimeout(() => rej(new Error('ssh did not end')), 10_000))]);
    assert.equal(existsSync(`${marker}-held`), false);
    await apiCall(page, 'PUT', `/safes/${safeId}/compliance`, { moderated: false });
  });
});
