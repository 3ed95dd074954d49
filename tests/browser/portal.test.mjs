// Browser test of the Vigil web portal: a real `vigil serve` (embedded PostgreSQL, self-signed
// TLS) driven by Debian's Chromium through playwright-core.
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil npm run test:browser
//
// Screenshots of every step go to tests/artifacts/browser/*.png.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { freshTotp } from './totp.mjs';
import { createStepper } from './harness.mjs';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const VIGIL_BIN = resolve(ROOT, process.env.VIGIL_BIN || 'build/server/vigil');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
const ARTIFACTS = join(ROOT, 'tests', 'artifacts', 'browser');
const STARTUP_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 120_000;

// ---- the server ----------------------------------------------------------------------------

const server = { proc: null, url: null, admin: null, output: [], tmp: null, exited: null };

function startServer() {
  server.tmp = mkdtempSync(join(tmpdir(), 'vigil-browser-'));
  // The embedded PostgreSQL may run as another user (root → postgres): let it reach its dir.
  chmodSync(server.tmp, 0o755);
  const config = join(server.tmp, 'vigil.yaml');
  writeFileSync(config, [
    `data_dir: ${JSON.stringify(join(server.tmp, 'data'))}`,
    `web_root: ${JSON.stringify(join(ROOT, 'web', 'static'))}`,
    'listen:',
    '  address: 127.0.0.1',
    '  port: 0',
    'auth:',
    '  argon2_t_cost: 1',
    '  argon2_m_cost_kib: 8192',
    '',
  ].join('\n'));

  return new Promise((resolvePromise, reject) => {
    // `--config` is an option of the top-level command: give it before `serve` (works whether or
    // not the subcommand also accepts it).
    const proc = spawn(VIGIL_BIN, ['--config', config, 'serve'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    server.proc = proc;
    server.exited = new Promise((done) => proc.on('exit', (code, signal) => done({ code, signal })));
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error); else resolvePromise();
    };
    const timer = setTimeout(() => finish(new Error(
      `vigil did not print "Portal: …" within ${STARTUP_TIMEOUT_MS / 1000} s.\n${serverOutput()}`)), STARTUP_TIMEOUT_MS);
    let buffered = '';
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk) => {
      buffered += chunk;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
        server.output.push(line);
        const admin = line.match(/Initial superuser:\s*(\S+)\s+password:\s*(\S+)/);
        if (admin) server.admin = { username: admin[1], password: admin[2] };
        const portal = line.match(/Portal:\s*(https:\/\/\S+?)\/?\s*$/);
        if (portal) server.url = portal[1] + '/';
        if (server.url && server.admin) finish();
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk) => server.output.push(...chunk.split('\n').filter(Boolean).map((l) => `[stderr] ${l}`)));
    proc.on('error', (error) => finish(new Error(`cannot start ${VIGIL_BIN}: ${error.message}`)));
    proc.on('exit', (code, signal) => finish(new Error(
      `vigil exited (code ${code}, signal ${signal}) before it was ready.\n${serverOutput()}`)));
  });
}

function serverOutput() {
  const lines = server.output.slice(-60).map((l) => l.replace(/(password:\s*)\S+/, '$1<redacted>'));
  let log = '';
  const logFile = server.tmp && join(server.tmp, 'data', 'logs', 'vigil.log');
  if (logFile && existsSync(logFile)) log = `\n--- ${logFile} (tail) ---\n${readFileSync(logFile, 'utf8').split('\n').slice(-60).join('\n')}`;
  return `--- vigil output (tail) ---\n${lines.join('\n')}${log}`;
}

async function stopServer() {
  const { proc } = server;
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  let timer;
  const timeout = new Promise((done) => { timer = setTimeout(() => done('timeout'), 30_000); });
  const outcome = await Promise.race([server.exited, timeout]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    process.stderr.write(`vigil (pid ${proc.pid}) ignored SIGTERM for 30 s; sending SIGKILL\n`);
    proc.kill('SIGKILL');
    await server.exited;
  }
}

