// The Connect dialog of "My accounts": asks for a one-time launch token and shows the ready
// `ssh` command (or, for a SQL Server account, a `tsql` line and a connection string) with a copy button and a countdown until the token expires. The token is a
// secret: it lives only in this dialog, which is removed from the page when it closes.
import * as api from './api.js';
import { h, replace, uid } from './dom.js';
import { loadingState, errorState, emptyState } from './ui.js';
import { renderAccessRequestForm } from './access-request-form.js';

/** Copies `text`; falls back to selecting `selectTarget` (and execCommand) without clipboard access. */
export async function copyText(text, selectTarget) {
  try {
    await navigator.clipboard.writeText(text);
    return 'copied';
  } catch {
    const range = document.createRange();
    range.selectNodeContents(selectTarget);
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try {
      if (document.execCommand('copy')) return 'copied';
    } catch { /* not supported */ }
    return 'selected';
  }
}

function sshCommand(launch) {
  const ssh = launch.ssh || {};
  if (ssh.command) return ssh.command;
  const port = ssh.port && Number(ssh.port) !== 22 ? `-p ${ssh.port} ` : '';
  return `ssh ${port}${ssh.user || launch.token}@${ssh.host || window.location.hostname}`;
}

/** The psql command line for a PostgreSQL account (the token is its password). */
function psqlCommand(launch) {
  const pg = launch.postgres || {};
  if (pg.command) return pg.command;
  return `psql "host=${window.location.hostname} port=5433 user=${pg.user || ''} sslmode=require"`;
}

