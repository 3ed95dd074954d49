// RDP in the browser, end to end with real programs: the portal's Connect on an RDP account
// downloads the .rdp file; the person's real xfreerdp opens it through Vigil to FreeRDP's shadow
// server (NLA with the vault credential); the SOC watches the screen live on the Live page; the
// auditor plays and seeks the recorded video in the player, clicking a keystroke line. On a safe
// whose clipboard rule is "text, logged", text copied on an xrdp target reaches the person's
// clipboard and the transfer is a row of the player's transcript.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, freePort, createStepper } from './harness.mjs';
import { RdpWorld, XrdpTarget, setClipboard, readClipboard } from './rdp.mjs';

const STEP_TIMEOUT_MS = 180_000;
const rdp = new RdpWorld();
const session = new BrowserSession('rdp');  // the superuser: SOC and auditor
const operator = new BrowserSession('rdp-operator');  // the person who connects
const OPERATOR = `rdpop${randomBytes(3).toString('hex')}`;
const OPERATOR_PASSWORD = `Op-${randomBytes(9).toString('hex')}`;
let opPage;
const MARKER = `rdp${randomBytes(4).toString('hex')}`;
let server;
let page;
let rdpPort;
let account;
let token;
let client;
let sessionId;
let xrdp;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function sessionsOfAccount() {
  const r = await apiCall(page, 'GET', `/sessions?account_id=${account.id}&limit=10`);
  return r.items;
}