// ---- the browser ---------------------------------------------------------------------------

let browser;
let context;
let page;
const problems = []; // CSP violations and uncaught page errors
const apiBodies = []; // every API response body, to check that no secret comes back

async function newPage() {
  if (context) await context.close();
  context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 } });
  context.setDefaultTimeout(15_000);
  page = await context.newPage();
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to (load|execute|apply)/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('response', (response) => {
    if (!response.url().includes('/api/')) return;
    apiBodies.push(response.text().then((text) => ({ url: response.url(), text }), () => ({ url: response.url(), text: '' })));
  });
  return page;
}

let shotNumber = 0;
async function screenshot(name) {
  shotNumber += 1;
  const file = join(ARTIFACTS, `${String(shotNumber).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// ---- portal helpers ------------------------------------------------------------------------

const nav = (name) => page.locator('#nav').getByRole('link', { name, exact: true });

async function gotoPortal(hash = '') {
  await page.goto(server.url + hash);
}

async function expectLoginForm() {
  await page.locator('#login-form').waitFor();
  await page.waitForFunction(() => document.activeElement && document.activeElement.id === 'login-username');
}

/** Waits for the portal shell and the first page after signing in (not the login card). */
async function expectLoggedIn() {
  await page.locator('#logout').waitFor();
  await page.locator('#main .page-header h1').first().waitFor();
}

async function assertText(selector, text) {
  if (!text) return;
  await page.locator(selector, { hasText: text }).first().waitFor();
}

/** Fills the login form and submits it with Enter; answers the TOTP step when `totp` is given. */
async function login(username, password, totp) {
  await expectLoginForm();
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.press('#login-password', 'Enter');
  if (totp) {
    await page.locator('#login-totp').waitFor({ state: 'visible' });
    const { code, step } = await totp();
    await page.fill('#login-totp', code);
    await screenshot(`login-totp-${username}`);
    await page.press('#login-totp', 'Enter');
    return step;
  }
  return null;
}

async function logout() {
  await page.click('#logout');
  await expectLoginForm();
}

/** If the server asks for a new password (must_change_password), sets one and returns it. */
async function changePasswordIfRequired(user) {
  if (!await page.locator('#must-change-password').isVisible()) return;
  // Until it is changed, the server refuses everything else: the portal offers only the profile.
  assert.deepEqual(await page.locator('#nav a').allTextContents(), ['Profile']);
  await screenshot(`must-change-password-${user.username}`);
  const next = `New-${randomBytes(8).toString('hex')}`;
  await page.fill('#current-password', user.password);
  await page.fill('#new-password', next);
  await page.fill('#repeat-password', next);
  await page.click('#password-form button[type=submit]');
  await page.locator('#must-change-password').waitFor({ state: 'detached' });
  user.password = next;
  await screenshot(`password-changed-${user.username}`);
}

async function waitForRowWith(tableHost, text) {
  const row = page.locator(`${tableHost} tbody tr`, { hasText: text }).first();
  await row.waitFor();
  return row;
}

async function assertSecretNotInPage(secret, where) {
  const html = await page.content();
  assert.ok(!html.includes(secret), `the account secret appears in the page HTML (${where})`);
  const values = await page.evaluate(() => [...document.querySelectorAll('input, textarea')].map((el) => el.value));
  assert.ok(!values.some((v) => v.includes(secret)), `the account secret is still in a form field (${where})`);
}

// ---- the flow ------------------------------------------------------------------------------

const admin = { username: 'admin', password: null };
const operator = { username: 'operator1', displayName: 'Operator One', password: `Op-${randomBytes(9).toString('hex')}` };
const SAFE = 'Production Linux';
const TARGET = 'web01';
const ACCOUNT_USER = 'root';
const SECRET = `Vault-S3cret-${randomBytes(12).toString('hex')}`;
const ROTATED_SECRET = `Rotated-S3cret-${randomBytes(12).toString('hex')}`;
const CERT_FINGERPRINT = [...randomBytes(32)].map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
const HOST_KEY = `SHA256:${randomBytes(32).toString('base64').replace(/=+$/, '')}`;
let totpSecret = null;
let lastTotpStep = -1;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => (page ? screenshot(name) : undefined));
const { step } = steps;

describe('Vigil portal', { timeout: 20 * 60_000 }, () => {
  // Start-up is a test of its own (not a `before` hook) so that a server that does not start
  // counts as a failure in the TAP summary rather than as cancelled tests.
  it('vigil serve starts and Chromium launches', { timeout: STARTUP_TIMEOUT_MS + 60_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      if (!existsSync(join(ROOT, 'web', 'static', 'vendor', 'qrcode.js'))) {
        execFileSync(process.execPath, [join(ROOT, 'web', 'static', 'build-vendor.mjs')], { cwd: ROOT, stdio: 'inherit' });
      }
      mkdirSync(ARTIFACTS, { recursive: true });
      await startServer();
      admin.username = server.admin.username;
      admin.password = server.admin.password;
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
          '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      await newPage();
    } catch (error) {
      steps.fail();
      throw error;
    }
  });

  after(async () => {
    try {
      if (browser) await browser.close();
    } finally {
      await stopServer();
      if (steps.failed) process.stderr.write(`${serverOutput()}\n`);
      // KEEP_TMP=1 keeps the server's data directory (logs, embedded PostgreSQL) for a look.
      if (server.tmp && !process.env.KEEP_TMP) rmSync(server.tmp, { recursive: true, force: true });
      else if (server.tmp) process.stderr.write(`kept ${server.tmp}\n`);
    }
  });

  step('the login page loads with the username field focused', async () => {
    await gotoPortal();
    await expectLoginForm();
    assert.equal(await page.locator('#login-username').getAttribute('autocomplete'), 'username');
    assert.equal(await page.locator('#login-password').getAttribute('autocomplete'), 'current-password');
    assert.equal(await page.locator('#login-totp').getAttribute('autocomplete'), 'one-time-code');
    assert.ok(await page.locator('#login-totp-field').isHidden(), 'the TOTP field is hidden until the server asks for it');
    assert.equal(await page.locator('label[for=login-username]').textContent(), 'Username');
    await screenshot('login');
  });

  step('a wrong password shows an error and keeps the form usable (keyboard only)', async () => {
    await page.keyboard.type(admin.username);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password');
    await page.keyboard.type('definitely-not-the-password');
    await page.keyboard.press('Enter');
    const error = page.locator('#login-error');
    await error.waitFor({ state: 'visible' });
    assert.match(await error.textContent(), /invalid username or password/i);
    assert.equal(await page.inputValue('#login-username'), admin.username, 'the username is kept');
    assert.equal(await page.inputValue('#login-password'), '', 'the wrong password is cleared');
    assert.equal(await page.evaluate(() => document.activeElement.id), 'login-password', 'focus is back on the password');
    assert.ok(await page.locator('#login-submit').isEnabled());
    await screenshot('login-wrong-password');
  });

  step('logging in with the keyboard only', async () => {
    // Focus is on the password field after the failed attempt: type and press Enter.
    await page.keyboard.type(admin.password);
    await page.keyboard.press('Enter');
    await expectLoggedIn();
    await changePasswordIfRequired(admin);
    await assertText('#current-roles', 'Superuser');
    for (const name of ['My accounts', 'Safes', 'Targets', 'Accounts', 'Users', 'Audit log', 'Profile']) {
      await nav(name).waitFor();
    }
    await nav('My accounts').click();
    await page.locator('#my-accounts .state-empty, #my-accounts table').first().waitFor();
    await screenshot('admin-my-accounts');
  });

  step('enrolling an authenticator (TOTP) from the profile', async () => {
    await nav('Profile').click();
    await page.locator('#mfa-enroll').click();
    const secretEl = page.locator('#totp-secret');
    await secretEl.waitFor();
    totpSecret = (await secretEl.textContent()).replace(/\s+/g, '');
    assert.match(totpSecret, /^[A-Z2-7]{16,}$/, 'a base32 secret is shown');
    const uri = await page.locator('[data-otpauth]').getAttribute('data-otpauth');
    assert.match(uri, /^otpauth:\/\/totp\//);
    assert.ok(new URL(uri).searchParams.get('secret').replace(/=+$/, '') === totpSecret, 'the URI carries the shown secret');
    const qr = page.locator('#mfa-qr img');
    await qr.waitFor();
    assert.match(await qr.getAttribute('src'), /^data:image\/png;base64,/);
    await screenshot('mfa-enrol');
    const { code, step: used } = await freshTotp(totpSecret, lastTotpStep);
    await page.fill('#mfa-code', code);
    await page.click('#mfa-confirm');
    await page.locator('#mfa-done').waitFor();
    lastTotpStep = used;
    await screenshot('mfa-enrolled');
  });

  step('logging out and in again with password + TOTP', async () => {
    await logout();
    await screenshot('logged-out');
    // The code that confirmed the enrolment would be refused as a replay: use a later step's.
    lastTotpStep = await login(admin.username, admin.password, () => freshTotp(totpSecret, lastTotpStep));
    await expectLoggedIn();
    await screenshot('admin-logged-in-with-totp');
  });

  step('creating user operator1 with the admin role', async () => {
    await nav('Users').click();
    await page.locator('#users-list table, #users-list .state-empty').first().waitFor();
    await page.click('#user-new');
    const form = page.locator('#user-form');
    await form.getByLabel('Username').fill(operator.username);
    await form.getByLabel('Display name').fill(operator.displayName);
    await form.getByLabel('Initial password').fill(operator.password);
    for (const role of ['Superuser', 'Vault admin', 'Auditor', 'SOC']) await form.getByLabel(role, { exact: true }).uncheck();
    await form.getByLabel('Admin', { exact: true }).check();
    await screenshot('user-form');
    await form.locator('button[type=submit]').click();
    const row = await waitForRowWith('#users-list', operator.username);
    assert.match(await row.textContent(), /Admin/);
    await screenshot('users');
  });

  step('creating a safe', async () => {
    await nav('Safes').click();
    await page.locator('#safes-list table, #safes-list .state-empty').first().waitFor();
    await screenshot('safes-empty');
    await page.click('#safe-new');
    const form = page.locator('#safe-create-form');
    await form.getByLabel('Name').fill(SAFE);
    await form.getByLabel('Description').fill('Linux servers of the production network');
    await form.getByLabel('Retention (days)').fill('180');
    await screenshot('safe-form');
    await form.locator('button[type=submit]').click();
    await page.locator('#safe-detail h1', { hasText: SAFE }).waitFor();
    await page.locator('#member-add-form').waitFor();
    await nav('Safes').click();
    const row = await waitForRowWith('#safes-list', SAFE);
    assert.match(await row.textContent(), /180 days/);
    await screenshot('safes');
  });

  step('creating a target', async () => {
    await nav('Targets').click();
    await page.locator('#targets-list table, #targets-list .state-empty').first().waitFor();
    await page.click('#target-new');
    const form = page.locator('#target-form');
    await form.getByLabel('Name').fill(TARGET);
    await form.getByLabel('Protocol').selectOption('rdp');
    assert.equal(await form.getByLabel('Port').inputValue(), '3389', 'the port follows the protocol');
    await form.getByLabel('Protocol').selectOption('ssh');
    assert.equal(await form.getByLabel('Port').inputValue(), '22');
    await form.getByLabel('Address').fill('10.20.0.21');
    await form.getByLabel('Host key fingerprint').fill(HOST_KEY);
    await form.getByLabel('Description').fill('Web front end');
    await screenshot('target-form');
    await form.locator('button[type=submit]').click();
    const row = await waitForRowWith('#targets-list', TARGET);
    assert.match(await row.textContent(), /10\.20\.0\.21:22/);
    await screenshot('targets');
  });

  step('creating an account with a password secret', async () => {
    await nav('Accounts').click();
    await page.locator('#account-new:not([disabled])').waitFor();
    await page.click('#account-new');
    const form = page.locator('#account-form');
    await form.getByLabel('Safe').selectOption({ label: SAFE });
    const targetOption = form.locator('select[name=target_id] option', { hasText: TARGET });
    await form.getByLabel('Target').selectOption(await targetOption.getAttribute('value'));
    await form.getByLabel('Username').fill(ACCOUNT_USER);
    await form.getByLabel('Secret kind').selectOption('password');
    await form.getByLabel('Password', { exact: true }).fill(SECRET);
    await screenshot('account-form');
    await form.locator('button[type=submit]').click();
    const row = await waitForRowWith('#accounts-list', ACCOUNT_USER);
    assert.match(await row.textContent(), /Password set/);
    await assertSecretNotInPage(SECRET, 'accounts page after creating the account');
    await screenshot('accounts');
  });

  step('adding operator1 to the safe with connect', async () => {
    await nav('Safes').click();
    await page.locator('#safes-list').getByRole('link', { name: SAFE, exact: true }).click();
    const form = page.locator('#member-add-form');
    await form.waitFor();
    const option = form.locator('select[name=user_id] option', { hasText: operator.username });
    await form.getByLabel('User').selectOption(await option.getAttribute('value'));
    await form.getByLabel('Connect', { exact: true }).check();
    await screenshot('member-form');
    await form.locator('button[type=submit]').click();
    const row = await waitForRowWith('#members-table', operator.username);
    assert.match(await row.textContent(), /Connect/);
    await screenshot('safe-members');
  });

  step('editing a safe policy', async () => {
    await nav('Safes').click();
    await page.locator('#safes-list').getByRole('link', { name: SAFE, exact: true }).click();
    const form = page.locator('#safe-edit-form');
    await form.waitFor();
    await form.getByLabel('Dual authorization').check();
    assert.equal(await form.getByLabel('Encrypt recordings at rest').isChecked(), false);
    await form.getByLabel('Encrypt recordings at rest').check();
    await form.getByLabel('Retention (days)').fill('365');
    await form.getByLabel('RDP', { exact: true }).uncheck();
    await form.getByLabel('Codec').selectOption('h264');
    await form.getByLabel('Frames per second (at most)').fill('3');
    await form.getByLabel('Quality').selectOption('high');
    assert.equal(await form.getByLabel('Clipboard').inputValue(), 'deny');  // off unless a safe allows it
    await form.getByLabel('Clipboard').selectOption('allow_log');
    await form.locator('button[type=submit]').click();
    await page.locator('.toast', { hasText: 'Safe saved' }).waitFor();
    await page.reload();
    await page.locator('#safe-edit-form').waitFor();
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Retention (days)').inputValue(), '365');
    assert.equal(await page.locator('#safe-edit-form').getByLabel('RDP', { exact: true }).isChecked(), false);
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Dual authorization').isChecked(), true);
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Codec').inputValue(), 'h264');
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Frames per second (at most)').inputValue(), '3');
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Quality').inputValue(), 'high');
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Clipboard').inputValue(), 'allow_log');
    assert.equal(await page.locator('#safe-edit-form').getByLabel('Encrypt recordings at rest').isChecked(), true);
    await screenshot('safe-policy-edited');
    await nav('Safes').click();
    const row = await waitForRowWith('#safes-list', SAFE);
    assert.match(await row.textContent(), /Encrypted at rest/);
  });

  step('changing and removing a safe member', async () => {
    // A second user, to change and remove without touching operator1's access.
    await nav('Users').click();
    await page.click('#user-new');
    const userForm = page.locator('#user-form');
    await userForm.getByLabel('Username').fill('auditor1');
    await userForm.getByLabel('Initial password').fill(`Aud-${randomBytes(9).toString('hex')}`);
    await userForm.getByLabel('Admin', { exact: true }).uncheck();
    await userForm.getByLabel('Auditor', { exact: true }).check();
    await userForm.locator('button[type=submit]').click();
    await waitForRowWith('#users-list', 'auditor1');

    await nav('Safes').click();
    await page.locator('#safes-list').getByRole('link', { name: SAFE, exact: true }).click();
    const form = page.locator('#member-add-form');
    await form.waitFor();
    const option = form.locator('select[name=user_id] option', { hasText: 'auditor1' });
    await form.getByLabel('User').selectOption(await option.getAttribute('value'));
    await form.getByLabel('Connect', { exact: true }).uncheck();
    await form.getByLabel('View recordings', { exact: true }).check();
    await form.locator('button[type=submit]').click();
    await waitForRowWith('#members-table', 'auditor1');

    await page.getByRole('button', { name: 'Change permissions of auditor1' }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.getByLabel('Monitor live', { exact: true }).check();
    await screenshot('member-change-dialog');
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    const row = await waitForRowWith('#members-table', 'auditor1');
    await page.locator('#members-table tbody tr', { hasText: 'auditor1' }).filter({ hasText: 'Monitor live' }).waitFor();
    assert.match(await row.textContent(), /View recordings/);

    await page.getByRole('button', { name: 'Remove auditor1' }).click();
    await page.locator('dialog[open] button[type=submit]').click();
    await page.locator('#members-table tbody tr', { hasText: 'auditor1' }).waitFor({ state: 'detached' });
    await waitForRowWith('#members-table', operator.username);
    await screenshot('member-removed');
  });

  step('targets: edit, a refused delete while in use, delete', async () => {
    await nav('Targets').click();
    await page.click('#target-new');
    const form = page.locator('#target-form');
    await form.getByLabel('Name').fill('db01');
    await form.getByLabel('Protocol').selectOption('postgres');
    assert.equal(await form.getByLabel('Port').inputValue(), '5432');
    await form.getByLabel('Address').fill('db01.example.internal');
    await form.getByLabel('Certificate fingerprint').fill(CERT_FINGERPRINT);
    await form.locator('button[type=submit]').click();
    await waitForRowWith('#targets-list', 'db01');

    await page.getByRole('button', { name: 'Edit target db01' }).click();
    assert.equal(await form.getByLabel('Address').inputValue(), 'db01.example.internal');
    await form.getByLabel('Port').fill('6432');
    await form.locator('button[type=submit]').click();
    const row = await waitForRowWith('#targets-list', 'db01.example.internal:6432');
    assert.ok(await row.isVisible());

    await page.getByRole('button', { name: `Delete target ${TARGET}` }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.locator('button[type=submit]').click();
    await dialog.locator('.form-error').waitFor({ state: 'visible' });
    await screenshot('target-delete-refused');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Delete target db01' }).click();
    await page.locator('dialog[open] button[type=submit]').click();
    await page.locator('#targets-list tbody tr', { hasText: 'db01' }).waitFor({ state: 'detached' });
    await waitForRowWith('#targets-list', TARGET);
    await screenshot('targets-after-delete');
  });

  step('accounts: rotate the secret and filter by safe', async () => {
    await nav('Accounts').click();
    await waitForRowWith('#accounts-list', ACCOUNT_USER);
    await page.getByRole('button', { name: `Rotate secret of ${ACCOUNT_USER} on ${TARGET}` }).click();
    const dialog = page.locator('dialog[open]');
    await dialog.getByLabel('Password', { exact: true }).fill(ROTATED_SECRET);
    await screenshot('rotate-secret-dialog');
    await dialog.locator('button[type=submit]').click();
    await dialog.waitFor({ state: 'detached' });
    await page.locator('.toast', { hasText: 'replaced' }).waitFor();
    await assertSecretNotInPage(ROTATED_SECRET, 'accounts page after rotating the secret');
    await page.locator('#account-safe-filter').selectOption({ label: SAFE });
    await waitForRowWith('#accounts-list', ACCOUNT_USER);
    await screenshot('accounts-filtered');
  });

  step('users: lock, unlock, set a password, delete', async () => {
    await nav('Users').click();
    await waitForRowWith('#users-list', 'auditor1');
    const row = () => page.locator('#users-list tbody tr', { hasText: 'auditor1' });
    await page.getByRole('button', { name: 'Lock auditor1' }).click();
    await page.locator('dialog[open] button[type=submit]').click();
    await row().filter({ hasText: 'Locked' }).waitFor();
    await screenshot('user-locked');
    await page.getByRole('button', { name: 'Unlock auditor1' }).click();
    await page.locator('dialog[open] button[type=submit]').click();
    await row().filter({ hasText: 'Active' }).waitFor();
    await page.getByRole('button', { name: 'Set a new password for auditor1' }).click();
    await page.locator('dialog[open]').getByLabel('New one-time password').fill(`Reset-${randomBytes(9).toString('hex')}`);
    await page.locator('dialog[open] button[type=submit]').click();
    await page.locator('.toast', { hasText: 'new password is set' }).waitFor();
    await page.getByRole('button', { name: 'Delete auditor1' }).click();
    await page.locator('dialog[open] button[type=submit]').click();
    await row().waitFor({ state: 'detached' });
    await screenshot('users-after-delete');
  });

  step('the audit log lists what happened, with filters', async () => {
    await nav('Audit log').click();
    const row = await waitForRowWith('#audit-table', 'login');
    assert.ok(await row.isVisible());
    await screenshot('audit-log');
    await page.locator('#audit-action').selectOption('account_secret_set');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await waitForRowWith('#audit-table', 'account_secret_set');
    const actions = await page.locator('#audit-table tbody tr td:nth-child(3)').allTextContents();
    assert.ok(actions.length > 0 && actions.every((a) => a === 'account_secret_set'), `filtered actions: ${actions}`);
    await screenshot('audit-log-filtered');
  });

  step('operator1 logs in and sees the account under "My accounts"', async () => {
    await logout();
    await login(operator.username, operator.password);
    await expectLoggedIn();
    await changePasswordIfRequired(operator);
    await assertText('#topbar', operator.displayName);
    assert.equal(await nav('Users').count(), 0, 'no Users page for a plain admin');
    assert.equal(await nav('Audit log').count(), 0, 'no Audit log for a plain admin');
    await nav('My accounts').click();
    const row = await waitForRowWith('#my-accounts', TARGET);
    const text = await row.textContent();
    for (const expected of [ACCOUNT_USER, SAFE, '10.20.0.21:22', 'SSH']) assert.ok(text.includes(expected), `My accounts row shows ${expected}: ${text}`);
    await assertSecretNotInPage(SECRET, 'My accounts');
    await screenshot('operator-my-accounts');
  });

  step('no API response and no page ever contained the secret; no CSP violations', async () => {
    const bodies = await Promise.all(apiBodies);
    const leaks = bodies.filter((b) => b.text.includes(SECRET) || b.text.includes(ROTATED_SECRET)).map((b) => b.url);
    assert.deepEqual(leaks, [], 'API responses must never carry the account secret');
    assert.deepEqual(problems, [], 'no Content-Security-Policy violations or page errors');
  });
});
