// A private OpenSSH sshd for browser tests (the JS twin of tests/support/sshd_fixture.hpp): its
// own host key and config in a temp dir, a free loopback port, password login for one test user
// (created with useradd on first use; not the C++ fixture's user). Needs root. Stopped by PID.
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, canConnect } from './harness.mjs';

// Its own test user, not the C++ fixture's: every fixture start sets a new password, and the
// C++ tests run at the same time as the browser tests.
export const SSHD_USER = 'vigil_webterm';

export class Sshd {
  constructor() {
    this.dir = null;
    this.proc = null;
    this.port = 0;
    this.user = SSHD_USER;
    this.password = randomBytes(15).toString('base64').replace(/[^A-Za-z0-9]/g, 'x');
    this.hostKeyFingerprint = null;
  }

  async start() {
    if (process.getuid && process.getuid() !== 0) throw new Error('the sshd fixture needs root');
    this.dir = mkdtempSync(join(tmpdir(), 'vigil-browser-sshd-'));
    chmodSync(this.dir, 0o755);
    mkdirSync('/run/sshd', { recursive: true });
    const hostKey = join(this.dir, 'host_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'vigil-test-host', '-f', hostKey]);
    this.hostKeyFingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${hostKey}.pub`], { encoding: 'utf8' }).split(/\s+/)[1];
    try {
      execFileSync('id', ['-u', this.user], { stdio: 'ignore' });
    } catch {
      // Another test process may create it at the same moment; only the outcome matters.
      try { execFileSync('useradd', ['-m', '-s', '/bin/bash', this.user], { stdio: 'ignore' }); } catch { /* raced */ }
      execFileSync('id', ['-u', this.user], { stdio: 'ignore' });
    }
    // chpasswd reads the pair on stdin: never a password on a command line.
    execFileSync('chpasswd', { input: `${this.user}:${this.password}\n` });

    for (let attempt = 0; attempt < 5; attempt += 1) {
      this.port = await freePort();
      const config = join(this.dir, 'sshd_config');
      writeFileSync(config, [
        `Port ${this.port}`, 'ListenAddress 127.0.0.1', `HostKey ${hostKey}`, `PidFile ${join(this.dir, 'sshd.pid')}`,
        'PasswordAuthentication yes', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no',
        `AllowUsers ${this.user}`, 'PermitRootLogin no', 'PrintMotd no', 'PrintLastLog no', 'LogLevel VERBOSE', '',
      ].join('\n'));
      this.proc = spawn('/usr/sbin/sshd', ['-f', config, '-D', '-E', join(this.dir, 'sshd.log')], { stdio: 'ignore' });
      for (let i = 0; i < 100; i += 1) {
        if (this.proc.exitCode !== null) break;
        if (await canConnect(this.port)) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      this.stopProcess();
    }
    throw new Error(`sshd did not start (see ${this.dir}/sshd.log)`);
  }

  stopProcess() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    this.proc = null;
  }

  stop() {
    this.stopProcess();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}
