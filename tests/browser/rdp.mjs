// RDP for browser tests (the JS twin of tests/integration/rdp/rdp_env.hpp): a target desktop
// (Xvfb + xterm shown by FreeRDP's shadow server with NLA, a SAM file for its one user) and a
// client display where the person's real xfreerdp runs. Private X servers (-displayfd, -auth),
// free loopback ports; everything stopped by PID.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, openSync, closeSync, mkdirSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, canConnect } from './harness.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits up to 20 s for `proc` to accept connections on `port`; throws if it exits or never does. */
async function waitListening(proc, port, name) {
  for (let i = 0; i < 200; i += 1) {
    if (proc.exitCode !== null) break;
    if (await canConnect(port)) return;
    await sleep(100);
  }
  throw new Error(`${name} did not start`);
}

/** A private X server with its own MIT cookie: Xvfb 1280x800, or `server` (e.g. Xvnc and its options). */
class XDisplay {
  constructor(dir, name, server = ['Xvfb', '-screen', '0', '1280x800x24']) {
    this.dir = dir;
    this.name = name;
    this.server = server;
    this.auth = join(dir, `xauth-${name}`);
    this.display = null;
    this.proc = null;
  }

  async start() {
    const cookie = randomBytes(16).toString('hex');
    execFileSync('xauth', ['-f', this.auth, 'add', ':0', 'MIT-MAGIC-COOKIE-1', cookie]);
    const dfile = join(this.dir, `display-${this.name}`);
    const fd = openSync(dfile, 'w');
    // -displayfd: the server picks a free display and writes its number to fd 3.
    this.proc = spawn(this.server[0], ['-displayfd', '3', '-auth', this.auth, ...this.server.slice(1), '-nolisten', 'tcp'],
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
    await waitListening(shadow, this.port, 'the RDP target (freerdp-shadow-cli)');
  }

  /** The person's xfreerdp on the client display, the launch token as the user name. */
  xfreerdp(vigilPort, token, clipboard = '-clipboard') {
    const p = spawn('xfreerdp', [`/v:127.0.0.1:${vigilPort}`, `/u:${token}`, '/p:unused', '/cert:ignore', '/sec:tls', '/rfx',
      '/size:1280x800', clipboard], { env: this.client.env(), stdio: 'ignore' });
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

/**
 * A second target for the clipboard (FreeRDP's shadow server has none): xrdp (TLS, the account's
 * password is the VNC password) in front of a private Xvnc, whose clipboard xrdp-chansrv bridges
 * to X selections. The JS twin of tests/integration/rdp/xrdp_target.hpp.
 */
export class XrdpTarget {
  constructor(dir) {
    this.dir = dir;
    this.password = `v${randomBytes(3).toString('hex')}`;  // VNC passwords are at most 8 characters
    this.procs = [];
  }

  async start() {
    const dir = this.dir;
    execFileSync('sh', ['-c', `printf '%s' "$P" | vncpasswd -f > "${dir}/vnc.pass"`], { env: { ...process.env, P: this.password } });
    const vncPort = await freePort();
    this.x = new XDisplay(dir, 'xrdp', ['Xvnc', '-rfbport', String(vncPort), '-localhost', '-SecurityTypes', 'VncAuth',
      '-PasswordFile', `${dir}/vnc.pass`, '-geometry', '1024x768', '-depth', '24']);
    await this.x.start();
    const number = this.x.display.slice(1);
    mkdirSync('/run/xrdp/sockdir', { recursive: true, mode: 0o1777 });
    const socket = `/run/xrdp/sockdir/xrdp_chansrv_socket_${number}`;
    this.procs.push(spawn('xrdp-chansrv', [], { env: { ...this.x.env(), CHANSRV_LOG_PATH: dir }, stdio: 'ignore' }));
    for (let i = 0; i < 100 && !existsSync(socket); i += 1) await sleep(50);
    if (!existsSync(socket)) throw new Error('xrdp-chansrv did not start');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=xrdp-test',
      '-keyout', `${dir}/xrdp-key.pem`, '-out', `${dir}/xrdp-cert.pem`], { stdio: 'ignore' });
    this.port = await freePort();
    writeFileSync(`${dir}/xrdp.ini`, [
      '[Globals]', 'ini_version=1', 'fork=false', `port=tcp://127.0.0.1:${this.port}`, 'use_vsock=false',
      'security_layer=tls', 'crypt_level=high', `certificate=${dir}/xrdp-cert.pem`, `key_file=${dir}/xrdp-key.pem`,
      'ssl_protocols=TLSv1.2, TLSv1.3', 'autorun=vnc', 'allow_channels=true', 'max_bpp=32', 'new_cursors=true',
      'use_fastpath=both', 'require_credentials=true',
      '[Logging]', `LogFile=${dir}/xrdp.log`, 'LogLevel=INFO', 'EnableSyslog=false',
      '[Channels]', 'rdpdr=false', 'rdpsnd=false', 'drdynvc=false', 'cliprdr=true', 'rail=false', 'xrdpvr=false', 'tcutils=false',
      '[vnc]', 'name=vnc', 'lib=libvnc.so', 'username=na', 'password=ask', 'ip=127.0.0.1', `port=${vncPort}`,
      `chansrvport=DISPLAY(${number})`, ''].join('\n'));
    const xrdp = spawn('xrdp', ['--nodaemon', '--config', `${dir}/xrdp.ini`], { stdio: 'ignore' });
    this.procs.push(xrdp);
    await waitListening(xrdp, this.port, 'xrdp');
  }

  env() { return this.x.env(); }

  stop() {
    for (const p of this.procs.reverse()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGTERM');
    this.procs = [];
    if (this.x) this.x.stop();
  }
}

/** Puts `text` on the CLIPBOARD of the display whose environment is `env` (xclip keeps serving it). */
export function setClipboard(env, text) {
  const p = spawn('xclip', ['-selection', 'clipboard', '-i', '-quiet'], { env, stdio: ['pipe', 'ignore', 'ignore'] });
  p.stdin.end(text);
  return p;
}

/** The CLIPBOARD of the display whose environment is `env` ('' when nobody owns it). */
export function readClipboard(env) {
  try {
    return execFileSync('xclip', ['-selection', 'clipboard', '-o'], { env, encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return '';
  }
}
