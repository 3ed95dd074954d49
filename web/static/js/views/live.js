// Live sessions (SOC): every active session on every node, pushed by the server over the
// WebSocket GET /api/v1/live ({"type":"sessions"} on change, {"type":"alert"} for each new
// risk alert) — the page never polls. Watch opens a read-only terminal on
// /api/v1/sessions/{id}/watch (the current screen first, then the live stream) with Suspend /
// Resume / Terminate (POST /api/v1/sessions/{id}/{action}).
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { pageHeader, badge, emptyState, notify, messageOf, formDialog, confirmAction, field, input } from '../ui.js';
import { installXtermStyleShim } from '../xterm-csp.js';
import { formatDuration } from './sessions.js';

let active = null; // closes the page's sockets when the page changes
window.addEventListener('hashchange', () => {
  if (!window.location.hash.startsWith('#/live') && active) { active(); active = null; }
});

function socketUrl(path) {
  const url = new URL(`/api/v1${path}`, window.location.href);
  url.protocol = 'wss:';
  return url;
}

function since(startedAt) {
  const t = Date.parse(startedAt);
  return Number.isFinite(t) ? formatDuration((Date.now() - t) / 1000) : '';
}

/**
 * The watched screen of a graphical session: JPEG pictures drawn on a canvas in place of the
 * terminal. Pictures decode asynchronously; one that finishes after a newer one is dropped.
 */
function pictureView(host, term) {
  term.dispose();
  const canvas = h('canvas', { id: 'live-screen', class: 'live-screen', role: 'img', 'aria-label': 'Watched screen (read-only)' });
  host.replaceChildren(canvas);
  host.classList.add('live-screen-host');
  const ctx = canvas.getContext('2d');
  let shown = 0;
  let seq = 0;
  return {
    resize(width, height) { canvas.width = width; canvas.height = height; },
    async show(data) {
      const mine = ++seq;
      try {
        const bitmap = await createImageBitmap(new Blob([data], { type: 'image/jpeg' }));
        if (mine < shown) { bitmap.close(); return; }
        shown = mine;
        ctx.drawImage(bitmap, 0, 0);
        bitmap.close();
        canvas.dataset.frames = String(Number(canvas.dataset.frames || 0) + 1);
      } catch { /* a picture that does not decode is skipped; the next one replaces it */ }
    },
  };
}

