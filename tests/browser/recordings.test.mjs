// Recordings, the session player and the review workflow in Chromium, on sessions recorded
// through the real SSH proxy: an operator types commands in the browser terminal (xterm.js →
// Vigil's WebSocket → the SSH proxy → a private sshd), one session with a 31 s pause, one whose
// recording file is then cut short on disk. A superuser finds a command by text, seeks from
// the transcript and sees the command's output, plays through the pause with skip idle, jumps
// between risk markers, reviews (persisting across a reload) and comments; the operator (who
// may connect but not view recordings) gets 403 on the player page and on the recording files.
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil node --test tests/browser/recordings.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';
import { Sshd } from './sshd.mjs';

const STEP_TIMEOUT_MS = 150_000;
const sshd = new Sshd();
const server = new VigilServer({
  name: 'vigil-recordings',
  extraConfig: ['ssh:', '  enabled: true', '  address: 127.0.0.1', '  port: 0'],
});
const admin = new BrowserSession('recordings');
const operator = new BrowserSession('recordings-operator');
const TAG = randomBytes(3).toString('hex');
const OMEGA = `OMEGA-${TAG}`; // printed by `echo $((6*7))-OMEGA-…`: the output is `42-OMEGA-…`
const DELTA = `DELTA-${TAG}`;
const TRUNC = `TRUNC-${TAG}`;
const OPERATOR = `operator${TAG}`;
const OPERATOR_PASSWORD = `Op-${randomBytes(9).toString('hex')}`;
let page; // the superuser's page
let opPage;
let account;
let s1; // the long session (commands, a 31 s pause)
let s2; // the session whose recording gets truncated
let riskNote = '';

const steps = createStepper(STEP_TIMEOUT_MS, (name) => Promise.all([admin.screenshot(name), operator.screenshot(name)]));
const { step } = steps;

/** One SQL statement on the server's embedded PostgreSQL (as tests/support/api_env.hpp does). */
function psql(sql) {
  const dataDir = join(server.tmp, 'data');
  const password = readFileSync(join(dataDir, 'pg', 'password'), 'utf8').trim();
  return execFileSync('runuser', ['-u', 'postgres', '--', '/usr/lib/postgresql/15/bin/psql', '-X', '-q', '-At',
    '-h', join(dataDir, 'pg', 'run'), '-p', '5432', '-U', 'vigil', '-d', 'vigil', '-c', sql],
  { env: { ...process.env, PGPASSWORD: password }, encoding: 'utf8' }).trim();
}

function findFile(dir, name) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) {
      const found = findFile(p, name);
      if (found) return found;
    } else if (entry.name === name) return p;
  }
  return null;
}

const rowsOf = (p, selector) => p.evaluate((sel) => [...document.querySelectorAll(`${sel} .xterm-rows > div`)]
  .map((r) => r.textContent), selector);

async function waitForRow(p, selector, text, timeout = 20_000) {
  await p.waitForFunction(({ sel, t }) => [...document.querySelectorAll(`${sel} .xterm-rows > div`)]
    .some((r) => r.textContent.includes(t)), { sel: selector, t: text }, { timeout });
}

/** Types a line in the operator's browser terminal and waits for `expect` on the screen. */
async function typeLine(line, expect, timeout) {
  await opPage.keyboard.type(line);
  await opPage.keyboard.press('Enter');
  if (expect) await waitForRow(opPage, '#terminal', expect, timeout);
}

/** Opens the browser terminal as the operator, runs `lines` ([line, expected output, pause
 * after]), exits; returns the session id. */
async function recordSession(lines) {
  const id = await openTerminal();
  for (const [line, expect, pauseMs] of lines) {
    await typeLine(line, expect);
    // Nothing is typed during a pause: typed characters echo and would break the idle gap.
    if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
  }
  await closeTerminal(id);
  return id;
}

/** Opens the operator's browser terminal on the account; returns the session id. */
async function openTerminal() {
  await opPage.goto(`${server.url}#/my-accounts`);
  await opPage.locator(`button[data-terminal="${account.id}"]`).click();
  await opPage.locator('#terminal-status[data-state="connected"]').waitFor({ timeout: 60_000 });
  const id = await opPage.locator('#terminal').getAttribute('data-session-id');
  await opPage.waitForFunction(() => document.activeElement && document.activeElement.closest('#terminal'));
  await waitForRow(opPage, '#terminal', '$');
  return id;
}

