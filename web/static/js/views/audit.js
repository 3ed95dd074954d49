// Audit log (auditor, superuser): filters, a table of events, "Load more" following next_after.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { pageHeader, dataTable, emptyState, errorState, loadingState, badge, field, input, select } from '../ui.js';

const PAGE_SIZE = 100;
const ACTIONS = ['login', 'logout', 'mfa_enroll', 'mfa_reset', 'password_change', 'user_create', 'user_update',
  'user_delete', 'user_lock', 'user_unlock', 'safe_create', 'safe_update', 'safe_delete', 'member_set', 'member_remove',
  'target_create', 'target_update', 'target_delete', 'account_create', 'account_update', 'account_secret_set',
  'account_delete', 'vault_rekey', 'launch_token_issue', 'session_start', 'session_end', 'session_refused',
  'sessions_interrupted', 'host_key_pinned', 'recording_download', 'ssh_key_add', 'ssh_key_delete'];
const OUTCOME_KIND = { ok: 'ok', failed: 'danger', denied: 'warn' };

function detailsText(details) {
  if (details === null || details === undefined || details === '') return '';
  if (typeof details === 'string') return details;
  if (typeof details === 'object' && Object.keys(details).length === 0) return '';
  try { return JSON.stringify(details); } catch { return String(details); }
}

function objectText(e) {
  if (!e.object_type) return '';
  return e.object_id !== null && e.object_id !== undefined && e.object_id !== '' ? `${e.object_type} #${e.object_id}` : e.object_type;
}

const COLUMNS = [
  { label: 'Time', class: 'nowrap', render: (e) => h('time', { datetime: e.at, title: e.at, text: formatTime(e.at) }) },
  { label: 'Actor', render: (e) => e.actor || (e.actor_id ? `#${e.actor_id}` : '') },
  { label: 'Action', class: 'mono', render: (e) => e.action },
  { label: 'Object', render: (e) => objectText(e) },
  { label: 'Outcome', render: (e) => (e.outcome ? badge(e.outcome, OUTCOME_KIND[e.outcome] || 'neutral') : '') },
  { label: 'Source address', class: 'mono', render: (e) => e.source_addr },
  { label: 'Details', class: 'col-wide details', render: (e) => detailsText(e.details) },
];

export function render(root) {
  const actor = input('actor', { id: 'audit-actor', autocomplete: 'off', spellcheck: 'false', placeholder: 'username' });
  const action = select('action', [{ value: '', label: 'Any action' }, ...ACTIONS.map((a) => ({ value: a, label: a }))], { id: 'audit-action' });
  const filters = h('form', { class: 'toolbar', id: 'audit-filters', role: 'search' },
    field('Actor', actor),
    field('Action', action),
    h('div', { class: 'toolbar-actions' },
      h('button', { type: 'submit', class: 'btn', text: 'Apply filters' })));
  const tableHost = h('div', { id: 'audit-table' });
  const more = h('div', { class: 'load-more', id: 'audit-more' });
  replace(root, pageHeader('Audit log', 'Every sign-in and every change, in order.'), filters, tableHost, more);

  let rows = [];
  let nextAfter = null;
  let query = {};

  filters.addEventListener('submit', (event) => {
    event.preventDefault();
    query = {};
    if (actor.value.trim()) query.actor = actor.value.trim();
    if (action.value) query.action = action.value;
    start();
  });

  async function fetchPage(after) {
    const params = new URLSearchParams({ ...query, limit: String(PAGE_SIZE) });
    if (after !== null && after !== undefined) params.set('after', String(after));
    return api.get(`/audit?${params}`);
  }

  function renderTable() {
    if (rows.length === 0) {
      replace(tableHost, emptyState('No audit events', Object.keys(query).length ? 'Nothing matches these filters.' : 'Nothing has been audited yet.'));
    } else {
      replace(tableHost, dataTable(COLUMNS, rows, { caption: 'Audit events', rowKey: (e) => e.id }));
    }
  }

  function renderMore() {
    if (nextAfter === null || nextAfter === undefined) {
      replace(more, rows.length ? h('p', { class: 'muted small', text: `${rows.length} event${rows.length === 1 ? '' : 's'} — end of the log.` }) : null);
      return;
    }
    const button = h('button', { type: 'button', class: 'btn', id: 'audit-load-more', text: 'Load more' });
    button.addEventListener('click', async () => {
      button.disabled = true;
      button.textContent = 'Loading…';
      try {
        const body = await fetchPage(nextAfter);
        rows = rows.concat(api.itemsOf(body));
        nextAfter = body ? body.next_after : null;
        renderTable();
        renderMore();
        const again = document.getElementById('audit-load-more');
        if (again) again.focus();
      } catch (error) {
        if (error.status === 401) return;
        replace(more, errorState(error, renderMore));
      }
    });
    replace(more, h('p', { class: 'muted small', text: `${rows.length} events shown.` }), button);
  }

  async function start() {
    replace(tableHost, loadingState('Loading audit events…'));
    replace(more);
    try {
      const body = await fetchPage(null);
      rows = api.itemsOf(body);
      nextAfter = body ? body.next_after : null;
      renderTable();
      renderMore();
    } catch (error) {
      if (error.status === 401) return;
      replace(tableHost, errorState(error, start));
    }
  }
  start();
}