export function render(root) {
  if (active) active();
  let sessions = [];
  let alertCount = 0;
  let feed = null;
  let watch = null; // { id, socket, term }
  let disposed = false;

  const status = h('p', { class: 'muted small', id: 'live-status', role: 'status', text: 'Connecting…' });
  const filter = input('filter', { type: 'search', id: 'live-filter', placeholder: 'Filter by user, account, target, node…',
    'aria-label': 'Filter live sessions' });
  const alertBadge = h('span', { id: 'live-alert-count', class: 'badge badge-warn', text: '0 alerts' });
  const tableHost = h('div', { id: 'live-table-host' });
  const alertsList = h('ul', { id: 'live-alerts', class: 'live-alerts' });
  const watchHost = h('section', { id: 'live-watch', class: 'live-watch', hidden: true });
  replace(root,
    pageHeader('Live sessions', 'Every active session on every node, as it happens.', alertBadge),
    h('div', { class: 'toolbar' }, filter, status),
    tableHost, watchHost,
    h('h2', { text: 'Alerts' }), alertsList);

  const matches = (s, q) => !q || [s.username, s.account_user, s.target_name, s.node, s.client_addr, s.protocol, s.safe_name]
    .some((v) => String(v || '').toLowerCase().includes(q));

  // Moderated safes: a session waits (its user's input held) until someone watches it.
  const moderationBadge = (s) => {
    if (s.moderation === 'moderated') return badge('moderated', 'neutral');
    if (s.moderation !== 'waiting') return null;
    const b = badge('needs a moderator', 'warn');
    b.title = 'Held until a SOC watcher watches it: press Watch';
    b.classList.add('live-needs-moderator');
    return b;
  };

  const renderTable = () => {
    const q = filter.value.trim().toLowerCase();
    const rows = sessions.filter((s) => matches(s, q));
    if (!rows.length) {
      replace(tableHost, emptyState(sessions.length ? 'No match' : 'No active sessions',
        sessions.length ? 'No active session matches the filter.' : 'Sessions appear here as soon as they start.'));
      return;
    }
    const head = h('tr', {}, ...['User', 'Account', 'Target', 'Protocol', 'Client', 'Node', 'Duration', 'Risk', '']
      .map((t) => h('th', { scope: 'col', text: t })));
    const body = rows.map((s) => h('tr', { dataset: { sessionId: s.id }, class: 'live-row' },
      h('td', {}, s.username, ' ', moderationBadge(s)),
      h('td', { text: s.account_user }),
      h('td', { text: s.target_name }),
      h('td', { text: `${s.protocol}${s.via === 'web' ? ' (web)' : ''}` }),
      h('td', { text: s.client_addr }),
      h('td', { text: s.node }),
      h('td', { class: 'live-duration', dataset: { start: s.started_at }, text: since(s.started_at) }),
      h('td', {}, badge(String(s.risk_score || 0), s.risk_score > 0 ? 'warn' : 'neutral')),
      h('td', {}, h('button', { type: 'button', class: 'btn btn-small live-watch-btn', text: 'Watch',
        onClick: () => openWatch(s) }))));
    replace(tableHost, h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'live-table' },
      h('caption', { class: 'visually-hidden', text: 'Active sessions' }), h('thead', {}, head), h('tbody', {}, ...body))));
  };
  filter.addEventListener('input', renderTable);
  const ticker = setInterval(() => {
    for (const cell of document.querySelectorAll('#live-table .live-duration')) cell.textContent = since(cell.dataset.start);
  }, 1000);

  const onAlert = (a) => {
    alertCount += 1;
    alertBadge.textContent = `${alertCount} alert${alertCount === 1 ? '' : 's'}`;
    const link = h('a', { href: a.link, text: `${a.severity}: ${a.rule_id} — ${a.username}` });
    alertsList.prepend(h('li', { class: `live-alert live-alert-${a.severity}`, dataset: { alertId: String(a.id) } },
      link, h('span', { class: 'muted small', text: ` ${a.matched || a.message || ''}` })));
    notify(`Alert ${a.severity}: ${a.rule_id} (${a.username})`, a.severity === 'critical' || a.severity === 'high' ? 'error' : 'success');
  };

  const connectFeed = () => {
    const ws = new WebSocket(socketUrl('/live'));
    feed = ws;
    ws.addEventListener('open', () => { status.textContent = 'Live'; status.dataset.state = 'live'; });
    ws.addEventListener('message', (event) => {
      let m;
      try { m = JSON.parse(event.data); } catch { return; }
      if (m.type === 'sessions') { sessions = m.items || []; renderTable(); }
      else if (m.type === 'alert') onAlert(m);
    });
    ws.addEventListener('close', () => {
      if (disposed || feed !== ws) return;
      status.textContent = 'Disconnected — reconnecting…';
      status.dataset.state = 'closed';
      setTimeout(() => { if (!disposed) connectFeed(); }, 2000);
    });
  };

  const closeWatch = () => {
    if (!watch) return;
    if (watch.socket && watch.socket.readyState <= WebSocket.OPEN) watch.socket.close(1000, 'closed');
    if (watch.term) watch.term.dispose();
    watch = null;
    watchHost.hidden = true;
    replace(watchHost);
  };

  const control = async (id, action, body) => {
    try {
      await api.post(`/sessions/${id}/${action}`, body);
      notify(`Session ${action === 'resume' ? 'resumed' : action === 'suspend' ? 'suspended' : 'terminated'}`);
    } catch (error) {
      notify(`${action} failed: ${messageOf(error)}`, 'error');
      throw error;
    }
  };

  async function openWatch(s) {
    closeWatch();
    const host = h('div', { class: 'terminal-host', id: 'live-terminal', 'aria-label': 'Watched terminal (read-only)' });
    const wstatus = h('p', { id: 'live-watch-status', class: 'muted small', role: 'status', text: 'Connecting…' });
    const reasonInput = (name, label, required) => field(label, input(name, { required, maxlength: 500, id: `live-${name}` }));
    const suspend = h('button', { type: 'button', class: 'btn', id: 'live-suspend', text: 'Suspend',
      onClick: () => formDialog({ title: 'Suspend the session', description: 'The user’s input stops reaching the target; they are told why.',
        submitLabel: 'Suspend', build: () => reasonInput('message', 'Message to the user', false),
        submit: (form) => control(s.id, 'suspend', { message: form.elements.message.value }) }) });
    const resume = h('button', { type: 'button', class: 'btn', id: 'live-resume', text: 'Resume',
      onClick: () => confirmAction({ title: 'Resume the session', message: 'The user’s input reaches the target again.',
        confirmLabel: 'Resume', danger: false, action: () => control(s.id, 'resume', {}) }) });
    const terminate = h('button', { type: 'button', class: 'btn btn-danger', id: 'live-terminate', text: 'Terminate',
      onClick: () => formDialog({ title: 'Terminate the session', description: 'The session ends now; the reason is shown to the user.',
        submitLabel: 'Terminate', danger: true, build: () => reasonInput('reason', 'Reason', true),
        submit: (form) => control(s.id, 'terminate', { reason: form.elements.reason.value }) }) });
    const close = h('button', { type: 'button', class: 'btn btn-ghost', id: 'live-watch-close', text: 'Close', onClick: closeWatch });
    replace(watchHost,
      h('div', { class: 'terminal-bar' }, h('strong', { text: `${s.username} → ${s.account_user}@${s.target_name} (${s.node})` }),
        wstatus, suspend, resume, terminate, close),
      h('div', { class: 'terminal-frame' }, host));
    watchHost.hidden = false;
    watchHost.dataset.sessionId = s.id;
    const current = { id: s.id, socket: null, term: null };
    watch = current;
    installXtermStyleShim();
    const { Terminal } = await import('/vendor/xterm.mjs');
    if (watch !== current) return;
    const term = new Terminal({ disableStdin: true, cursorBlink: false, fontSize: 13, scrollback: 2000,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      theme: { background: '#0f172a', foreground: '#e2e8f0' } });
    current.term = term;
    term.open(host);
    const ws = new WebSocket(socketUrl(`/sessions/${encodeURIComponent(s.id)}/watch`));
    ws.binaryType = 'arraybuffer';
    current.socket = ws;
    let closedMessage = null;
    ws.addEventListener('open', () => { wstatus.textContent = 'Watching (read-only)'; wstatus.dataset.state = 'watching'; });
    // A graphical session (RDP) sends pictures: {"type":"image",width,height}, then JPEG frames.
    let screen = null;
    ws.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') {
        if (screen) screen.show(event.data);
        else term.write(new Uint8Array(event.data));
        return;
      }
      let m;
      try { m = JSON.parse(event.data); } catch { return; }
      if (m.type === 'size') term.resize(m.cols, m.rows);
      else if (m.type === 'image') {
        if (!screen) { screen = pictureView(host, term); current.term = null; }
        screen.resize(m.width, m.height);
      } else if (m.type === 'closed') closedMessage = m.message;
    });
    ws.addEventListener('close', (event) => {
      if (watch !== current) return;
      wstatus.textContent = `Closed: ${closedMessage || event.reason || `code ${event.code}`}`;
      wstatus.dataset.state = 'closed';
    });
  }

  active = () => {
    disposed = true;
    clearInterval(ticker);
    closeWatch();
    if (feed) feed.close(1000, 'page closed');
  };
  connectFeed();
}