describe('RDP through the portal: .rdp file, live view, video player', { timeout: 20 * 60_000 }, () => {
  it('the RDP target, vigil serve (with the RDP listener) and Chromium start', { timeout: 240_000 }, async () => {
    try {
      ensureVendor();
      await rdp.start();
      rdpPort = await freePort();
      server = new VigilServer({
        name: 'vigil-rdp-browser',
        extraConfig: ['rdp:', '  enabled: true', '  address: 127.0.0.1', `  port: ${rdpPort}`,
          'recordings:', '  flush_interval_ms: 500'],
      });
      await server.start();
      page = await session.launch();
      opPage = await operator.launch();
    } catch (error) {
      steps.fail();
      throw error;
    }
  });

  after(async () => {
    try {
      await session.close();
      await operator.close();
    } finally {
      if (server) await server.stop();
      if (xrdp) xrdp.stop();
      rdp.stop();
      if (steps.failed && server) process.stderr.write(`${server.tail()}\n`);
    }
  });

  step('an RDP account is set up', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', {
      // Videos encrypted at rest: the player streams the decrypted MP4 by byte ranges.
      name: 'Windows', policy: { allowed_protocols: ['rdp'], record_sessions: true, trust_on_first_use: true, encrypt_recordings: true },
    });
    const target = await apiCall(page, 'POST', '/targets', { name: 'win01', protocol: 'rdp', address: '127.0.0.1', port: rdp.port });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: rdp.user, secret_kind: 'password', secret: rdp.password,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['view_recordings', 'monitor_live'] });
    const user = await apiCall(page, 'POST', '/users', { username: OPERATOR, roles: [], password: OPERATOR_PASSWORD });
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${user.id}`, { permissions: ['connect'] });
    await loginThroughPortal(opPage, server.url, OPERATOR, OPERATOR_PASSWORD);
  });

  step('Connect on the RDP account downloads a .rdp file with a one-time token', async () => {
    await opPage.goto(`${server.url}#/my-accounts`);
    const button = opPage.locator(`button[data-connect="${account.id}"]`);
    await button.waitFor();
    const download = opPage.waitForEvent('download');
    await button.click();
    const file = await download;
    assert.match(file.suggestedFilename(), /\.rdp$/);
    const text = readFileSync(await file.path(), 'utf8');
    assert.ok(text.includes(`full address:s:127.0.0.1:${rdpPort}`), text);
    assert.ok(!text.includes(rdp.password), 'the target password is not in the file');
    const m = /username:s:(\S+)/.exec(text);
    assert.ok(m, text);
    token = m[1];
    await opPage.locator('#launch-rdp-download').waitFor();
    await operator.screenshot('rdp-connect');
    await opPage.keyboard.press('Escape');
  });

  step('xfreerdp with the token reaches the target; the SOC watches the screen live', async () => {
    client = rdp.xfreerdp(rdpPort, token);
    for (let i = 0; i < 100 && !sessionId; i += 1) {
      const items = await sessionsOfAccount();
      if (items.length && !items[0].ended_at) sessionId = items[0].id;
      else await sleep(200);
    }
    assert.ok(sessionId, 'a session was started');
    await page.goto(`${server.url}#/live`);
    const watch = page.locator(`#live-table tr.live-row[data-session-id="${sessionId}"] .live-watch-btn`);
    await watch.click({ timeout: 30_000 });
    await page.locator('#live-watch-status[data-state=watching]').waitFor({ timeout: 20_000 });
    const canvas = page.locator('#live-screen');
    await canvas.waitFor({ timeout: 20_000 });
    await page.waitForFunction(() => Number(document.querySelector('#live-screen').dataset.frames || 0) >= 1, null, { timeout: 20_000 });
    const shown = await page.evaluate(() => {
      const c = document.querySelector('#live-screen');
      const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
      let opaque = 0; let light = 0; let n = 0;
      for (let i = 0; i < d.length; i += 4 * 997) {
        n += 1;
        if (d[i + 3] === 255) opaque += 1;
        if (d[i] + d[i + 1] + d[i + 2] > 600) light += 1;
      }
      return { width: c.width, height: c.height, opaque: opaque / n, light: light / n };
    });
    assert.equal(shown.width, 1280);
    assert.equal(shown.height, 800);
    assert.ok(shown.opaque > 0.99, `the picture covers the canvas: ${JSON.stringify(shown)}`);
    assert.ok(shown.light > 0.3, `the target's xterm (white) is in the picture: ${JSON.stringify(shown)}`);
    // Typing changes the target's screen: new pictures arrive.
    const before = Number(await canvas.getAttribute('data-frames'));
    rdp.type(`echo ${MARKER}`);
    await page.waitForFunction((n) => Number(document.querySelector('#live-screen').dataset.frames) > n, before, { timeout: 20_000 });
    await session.screenshot('live-rdp');
    await page.locator('#live-watch-close').click();
  });

  step('the auditor plays the (encrypted) video and a keystroke line seeks it', async () => {
    await sleep(1500);  // a few more frames after the typing
    client.kill('SIGTERM');
    let ended = null;
    for (let i = 0; i < 100 && !ended; i += 1) {
      const items = await sessionsOfAccount();
      if (items.length && items[0].id === sessionId && items[0].ended_at) ended = items[0];
      else await sleep(200);
    }
    assert.ok(ended, 'the session ended');
    await page.goto(`${server.url}#/sessions/${sessionId}`);
    const video = page.locator('#player-video');
    await video.waitFor();
    try {
      await page.waitForFunction(() => document.querySelector('#player-video').readyState >= 1, null, { timeout: 30_000 });
    } catch (error) {
      const state = await page.evaluate(async () => {
        const v = document.querySelector('#player-video');
        const r = await fetch(v.src, { headers: { Range: 'bytes=0-1023' } });
        const b = new Uint8Array(await r.arrayBuffer());
        return { error: v.error && `${v.error.code} ${v.error.message}`, network: v.networkState, ready: v.readyState,
          status: r.status, type: r.headers.get('content-type'), range: r.headers.get('content-range'),
          head: Array.from(b.slice(0, 64)).map((x) => x.toString(16).padStart(2, '0')).join('') };
      });
      throw new Error(`the video did not load: ${JSON.stringify(state)}`);
    }
    const duration = await page.evaluate(() => document.querySelector('#player-video').duration);
    // The video runs on the session's clock: as long as the session (its last picture repeated
    // to the end), so a transcript time is the same moment in the video.
    assert.ok(Number.isFinite(duration) && Math.abs(duration - ended.duration_ms / 1000) < 1,
      `video duration ${duration} s, session ${ended.duration_ms} ms`);
    // The keystroke line with the typed command, and a click on it seeks the video there.
    const row = page.locator('#transcript-list .transcript-row.kind-keystrokes', { hasText: MARKER });
    await row.waitFor({ timeout: 30_000 });
    const offsetMs = Number(await row.getAttribute('data-offset'));
    assert.ok(offsetMs > 0);
    await page.evaluate(() => {
      window.vigilSeekedAt = null;
      const v = document.querySelector('#player-video');
      v.addEventListener('seeked', () => { window.vigilSeekedAt = v.currentTime; }, { once: true });
    });
    await row.locator('button.transcript-seek').click();
    await page.waitForFunction(() => window.vigilSeekedAt !== null, null, { timeout: 15_000 });
    const seekedAt = await page.evaluate(() => window.vigilSeekedAt);
    assert.ok(Math.abs(seekedAt - offsetMs / 1000) < 0.3, `seeked to ${seekedAt} s for a line at ${offsetMs} ms`);
    assert.match(page.url(), new RegExp(`#/sessions/${sessionId}\\?t=`));
    // It plays: the picture decodes and time moves on from the seek point.
    await page.evaluate(() => { const v = document.querySelector('#player-video'); v.muted = true; return v.play(); });
    const start = await page.evaluate(() => document.querySelector('#player-video').currentTime);
    await page.waitForFunction((s) => {
      const v = document.querySelector('#player-video');
      return v.currentTime > s + 0.3 || v.ended;
    }, start, { timeout: 20_000 });
    const decoded = await page.evaluate(() => {
      const v = document.querySelector('#player-video');
      return { w: v.videoWidth, h: v.videoHeight, frames: v.getVideoPlaybackQuality().totalVideoFrames };
    });
    assert.equal(decoded.w, 1280);
    assert.ok(decoded.frames > 0, JSON.stringify(decoded));
    // The badge says the video is sealed, untouched and encrypted at rest.
    const sealBadge = page.locator('#player-seal-badge .badge');
    await sealBadge.waitFor({ timeout: 15_000 });
    assert.equal(await sealBadge.getAttribute('data-status'), 'intact');
    assert.match(await sealBadge.textContent(), /encrypted/);
    await session.screenshot('player-rdp');
    assert.deepEqual(session.problems, [], 'no CSP violations or page errors');
    assert.deepEqual(operator.problems, [], 'no CSP violations or page errors (operator)');
  });

  step('text copied on the server crosses the clipboard (safe: text, logged) and is on the transcript', async () => {
    xrdp = new XrdpTarget(rdp.dir);
    await xrdp.start();
    const safe = await apiCall(page, 'POST', '/safes', {
      name: 'Windows clipboard', policy: { allowed_protocols: ['rdp'], trust_on_first_use: true, clipboard: 'allow_log' },
    });
    const target = await apiCall(page, 'POST', '/targets', { name: 'xrdp01', protocol: 'rdp', address: '127.0.0.1', port: xrdp.port });
    const clipAccount = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: 'vigil', secret_kind: 'password', secret: xrdp.password,
    });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['view_recordings'] });
    const op = (await apiCall(page, 'GET', '/users?limit=500')).items.find((u) => u.username === OPERATOR);
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${op.id}`, { permissions: ['connect'] });
    const launch = await apiCall(opPage, 'POST', `/accounts/${clipAccount.id}/launch`, {});
    assert.match(launch.rdp.file, /redirectclipboard:i:1/);
    const clipClient = rdp.xfreerdp(rdpPort, launch.token, '+clipboard');
    let clipSession = null;
    for (let i = 0; i < 100 && !clipSession; i += 1) {
      const r = await apiCall(page, 'GET', `/sessions?account_id=${clipAccount.id}&limit=5`);
      if (r.items.length && !r.items[0].ended_at) clipSession = r.items[0].id;
      else await sleep(200);
    }
    assert.ok(clipSession, 'a session was started');
    await sleep(4000);  // the VNC desktop and the clipboard channels come up
    const copied = `copied-${randomBytes(4).toString('hex')}`;
    const owner = setClipboard(xrdp.env(), copied);
    let pasted = '';
    for (let i = 0; i < 30 && pasted !== copied; i += 1) {
      pasted = readClipboard(rdp.client.env());
      if (pasted !== copied) await sleep(500);
    }
    owner.kill('SIGTERM');
    assert.equal(pasted, copied, 'the person\'s clipboard has the text copied on the server');
    clipClient.kill('SIGTERM');
    for (let i = 0; i < 100; i += 1) {
      const r = await apiCall(page, 'GET', `/sessions?account_id=${clipAccount.id}&limit=5`);
      if (r.items[0].ended_at) break;
      await sleep(200);
    }
    await page.goto(`${server.url}#/sessions/${clipSession}`);
    const row = page.locator('#transcript-list .transcript-row.kind-clipboard', { hasText: copied });
    await row.waitFor({ timeout: 30_000 });
    assert.match(await row.textContent(), new RegExp(`from the server to the person’s computer · ${copied.length} characters`));
    await page.locator('#transcript-kinds input[data-kind=clipboard]').waitFor();
    await session.screenshot('player-rdp-clipboard');
    assert.deepEqual(session.problems, [], 'no CSP violations or page errors');
  });
});
