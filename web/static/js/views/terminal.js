// The browser terminal: xterm.js connected to GET /api/v1/accounts/{id}/terminal (WebSocket).
// Binary frames from the server are terminal output; text frames are JSON control messages
// ({"type":"session"} / {"type":"closed"}). Keystrokes go up as {"type":"input","data"}, window
// changes as {"type":"resize","cols","rows"} (docs/api.md).
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { pageHeader, errorState, messageOf } from '../ui.js';
import { installXtermStyleShim } from '../xterm-csp.js';

let active = null; // the open terminal, ended when the page changes

function teardown() {
  if (active) active();
  active = null;
}
window.addEventListener('hashchange', () => {
  if (!window.location.hash.startsWith('#/terminal/')) teardown();
});

async function loadXterm() {
  installXtermStyleShim();
  const [xterm, fit] = await Promise.all([import('/vendor/xterm.mjs'), import('/vendor/addon-fit.mjs')]);
  return { Terminal: xterm.Terminal, FitAddon: fit.FitAddon };
}

export function render(root, { params }) {
  teardown();
  const accountId = params.id;
  const title = h('span', { id: 'terminal-title', text: `Account ${accountId}` });
  const status = h('p', { class: 'terminal-status', id: 'terminal-status', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'status-dot status-connecting', 'aria-hidden': 'true' }), h('span', { text: 'Connecting…' }));
  const disconnect = h('button', { type: 'button', class: 'btn btn-danger', id: 'terminal-disconnect', text: 'Disconnect', disabled: true });
  const reconnect = h('button', { type: 'button', class: 'btn', id: 'terminal-reconnect', text: 'Connect again', hidden: true });
  const host = h('div', { class: 'terminal-host', id: 'terminal', 'aria-label': 'Terminal' });
  const holder = h('div', { class: 'terminal-frame' }, host);
  replace(root,
    pageHeader('Terminal', null, reconnect, disconnect,
      h('a', { href: '#/my-accounts', class: 'btn btn-ghost', text: 'Back to My accounts' })),
    h('div', { class: 'terminal-bar' }, h('strong', {}, title), status),
    holder);

  const setStatus = (kind, text) => {
    replace(status, h('span', { class: `status-dot status-${kind}`, 'aria-hidden': 'true' }), h('span', { text }));
    status.dataset.state = kind;
  };

  api.get(`/accounts/${accountId}`).then((a) => {
    title.textContent = `${a.username}@${a.target_name}`;
    document.title = `${a.username}@${a.target_name} · Terminal · Vigil`;
  }).catch(() => { /* the socket reports access problems */ });

  let term = null;
  let fit = null;
  let socket = null;
  let observer = null;
  let disposed = false;

  const cleanup = () => {
    disposed = true;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close(1000, 'page closed');
    if (observer) observer.disconnect();
    window.removeEventListener('resize', onWindowResize);
    if (term) term.dispose();
    socket = null;
    term = null;
  };
  active = cleanup;
  const onWindowResize = () => { if (fit) fit.fit(); };

  const send = (message) => {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  };

  const connect = async () => {
    reconnect.hidden = true;
    setStatus('connecting', 'Connecting…');
    // A refused upgrade reaches the page only as "closed, 1006"; ask the plain endpoint first
    // so that "not logged in" or "not available on this server" can be said in words.
    try {
      await api.get(`/accounts/${accountId}/terminal`);
    } catch (error) {
      if (disposed) return;
      if (error.status !== 426) {
        if (error.status === 401) return;
        setStatus('closed', `Cannot open the terminal: ${messageOf(error)}`);
        reconnect.hidden = false;
        return;
      }
    }
    if (disposed) return;
    term.reset();
    const url = new URL(`/api/v1/accounts/${encodeURIComponent(accountId)}/terminal`, window.location.href);
    url.protocol = 'wss:';
    url.searchParams.set('cols', String(term.cols));
    url.searchParams.set('rows', String(term.rows));
    const ws = new WebSocket(url);
    socket = ws;
    ws.binaryType = 'arraybuffer';
    let closedMessage = null;
    let sessionId = null;
    ws.addEventListener('open', () => {
      setStatus('connecting', 'Connected to Vigil — opening the session…');
      disconnect.disabled = false;
      term.focus();
    });
    ws.addEventListener('message', (event) => {
      if (typeof event.data !== 'string') {
        term.write(new Uint8Array(event.data));
        return;
      }
      let message;
      try { message = JSON.parse(event.data); } catch { return; }
      if (message.type === 'session') {
        sessionId = String(message.id || '');
        host.dataset.sessionId = sessionId;
        setStatus('connected', `Connected · session ${sessionId}`);
      } else if (message.type === 'closed') {
        closedMessage = String(message.message || '');
      }
    });
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return;
      disconnect.disabled = true;
      reconnect.hidden = false;
      const why = closedMessage || event.reason ||
        (event.code === 1006 ? 'the connection was lost or refused' : `code ${event.code}`);
      setStatus('closed', `Closed: ${why}${sessionId && !why.includes(sessionId) ? ` (session ${sessionId})` : ''}`);
      socket = null;
    });
  };

  disconnect.addEventListener('click', () => {
    if (socket) socket.close(1000, 'closed by user');
  });
  reconnect.addEventListener('click', () => { if (term) connect(); });

  loadXterm().then(({ Terminal, FitAddon }) => {
    if (disposed) return;
    term = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: { background: '#0f172a', foreground: '#e2e8f0' },
    });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open(host);
    fit.fit();
    term.onData((data) => send({ type: 'input', data }));
    term.onResize(({ cols, rows }) => send({ type: 'resize', cols, rows }));
    observer = new ResizeObserver(() => { if (fit && !disposed) fit.fit(); });
    observer.observe(holder);
    window.addEventListener('resize', onWindowResize);
    term.focus();
    connect();
  }).catch((error) => {
    if (disposed) return;
    replace(holder, errorState({ message: `The terminal component could not be loaded (${messageOf(error)}). ` +
      'The server’s web files may be incomplete: run “npm ci && npm run build:web”.' }));
    setStatus('closed', 'Not connected');
  });

}