/** Opens the dialog for `account` (from /my/accounts); `onOpenInBrowser(account)` leaves for the terminal. */
export function openConnectDialog(account, { onOpenInBrowser }) {
  const titleId = uid('connect-title');
  const body = h('div', { class: 'connect-body', id: 'connect-body' });
  const close = h('button', { type: 'button', class: 'btn btn-ghost', id: 'connect-close', text: 'Close' });
  const browser = h('button', { type: 'button', class: 'btn', id: 'connect-browser', text: 'Open in browser' });
  // The browser terminal is SSH only; a database account is opened with the person's own client.
  if (account.protocol && account.protocol !== 'ssh') browser.hidden = true;
  const dialog = h('dialog', { class: 'dialog dialog-wide', id: 'connect-dialog', 'aria-labelledby': titleId },
    h('div', { class: 'dialog-form' },
      h('h2', { id: titleId, text: `Connect to ${account.username}@${account.target_name}` }),
      body,
      h('div', { class: 'form-actions' }, browser, close)));
  let timer = null;
  const stop = () => { if (timer) clearInterval(timer); timer = null; };
  close.addEventListener('click', () => dialog.close());
  browser.addEventListener('click', () => { dialog.close(); onOpenInBrowser(account); });
  dialog.addEventListener('close', () => { stop(); dialog.remove(); });
  document.body.append(dialog);
  dialog.showModal();

  const request = async () => {
    stop();
    replace(body, loadingState('Issuing a one-time token…'));
    try {
      const launch = await api.post(`/accounts/${account.id}/launch`, {});
      showLaunch(launch);
    } catch (error) {
      if (error && error.status === 401) { dialog.close(); return; }
      // Dual authorization: no approved request yet, so ask for one instead of a dead end.
      if (error && error.code === 'approval_required') { askApproval(error.message); return; }
      replace(body, errorState(error, request));
    }
  };

  const askApproval = (message) => {
    browser.hidden = true;
    renderAccessRequestForm(body, account, {
      message,
      onCancel: () => dialog.close(),
      onCreated: (created) => {
        replace(body, emptyState('Access requested',
          `Request #${created.id} is waiting for ${created.approvals_needed} approval(s). You can connect once it is ` +
          'approved, within its time window.',
          h('a', { href: '#/access-requests', class: 'btn', id: 'access-requests-link', text: 'See my requests',
            onClick: () => dialog.close() })));
      },
    });
  };

  const showLaunch = (launch) => {
    if (launch.rdp && launch.rdp.file) return showRdp(launch);
    const tds = launch.tds || null;
    const isPg = launch.protocol === 'postgres';
    browser.hidden = Boolean(tds) || isPg;  // the browser terminal is for SSH accounts
    const command = tds ? tds.command : isPg ? psqlCommand(launch) : sshCommand(launch);
    const code = h('code', { class: 'command', id: 'launch-command', text: command });
    const copy = h('button', { type: 'button', class: 'btn btn-primary btn-small', id: 'launch-copy', text: 'Copy' });
    const countdown = h('p', { class: 'countdown', id: 'launch-countdown', role: 'status', 'aria-live': 'polite' });
    const again = h('button', { type: 'button', class: 'btn btn-small', id: 'launch-again', text: 'Connect again', hidden: true });
    const box = h('div', { class: 'command-box' }, code, copy);
    copy.addEventListener('click', async () => {
      const outcome = await copyText(command, code);
      copy.textContent = outcome === 'copied' ? 'Copied' : 'Press Ctrl+C';
      setTimeout(() => { if (copy.isConnected) copy.textContent = 'Copy'; }, 2000);
    });
    again.addEventListener('click', request);
    const extra = [];
    if (tds) {
      const conn = h('code', { class: 'command', id: 'launch-connection-string', text: tds.connection_string });
      extra.push(h('p', { text: 'Or use this connection string in your SQL client (the login is the account\'s, ' +
        'the password is the one-time token):' }), h('div', { class: 'command-box' }, conn));
    }
    if (isPg) {
      // psql asks for the password: the one-time token, with its own copy button.
      const token = h('code', { class: 'command', id: 'launch-password', text: launch.token });
      const copyToken = h('button', { type: 'button', class: 'btn btn-small', id: 'launch-password-copy', text: 'Copy password' });
      copyToken.addEventListener('click', async () => {
        const outcome = await copyText(launch.token, token);
        copyToken.textContent = outcome === 'copied' ? 'Copied' : 'Press Ctrl+C';
        setTimeout(() => { if (copyToken.isConnected) copyToken.textContent = 'Copy password'; }, 2000);
      });
      extra.push(h('p', { class: 'small', text: 'Password (the one-time token; or set PGPASSWORD to it):' }),
        h('div', { class: 'command-box' }, token, copyToken));
    }
    replace(body,
      h('p', { text: tds
        ? 'Run this command (FreeTDS tsql) on your computer. Vigil logs you in to SQL Server as the vault account; ' +
          'the password never reaches you.'
        : isPg
        ? 'Run this command in a terminal on your computer (any PostgreSQL client works with these settings). ' +
          'It logs in to the database as the vault account; the vault password never reaches you.'
        : 'Run this command in a terminal on your computer. It opens a shell on the target as the ' +
          'vault account; the password never reaches you.' }),
      box, ...extra, h('div', { class: 'countdown-row' }, countdown, again),
      h('p', { class: 'muted small', text: 'The token works once. Treat it like a password until it expires.' }));
    copy.focus();

    const expires = Date.parse(launch.expires_at);
    const tick = () => {
      const left = Math.ceil((expires - Date.now()) / 1000);
      if (!Number.isFinite(left) || left <= 0) {
        stop();
        countdown.textContent = 'Expired — press Connect again for a new command.';
        countdown.classList.add('countdown-expired');
        box.classList.add('command-expired');
        body.querySelectorAll('.command-box').forEach((b) => b.classList.add('command-expired'));
        copy.disabled = true;
        body.querySelectorAll('#launch-password-copy').forEach((b) => { b.disabled = true; });
        again.hidden = false;
        return;
      }
      countdown.textContent = `Valid for ${left} s`;
    };
    tick();
    if (!again.hidden) return;
    timer = setInterval(tick, 1000);
  };

  // RDP: the .rdp file (Vigil's address, the one-time token as the user name) is downloaded at
  // once; the person opens it with their RDP client.
  const showRdp = (launch) => {
    const download = () => {
      const blob = new Blob([launch.rdp.file], { type: 'application/x-rdp' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: launch.rdp.filename || 'vigil.rdp', hidden: true });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    };
    const again = h('button', { type: 'button', class: 'btn btn-primary btn-small', id: 'launch-rdp-download', text: 'Download .rdp file' });
    again.addEventListener('click', download);
    const code = h('code', { class: 'command', id: 'launch-command', text: launch.rdp.command });
    browser.hidden = true;
    replace(body,
      h('p', { text: 'Open the downloaded .rdp file with your RDP client. It shows the target\'s desktop as the ' +
        'vault account; the password never reaches you. The file works once, within a minute.' }),
      h('div', { class: 'command-box' }, again),
      h('p', { class: 'muted small', text: 'With xfreerdp:' }), h('div', { class: 'command-box' }, code));
    download();
  };

  request();
  return dialog;
}