/** Exits the shell and waits until the session has ended. */
async function closeTerminal(id) {
  await typeLine('exit');
  await opPage.locator('#terminal-status[data-state="closed"]').waitFor({ timeout: 30_000 });
  // The session row is closed and the recording flushed shortly after the socket closes.
  for (let i = 0; i < 60; i += 1) {
    const s = await apiCall(page, 'GET', `/sessions/${id}`);
    if (!s.active) break;
    await new Promise((r) => setTimeout(r, 500));
  }
}

const playerTime = () => page.locator('#player-terminal').getAttribute('data-time').then(Number);

async function openPlayer(id, t) {
  // A fresh page load: after a hash-only change the previous player could still be on screen.
  await page.goto(`${server.url}#/sessions/${id}${t === undefined ? '' : `?t=${t}`}`);
  await page.reload();
  await page.locator('#player-terminal .xterm-rows').waitFor();
  await page.locator('#transcript-list, .transcript-empty').first().waitFor();
  await page.waitForFunction(() => ['paused', 'ended'].includes(document.querySelector('#player-terminal').dataset.state));
}

describe('Recordings, player and review on real SSH sessions', { timeout: 20 * 60_000 }, () => {
  it('sshd, vigil serve (with the SSH listener) and two Chromium sessions start', { timeout: 240_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      ensureVendor();
      await sshd.start();
      await server.start();
      page = await admin.launch();
      opPage = await operator.launch();
    } catch (error) {
      steps.fail();
      throw error;
    }
  });

  after(async () => {
    try {
      await admin.close();
      await operator.close();
    } finally {
      await server.stop();
      sshd.stop();
      if (steps.failed) process.stderr.write(`${server.tail()}\n`);
    }
  });

  step('a safe, an account on the sshd and an operator who may connect (not view recordings) are set up', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', { name: 'Prod', policy: { allowed_protocols: ['ssh'], record_sessions: true } });
    const target = await apiCall(page, 'POST', '/targets', {
      name: 'db1', protocol: 'ssh', address: '127.0.0.1', port: sshd.port, host_key_fingerprint: sshd.hostKeyFingerprint,
    });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: sshd.user, secret_kind: 'password', secret: sshd.password,
    });
    const user = await apiCall(page, 'POST', '/users', { username: OPERATOR, roles: [], password: OPERATOR_PASSWORD });
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${user.id}`, { permissions: ['connect'] });
    await loginThroughPortal(opPage, server.url, OPERATOR, OPERATOR_PASSWORD);
  });

  step('the operator records two sessions through the SSH proxy (one with a 31 s pause)', async () => {
    s1 = await recordSession([
      ['echo $((6*7))-OMEGA-' + TAG, `42-${OMEGA}`],
      ['sleep 31', null, 32_000],
      [`echo ${DELTA}`, DELTA],
    ]);
    s2 = await recordSession([
      [`echo ${TRUNC}`, TRUNC],
      ['seq 1 300 | sed s/^/row-/', 'row-300'],
    ]);
    assert.match(s1, /^[0-9a-f-]{36}$/);
    assert.notEqual(s1, s2);
  });

  step('Recordings lists both sessions; filters and the page size live in the URL and survive a reload', async () => {
    await page.goto(`${server.url}#/sessions`);
    await page.locator(`#sessions tbody tr[data-key="${s1}"]`).waitFor();
    await page.locator(`#sessions tbody tr[data-key="${s2}"]`).waitFor();
    await admin.screenshot('recordings-list');

    await page.fill('#filter-user', OPERATOR);
    await page.selectOption('#filter-sort', 'duration_desc');
    await page.click('#recordings-apply');
    await page.waitForFunction(() => window.location.hash.includes('sort=duration_desc'));
    await page.locator(`#sessions tbody tr[data-key="${s1}"]`).waitFor();
    const keys = await page.locator('#sessions tbody tr').evaluateAll((rows) => rows.map((r) => r.dataset.key));
    assert.deepEqual(keys, [s1, s2], 'longest first');

    await page.goto(`${server.url}#/sessions?user=${OPERATOR}&sort=duration_desc&limit=1`);
    await page.reload();
    await page.locator(`#sessions tbody tr[data-key="${s1}"]`).waitFor();
    assert.equal(await page.inputValue('#filter-user'), OPERATOR, 'the filter form is filled from the URL');
    assert.equal(await page.locator('#sessions tbody tr').count(), 1);
    await page.click('#recordings-more');
    await page.locator(`#sessions tbody tr[data-key="${s2}"]`).waitFor();
    assert.equal(await page.locator('#sessions tbody tr').count(), 2, 'Load more appends the next page (keyset cursor)');

    await page.goto(`${server.url}#/sessions?user=nobody-${TAG}`);
    await page.locator('#sessions .state-empty').waitFor();
    assert.match(await page.locator('#sessions .state-title').textContent(), /No sessions match/);
  });

  step('text search finds the command with a highlighted snippet and a time link into the player', async () => {
    await page.goto(`${server.url}#/sessions`);
    await page.locator('#filter-text').waitFor();
    await page.fill('#filter-text', `$((6*7))-${OMEGA}`);
    await page.press('#filter-text', 'Enter');
    const result = page.locator(`#search-results .search-result[data-key="${s1}"]`);
    await result.waitFor();
    assert.equal(await page.locator('#search-results .search-result').count(), 1, 'only the session that ran it');
    const marks = await result.locator('mark').allTextContents();
    assert.ok(marks.some((m) => m.includes(OMEGA)), `highlighted: ${JSON.stringify(marks)}`);
    const link = result.locator('.hit-time').first();
    assert.match(await link.getAttribute('href'), new RegExp(`^#/sessions/${s1}\\?t=\\d`));
    await admin.screenshot('recordings-search');
    await link.click();
    await page.locator('#player-terminal .xterm-rows').waitFor();
    assert.ok(await playerTime() > 0, 'the player opened at the hit');
  });

  step('the player shows a Verified badge for a sealed, untouched recording', async () => {
    await openPlayer(s1);
    const sealBadge = page.locator('#player-seal-badge .badge');
    await sealBadge.waitFor();
    assert.equal(await sealBadge.getAttribute('data-status'), 'intact');
    assert.match(await sealBadge.textContent(), /^Verified/);
    await admin.screenshot('player-seal-badge');
  });

  step('clicking a transcript line seeks there and the terminal shows that command’s output', async () => {
    await openPlayer(s1);
    assert.ok(!(await rowsOf(page, '#player-terminal')).some((r) => r.includes(`42-${OMEGA}`)), 'not on screen at 0:00');
    const row = page.locator('#transcript-list .transcript-row.kind-command', { hasText: OMEGA }).first();
    const offset = Number(await row.getAttribute('data-offset'));
    await row.locator('button').click();
    await waitForRow(page, '#player-terminal', `42-${OMEGA}`);
    assert.ok(await playerTime() >= offset, 'played from the command');
    await page.click('#player-play'); // pause
    await admin.screenshot('player-transcript-seek');
  });

  step('the in-session search jumps between hits', async () => {
    await page.fill('#transcript-search', TAG);
    await page.press('#transcript-search', 'Enter');
    await page.waitForFunction(() => /^1 of \d+/.test(document.querySelector('#transcript-search-count').textContent));
    const count = Number((await page.textContent('#transcript-search-count')).match(/of (\d+)/)[1]);
    assert.ok(count >= 2, `the OMEGA and DELTA commands at least (${count})`);
    const first = await playerTime();
    await page.click('#transcript-search-next');
    await page.waitForFunction(() => /^2 of/.test(document.querySelector('#transcript-search-count').textContent));
    await page.waitForFunction((t) => Number(document.querySelector('#player-terminal').dataset.time) > t, first);
    await page.click('#transcript-search-prev');
    await page.waitForFunction(() => /^1 of/.test(document.querySelector('#transcript-search-count').textContent));
    assert.equal(await page.locator('#transcript-list .is-current-hit').count(), 1);
  });

  step('skip idle plays through the 31 s pause in about a second; without it the pause is kept', async () => {
    const index = await apiCall(page, 'GET', `/sessions/${s1}/playback/index`);
    const gap = (index.idle_gaps || []).find(([a, b]) => b - a >= 25_000);
    assert.ok(gap, `the index has the pause as an idle gap: ${JSON.stringify(index.idle_gaps)}`);
    await openPlayer(s1, (gap[0] / 1000 - 1).toFixed(3));
    assert.match(await page.textContent('#player-effective'), /idle time skipped/);
    assert.ok(await page.isChecked('#player-skip-idle'));
    const started = Date.now();
    await page.click('#player-play');
    await waitForRow(page, '#player-terminal', DELTA, 15_000);
    const took = Date.now() - started;
    assert.ok(took < 8_000, `skip idle: reached the end of the pause in ${took} ms`);
    await admin.screenshot('player-skip-idle');

    await openPlayer(s1, (gap[0] / 1000 - 1).toFixed(3));
    await page.uncheck('#player-skip-idle');
    await page.click('#player-play');
    await page.waitForTimeout(4_000);
    assert.ok(!(await rowsOf(page, '#player-terminal')).some((r) => r.trim() === DELTA), 'still inside the pause after 4 s');
    const t = await playerTime();
    assert.ok(t < gap[1] - 20_000, `real-time playback is still in the gap (${t})`);
    await page.click('#player-play');
  });

  step('risk markers are on the timeline and previous/next jump between them', async () => {
    let index = await apiCall(page, 'GET', `/sessions/${s1}/playback/index`);
    if ((index.markers || []).length < 2) {
      // The risk engine (issue 5) is not merged on this branch: record two 'risk' timeline events
      // at the two echo commands, as it would, so the player's markers can be tested.
      riskNote = 'risk events inserted with psql (risk engine not merged)';
      const cmds = psql(`SELECT offset_ms FROM session_events WHERE session_id='${s1}' AND kind='command' AND text LIKE 'echo %' ORDER BY offset_ms`)
        .split('\n').filter(Boolean).map(Number);
      assert.ok(cmds.length >= 2, `two echo commands: ${cmds}`);
      for (const [i, off] of cmds.slice(0, 2).entries()) {
        psql(`INSERT INTO session_events(session_id, at, offset_ms, kind, text, details) SELECT id, started_at + interval '${off} milliseconds', ${off}, 'risk', 'test rule ${i + 1} matched', '{"severity":"high","rule_id":"test.${i + 1}"}'::jsonb FROM sessions WHERE id='${s1}'`);
      }
      index = await apiCall(page, 'GET', `/sessions/${s1}/playback/index`);
    }
    const offsets = (index.markers || []).map((m) => m.offset_ms).sort((a, b) => a - b);
    assert.ok(offsets.length >= 2, `markers in the index: ${JSON.stringify(index.markers)}`);
    await openPlayer(s1, 0);
    assert.equal(await page.locator('.timeline-marker.marker-risk').count(), offsets.length);
    // (A marker at the very end is reached at the recording's last event: within a second.)
    await page.click('#risk-next');
    await page.waitForFunction((t) => Math.abs(Number(document.querySelector('#player-terminal').dataset.time) - t) < 1000, offsets[0]);
    await page.click('#risk-next');
    await page.waitForFunction((t) => Math.abs(Number(document.querySelector('#player-terminal').dataset.time) - t) < 1000, offsets[1]);
    assert.match(await page.textContent('#risk-info'), /^Risk 2 of/);
    await page.click('#risk-prev');
    await page.waitForFunction((t) => Math.abs(Number(document.querySelector('#player-terminal').dataset.time) - t) < 1000, offsets[0]);
    // The marker itself seeks too.
    await page.locator('.timeline-marker.marker-risk').nth(1).click();
    await page.waitForFunction((t) => Math.abs(Number(document.querySelector('#player-terminal').dataset.time) - t) < 1000, offsets[1]);
    await admin.screenshot('player-risk-markers');
  });

  step('a review and a time-anchored comment persist across a reload; the queue drops the session', async () => {
    await openPlayer(s1, 5);
    await page.locator('#review-form').waitFor();
    await page.locator('#review-form label', { hasText: 'Suspicious' }).click();
    await page.fill('#review-comment', `ran ${OMEGA} on prod`);
    await page.click('#review-save');
    await page.locator('#review-status', { hasText: 'Suspicious' }).waitFor();
    await page.fill('#comment-text', `look here ${TAG}`);
    await page.click('#comment-add');
    await page.locator('#comment-list .comment', { hasText: `look here ${TAG}` }).waitFor();
    await page.reload();
    await page.locator('#review-form').waitFor();
    assert.match(await page.textContent('#review-status'), /Suspicious/);
    assert.match(await page.textContent('#review-history'), new RegExp(`ran ${OMEGA} on prod`));
    assert.ok(await page.isChecked('#review-form input[value="reviewed_suspicious"]'));
    assert.equal(await page.locator('.timeline-marker.marker-comment').count(), 1, 'the comment is a timeline marker');
    const commentOffset = Number(await page.locator('#comment-list .comment').first().getAttribute('data-offset'));
    assert.ok(Math.abs(commentOffset - 5000) < 1000, `anchored near 0:05 (${commentOffset})`);
    await admin.screenshot('player-review');

    await page.goto(`${server.url}#/review-queue`);
    await page.locator(`#review-queue tbody tr[data-key="${s2}"]`).waitFor();
    assert.equal(await page.locator(`#review-queue tbody tr[data-key="${s1}"]`).count(), 0);
    await admin.screenshot('review-queue');

    await page.goto(`${server.url}#/sessions?review_status=reviewed_suspicious`);
    await page.locator(`#sessions tbody tr[data-key="${s1}"]`).waitFor();
    assert.equal(await page.locator('#sessions tbody tr').count(), 1);
  });

  step('a deep link /sessions/<id>?t=N opens the player at N seconds', async () => {
    await page.goto(`${server.url}sessions/${s1}?t=3`);
    await page.waitForFunction(() => window.location.hash.startsWith('#/sessions/'));
    assert.equal(new URL(page.url()).hash, `#/sessions/${s1}?t=3`);
    await page.waitForFunction(() => Number(document.querySelector('#player-terminal')?.dataset.time) === 3000);
  });

  step('an active session opens at its live edge and follows what is typed', async () => {
    const live = await openTerminal();
    await page.goto(`${server.url}#/sessions/${live}`);
    await page.locator('#player-live:not([hidden])').waitFor();
    await page.waitForFunction(() => ['live', 'playing'].includes(document.querySelector('#player-terminal')?.dataset.state));
    const LIVE = `LIVE-${TAG}`;
    await typeLine(`echo ${LIVE}-$((1+1))`, `${LIVE}-2`);
    await waitForRow(page, '#player-terminal', `${LIVE}-2`, 20_000);
    await page.locator('#transcript-list .transcript-row', { hasText: LIVE }).first().waitFor({ timeout: 20_000 });
    await admin.screenshot('player-live');
    await closeTerminal(live);
    await page.locator('#player-live[hidden]').waitFor({ state: 'attached', timeout: 20_000 });
  });

  step('a truncated recording plays what is left and says it is damaged', async () => {
    const file = findFile(join(server.tmp, 'data'), `${s2}.cast.zst`);
    assert.ok(file, 'the recording file of the second session');
    const size = statSync(file).size;
    // Cut inside the last compressed frame (a live recording is flushed frame by frame):
    // what was flushed before stays readable.
    truncateSync(file, size - 5);
    await page.goto(`${server.url}#/sessions/${s2}`);
    await page.locator('#player-damaged:not([hidden])').waitFor();
    assert.match(await page.textContent('#player-damaged'), /damaged/i);
    const index = await apiCall(page, 'GET', `/sessions/${s2}/playback/index`);
    assert.ok(index.damaged, `the index says so: ${JSON.stringify(index)}`);
    await page.selectOption('#player-speed', '16');
    await page.click('#player-play');
    if (index.duration_ms > 0) {
      await waitForRow(page, '#player-terminal', TRUNC).catch((error) => {
        throw new Error(`${error.message}\nindex: ${JSON.stringify(index)}`);
      });
    } else {
      // Nothing before the cut could be decoded: the player says so and stays usable.
      process.stdout.write(`# note: nothing readable before the cut (${index.damaged})\n`);
      assert.notEqual(await page.getAttribute('#player-terminal', 'data-state'), 'playing');
    }
    await admin.screenshot('player-damaged');
  });

  step('the operator gets 403 on the player page and on the recording files', async () => {
    await opPage.goto(`${server.url}#/sessions/${s1}`);
    await opPage.locator('#player-forbidden').waitFor();
    assert.match(await opPage.textContent('#player-forbidden'), /don’t have permission/);
    await operator.screenshot('player-forbidden');
    const statuses = await opPage.evaluate(async (id) => {
      const out = {};
      for (const path of ['playback/index', 'playback?from_ms=0&to_ms=1000', 'recording', 'recording/file']) {
        const r = await fetch(`/api/v1/sessions/${id}/${path}`, { headers: { Range: 'bytes=0-99' } });
        out[path] = r.status;
      }
      return out;
    }, s1);
    assert.deepEqual(statuses, { 'playback/index': 403, 'playback?from_ms=0&to_ms=1000': 403, recording: 403, 'recording/file': 403 });
    if (riskNote) process.stdout.write(`# note: ${riskNote}\n`);
    assert.deepEqual(admin.problems, [], 'no CSP violations or page errors (superuser)');
    assert.deepEqual(operator.problems, [], 'no CSP violations or page errors (operator)');
  });
});
