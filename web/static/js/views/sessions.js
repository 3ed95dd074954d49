// Sessions: the proxied sessions the caller may see (their own, and those of safes where they may
// view recordings), newest first, with a link to download each recording. Paging goes back in
// time with `?before=` / `next_before`; the full player comes later.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { pageHeader, loadInto, dataTable, emptyState, badge } from '../ui.js';

const PAGE_SIZE = 50;

const END_REASONS = {
  client_closed: 'Client closed',
  target_closed: 'Target closed',
  target_unreachable: 'Target unreachable',
  host_key_mismatch: 'Host key mismatch',
  host_key_unpinned: 'Host key not pinned',
  target_auth_failed: 'Target login failed',
  recording_failed: 'Recording failed',
  terminated: 'Terminated',
  interrupted: 'Interrupted',
  error: 'Error',
};

export function formatBytes(n) {
  const v = Number(n);
  if (!Number.isFinite(v) || v < 0) return '';
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let x = v / 1024;
  let i = 0;
  while (x >= 1024 && i < units.length - 1) { x /= 1024; i += 1; }
  return `${x < 10 ? x.toFixed(1) : Math.round(x)} ${units[i]}`;
}

export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (hh) return `${hh} h ${String(mm).padStart(2, '0')} min`;
  if (mm) return `${mm} min ${String(ss).padStart(2, '0')} s`;
  return `${ss} s`;
}

function duration(s) {
  if (!s.ended_at) return badge('Active', 'ok');
  const start = Date.parse(s.started_at);
  const end = Date.parse(s.ended_at);
  if (!Number.isFinite(start) || !Number.isFinite(end)) return '';
  return formatDuration((end - start) / 1000);
}

function endReason(s) {
  if (!s.ended_at) return null;
  const label = END_REASONS[s.end_reason] || s.end_reason || '';
  const kind = ['client_closed', 'target_closed'].includes(s.end_reason) ? 'neutral' : 'warn';
  return label ? h('span', { title: s.end_detail || '' }, badge(label, kind)) : null;
}

function recordingLink(s) {
  if (s.has_recording === false) return h('span', { class: 'muted small', text: 'Not recorded' });
  return h('a', {
    href: `/api/v1/sessions/${encodeURIComponent(s.id)}/recording`,
    download: `vigil-session-${s.id}.cast`,
    class: 'recording-link',
    'aria-label': `Download the recording of session ${s.id}`,
    text: 'Download',
  });
}

export function render(root) {
  const body = h('div', { id: 'sessions' });
  const newer = []; // the `before` cursors of the pages we came from
  let cursor = null;
  replace(root, pageHeader('Sessions', 'SSH sessions through Vigil, newest first. Recordings download as asciicast files.'), body);

  const load = () => loadInto(body, async () => {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) query.set('before', cursor);
    return api.get(`/sessions?${query}`);
  }, (page) => {
    const rows = api.itemsOf(page);
    const next = page && page.next_before ? String(page.next_before) : null;
    if (rows.length === 0 && !cursor) {
      return emptyState('No sessions yet',
        'Sessions appear here when someone connects to an account through Vigil — with the ssh command from ' +
        '“My accounts”, an identity login, or the browser terminal.');
    }
    const table = dataTable([
      { label: 'User', render: (s) => h('span', { class: 'mono', text: s.username || '' }) },
      { label: 'Account', class: 'mono', render: (s) => `${s.account_user || '?'}@${s.target_name || '?'}` },
      { label: 'Via', render: (s) => badge(s.via === 'web' ? 'Browser' : (s.via || '').toUpperCase(), 'protocol') },
      { label: 'Client', class: 'mono', render: (s) => s.client_addr },
      { label: 'Started', render: (s) => h('time', { datetime: s.started_at, text: formatTime(s.started_at) }) },
      { label: 'Duration', render: duration },
      { label: 'End reason', render: endReason },
      {
        label: 'Bytes',
        class: 'num',
        render: (s) => h('span', { title: 'from the client / to the client' },
          `↑ ${formatBytes(s.bytes_from_client)} · ↓ ${formatBytes(s.bytes_to_client)}`),
      },
      { label: 'Recording', render: recordingLink },
    ], rows, { caption: 'Sessions', rowKey: (s) => s.id, rowClass: (s) => (s.ended_at ? null : 'row-active') });
    const pager = newer.length === 0 && !next ? null : h('nav', { class: 'pager', 'aria-label': 'Session pages' },
      h('button', {
        type: 'button', class: 'btn', id: 'sessions-newer', text: '← Newer', disabled: newer.length === 0,
        onClick: () => { cursor = newer.pop() || null; load(); },
      }),
      h('button', {
        type: 'button', class: 'btn', id: 'sessions-older', text: 'Older →', disabled: !next,
        onClick: () => { newer.push(cursor); cursor = next; load(); },
      }));
    return [rows.length ? table : emptyState('No older sessions', null), pager];
  }, 'Loading sessions…');
  load();
}
