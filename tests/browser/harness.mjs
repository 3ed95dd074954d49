// Shared pieces of the browser tests that start their own `vigil serve` (embedded PostgreSQL,
// self-signed TLS) and drive Debian's Chromium through playwright-core. Not a test file itself
// (node --test runs *.test.mjs only).
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { chromium } from 'playwright-core';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const VIGIL_BIN = resolve(ROOT, process.env.VIGIL_BIN || 'build/server/vigil');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'tests', 'artifacts', 'browser');
export const STARTUP_TIMEOUT_MS = 180_000;

/** Builds web/static/vendor when it is missing or lacks a file the portal loads. */
export function ensureVendor() {
  const needed = ['qrcode.js', 'xterm.mjs', 'xterm.css', 'addon-fit.mjs'];
  if (needed.every((f) => existsSync(join(ROOT, 'web', 'static', 'vendor', f)))) return;
  execFileSync(process.execPath, [join(ROOT, 'web', 'static', 'build-vendor.mjs')], { cwd: ROOT, stdio: 'inherit' });
}

/**
 * A `vigil serve` in a temp dir. `extraConfig`: YAML lines appended to the config (e.g. the SSH
 * listener). Resolves once the portal URL and the initial superuser's password are printed.
 */
export class VigilServer {
  constructor({ extraConfig = [], name = 'vigil-browser' } = {}) {
    this.extraConfig = extraConfig;
    this.name = name;
    this.proc = null;
    this.url = null;
    this.admin = null;
    this.sshPort = null;
    this.output = [];
    this.tmp = null;
    this.exited = null;
  }

  start() {
    this.tmp = mkdtempSync(join(tmpdir(), `${this.name}-`));
    // The embedded PostgreSQL may run as another user (root → postgres): let it reach its dir.
    chmodSync(this.tmp, 0o755);
    const config = join(this.tmp, 'vigil.yaml');
    writeFileSync(config, [
      `data_dir: ${JSON.stringify(join(this.tmp, 'data'))}`,
      `web_root: ${JSON.stringify(join(ROOT, 'web', 'static'))}`,
      'listen:',
      '  address: 127.0.0.1',
      '  port: 0',
      'auth:',
      '  argon2_t_cost: 1',
      '  argon2_m_cost_kib: 8192',
      ...this.extraConfig,
      '',
    ].join('\n'));
    return new Promise((resolvePromise, reject) => {
      const proc = spawn(VIGIL_BIN, ['--config', config, 'serve'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      this.proc = proc;
      this.exited = new Promise((done) => proc.on('exit', (code, signal) => done({ code, signal })));
      let settled = false;
      const finish = (error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (error) reject(error); else resolvePromise();
      };
      const timer = setTimeout(() => finish(new Error(
        `vigil did not print "Portal: …" within ${STARTUP_TIMEOUT_MS / 1000} s.\n${this.tail()}`)), STARTUP_TIMEOUT_MS);
      let buffered = '';
      proc.stdout.setEncoding('utf8');
      proc.stdout.on('data', (chunk) => {
        buffered += chunk;
        let nl;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).replace(/\r$/, '');
          buffered = buffered.slice(nl + 1);
          this.output.push(line);
          const admin = line.match(/Initial superuser:\s*(\S+)\s+password:\s*(\S+)/);
          if (admin) this.admin = { username: admin[1], password: admin[2] };
          const ssh = line.match(/^SSH:\s*\S+?:(\d+)/);
          if (ssh) this.sshPort = Number(ssh[1]);
          const portal = line.match(/Portal:\s*(https:\/\/\S+?)\/?\s*$/);
          if (portal) this.url = portal[1] + '/';
          if (this.url && this.admin) finish();
        }
      });
      proc.stderr.setEncoding('utf8');
      proc.stderr.on('data', (chunk) => this.output.push(...chunk.split('\n').filter(Boolean).map((l) => `[stderr] ${l}`)));
      proc.on('error', (error) => finish(new Error(`cannot start ${VIGIL_BIN}: ${error.message}`)));
      proc.on('exit', (code, signal) => finish(new Error(
        `vigil exited (code ${code}, signal ${signal}) before it was ready.\n${this.tail()}`)));
    });
  }

  tail() {
    const lines = this.output.slice(-60).map((l) => l.replace(/(password:\s*)\S+/, '$1<redacted>'));
    return `--- vigil output (tail) ---\n${lines.join('\n')}`;
  }

