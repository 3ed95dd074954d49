// RDP for browser tests (the JS twin of tests/integration/rdp/rdp_env.hpp): a target desktop
// (Xvfb + xterm shown by FreeRDP's shadow server with NLA, a SAM file for its one user) and a
// client display where the person's real xfreerdp runs. Private X servers (-displayfd, -auth),
// free loopback ports; everything stopped by PID.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, canConnect } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A private Xvfb 1280x800 with its own MIT cookie. */
class XDisplay {
  constructor(dir, name) {
    this.dir = dir;
    this.name = name;
    this.auth = join(dir, `xauth-${name}`);
    this.display = null;
    this.proc = null;
  }

  async start() {
    const cookie = randomBytes(16).toString('hex');
    execFileSync('xauth', ['-f', this.auth, 'add', ':0', 'MIT-MAGIC-COOKIE-1', cookie]);
    const dfile = join(this.dir, `display-${this.name}`);
    const fd = openSync(dfile, 'w');
    // -displayfd: Xvfb picks a free display and writes its number to fd 3.
    this.proc = spawn('Xvfb', ['-displayfd', '3', '-auth', this.auth, '-screen', '0', '1280x800x24', '-nolisten', 'tcp'],
      { stdio: ['ignore', 'ignore', 'ignore', fd] });
    closeSync(fd);
    for (let i = 0; i < 300 && !this.display; i += 1) {
      const d = readFileSync(dfile, 'utf8');
      if (d.endsWith('\n')) this.display = `:${d.trim()}`;
      else await sleep(50);
    }
    if (!this.display) throw new Error(`Xvfb ${this.name} did not start`);
    execFileSync('xauth', ['-f', this.auth, 'add', this.display, 'MIT-MAGIC-COOKIE-1', cookie]);
  }

  env() { return { ...process.env, DISPLAY: this.display, XAUTHORITY: this.auth, WLOG_LEVEL: 'WARN' }; }

  stop() {
    if (this.proc && this.proc.exitCode === null) this.proc.kill('SIGTERM');
    this.proc = null;
  }
}

export class RdpWorld {
  constructor() {
    this.dir = null;
    this.user = 'vigiltest';
    this.password = randomBytes(12).toString('base64').replace(/[^A-Za-z0-9]/g, 'x');
    this.port = 0;
    this.procs = [];
  }

  /** The target desktop (an xterm) behind freerdp-shadow-cli with NLA, and the client display. */
  async start() {
    this.dir = mkdtempSync(join(tmpdir(), 'vigil-browser-rdp-'));
    this.target = new XDisplay(this.dir, 'target');
    this.client = new XDisplay(this.dir, 'client');
    await this.target.start();
    await this.client.start();
    this.procs.push(spawn('xterm', ['-geometry', '160x50+0+0', '-e', 'bash', '--norc'], { env: this.target.env(), stdio: 'ignore' }));
    const sam = join(this.dir, 'sam.txt');
    execFileSync('sh', ['-c', `winpr-hash -u "$U" -p "$P" -f sam > "${sam}"`], { env: { ...process.env, U: this.user, P: this.password } });
    this.port = await freePort();
    const shadow = spawn('freerdp-shadow-cli', [`/bind-address:127.0.0.1`, `/port:${this.port}`, '+auth', '/sec:nla', `/sam-file:${sam}`],
      { env: this.target.env(), stdio: 'ignore' });
    this.procs.push(shadow);
    for (let i = 0; i < 200; i += 1) {
      if (shadow.exitCode !== null) break;
      if (await canConnect(this.port)) return;
      await sleep(100);
    }
    throw new Error('the RDP target (freerdp-shadow-cli) did not start');
  }

  /** The person's xfreerdp on the client display, the launch token as the user name. */
  xfreerdp(vigilPort, token) {
    const p = spawn('xfreerdp', [`/v:127.0.0.1:${vigilPort}`, `/u:${token}`, '/p:unused', '/cert:ignore', '/sec:tls', '/rfx',
      '/size:1280x800', '-clipboard'], { env: this.client.env(), stdio: 'ignore' });
    this.procs.push(p);
    return p;
  }

  /** Types `text` and Enter into the xfreerdp window (the target's xterm gets the keys). */
  type(text) {
    const env = this.client.env();
    const win = execFileSync('xdotool', ['search', '--sync', '--limit', '1', '--class', 'xfreerdp'], { env, encoding: 'utf8', timeout: 20_000 }).trim();
    execFileSync('xdotool', ['windowfocus', '--sync', win], { env, timeout: 10_000 });
    execFileSync('xdotool', ['mousemove', '--window', win, '400', '300'], { env, timeout: 10_000 });
    execFileSync('xdotool', ['type', '--delay', '40', text], { env, timeout: 60_000 });
    execFileSync('xdotool', ['key', 'Return'], { env, timeout: 10_000 });
  }

  stop() {
    for (const p of this.procs.reverse()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    this.procs = [];
    if (this.client) this.client.stop();
    if (this.target) this.target.stop();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