  async stop({ keep = false } = {}) {
    const { proc } = this;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      let timer;
      const timeout = new Promise((done) => { timer = setTimeout(() => done('timeout'), 30_000); });
      const outcome = await Promise.race([this.exited, timeout]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        proc.kill('SIGKILL');
        await this.exited;
      }
    }
    if (this.tmp && !keep && !process.env.KEEP_TMP) rmSync(this.tmp, { recursive: true, force: true });
  }
}

/** Chromium plus one page that records CSP violations and page errors in `problems`. */
export class BrowserSession {
  constructor(prefix) {
    this.prefix = prefix;
    this.browser = null;
    this.context = null;
    this.page = null;
    this.problems = [];
    this.shots = 0;
  }

  async launch() {
    mkdirSync(ARTIFACTS, { recursive: true });
    this.browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    this.context = await this.browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 860 } });
    this.context.setDefaultTimeout(15_000);
    this.page = await this.context.newPage();
    this.page.on('console', (msg) => {
      if (/Content Security Policy|Refused to (load|execute|apply)/i.test(msg.text())) this.problems.push(`console: ${msg.text()}`);
    });
    this.page.on('pageerror', (error) => this.problems.push(`page error: ${error.message}`));
    return this.page;
  }

  async screenshot(name) {
    this.shots += 1;
    const file = join(ARTIFACTS, `${this.prefix}-${String(this.shots).padStart(2, '0')}-${name}.png`);
    await this.page.screenshot({ path: file, fullPage: true }).catch(() => {});
    return file;
  }

  async close() {
    if (this.browser) await this.browser.close();
  }
}

/** Logs in through the form; replaces a one-time password if asked. Returns the password now valid. */
export async function loginThroughPortal(page, url, username, password) {
  await page.goto(url);
  await page.locator('#login-form').waitFor();
  await page.fill('#login-username', username);
  await page.fill('#login-password', password);
  await page.press('#login-password', 'Enter');
  await page.locator('#logout').waitFor();
  await page.locator('#main .page-header h1').first().waitFor();
  if (!await page.locator('#must-change-password').isVisible()) return password;
  const next = `New-${randomBytes(8).toString('hex')}`;
  await page.fill('#current-password', password);
  await page.fill('#new-password', next);
  await page.fill('#repeat-password', next);
  await page.click('#password-form button[type=submit]');
  await page.locator('#must-change-password').waitFor({ state: 'detached' });
  return next;
}

/**
 * Calls the REST API from inside the logged-in page (its cookie, the CSRF token from /me), for
 * test setup that is not what the test is about. Throws with the server's message on 4xx/5xx.
 */
export async function apiCall(page, method, path, body) {
  const result = await page.evaluate(async ({ method, path, body }) => {
    const me = await fetch('/api/v1/me', { credentials: 'same-origin' });
    const { csrf_token: csrf } = await me.json();
    const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (method !== 'GET') {
      init.headers['Content-Type'] = 'application/json';
      init.headers['X-CSRF-Token'] = csrf;
      init.body = JSON.stringify(body || {});
    }
    const r = await fetch(`/api/v1${path}`, init);
    const text = await r.text();
    return { status: r.status, text };
  }, { method, path, body });
  if (result.status >= 400) throw new Error(`${method} ${path} → ${result.status}: ${result.text}`);
  return result.text ? JSON.parse(result.text) : null;
}

/** A free loopback TCP port (bound, read, released). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
export function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

/**
 * The steps of one scenario, which build on each other: once a step fails the later ones are
 * skipped (the first failure is the cause), and the failing step leaves a screenshot through
 * `screenshot(name)` (errors of the screenshot itself are ignored). `failed` says whether one did;
 * `fail()` marks the scenario failed from elsewhere (a failing before() hook).
 */
export function createStepper(timeoutMs, screenshot) {
  const steps = {
    failed: false,
    fail() { steps.failed = true; },
    step(name, fn) {
      it(name, { timeout: timeoutMs }, async (t) => {
        if (steps.failed) { t.skip('an earlier step failed'); return; }
        try {
          await fn(t);
        } catch (error) {
          steps.failed = true;
          await Promise.resolve()
            .then(() => screenshot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`))
            .catch(() => {});
          throw error;
        }
      });
    },
  };
  return steps;
}
