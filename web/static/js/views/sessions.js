// Recordings: every session the caller may see, filtered (date range, user, target, account,
// safe, protocol, risk, duration, review status), sorted and paged with the server's keyset
// cursor ("Load more"). A text search (`/search`) shows each matching session with its hits:
// highlighted snippets and time offsets that open the player at that moment. The filters live
// in the URL hash (#/sessions?user=alice&sort=risk_desc), so a reload or a shared link keeps them.
import * as api from '../api.js';
import { h, replace, append, formatTime } from '../dom.js';
import { pageHeader, loadingState, emptyState, errorState, badge, field, select, input } from '../ui.js';
import {
  REVIEW_STATUSES, KIND_LABELS, reviewBadge, riskBadge, formatOffset, formatDurationMs, sessionDurationMs,
  highlighted, playerHref, isForbidden,
} from '../recordings-common.js';

const PAGE_SIZE = 50;

// The filters the page understands, as API parameter names (the hash uses the same names).
const FILTER_KEYS = ['text', 'from', 'to', 'user', 'target_id', 'account_id', 'safe_id', 'protocol',
  'min_risk', 'max_risk', 'min_duration', 'max_duration', 'review_status', 'status', 'sort'];
// Kept from the hash but not in the form: the page size (links and tests may set it).
const EXTRA_KEYS = ['limit'];

const SORTS = [
  { value: 'started_desc', label: 'Newest first' },
  { value: 'started_asc', label: 'Oldest first' },
  { value: 'risk_desc', label: 'Highest risk first' },
  { value: 'duration_desc', label: 'Longest first' },
];

const PROTOCOLS = [
  { value: '', label: 'Any protocol' },
  { value: 'ssh', label: 'SSH' },
  { value: 'rdp', label: 'RDP' },
  { value: 'postgres', label: 'PostgreSQL' },
  { value: 'tds', label: 'SQL Server (TDS)' },
];

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
  return formatDurationMs(seconds * 1000);
}

/** The filters from the hash query, only known keys with a value. */
function filtersFrom(query) {
  const f = {};
  for (const key of [...FILTER_KEYS, ...EXTRA_KEYS]) {
    const v = query ? query.get(key) : null;
    if (v !== null && v.trim() !== '') f[key] = v.trim();
  }
  return f;
}

/** The API query for the filters (minus `text`, which picks the endpoint). */
function apiQuery(filters, cursor) {
  const q = new URLSearchParams();
  q.set('limit', String(PAGE_SIZE));
  for (const [k, v] of Object.entries(filters)) if (k !== 'text') q.set(k, v);
  if (cursor) q.set('cursor', cursor);
  return q;
}

// ---- the filter form --------------------------------------------------------------------------

/** Options for an id filter from a list endpoint; null when the caller may not list them. */
async function optionsOf(path, label) {
  try {
    const rows = await api.listAll(path);
    return rows.map((r) => ({ value: String(r.id), label: label(r) }));
  } catch {
    return null;
  }
}

function idFilter(name, label, anyLabel, options, value) {
  const control = options
    ? select(name, [{ value: '', label: anyLabel }, ...options], { value: value || '' })
    : input(name, { type: 'number', min: '1', inputmode: 'numeric', value: value || '', placeholder: 'id' });
  control.id = `filter-${name.replace('_', '-')}`;
  return field(label, control);
}

function filterForm(filters, lists, onApply) {
  const v = (k) => filters[k] || '';
  const num = (name, label, attrs = {}) => field(label,
    input(name, { id: `filter-${name.replace(/_/g, '-')}`, type: 'number', inputmode: 'numeric', value: v(name), ...attrs }));
  const minutes = (name, label) => field(label, input(name, {
    id: `filter-${name.replace(/_/g, '-')}`, type: 'number', min: '0', step: 'any', inputmode: 'decimal',
    value: filters[name] ? String(Number(filters[name]) / 60) : '',
  }));
  const form = h('form', { class: 'panel filter-panel', id: 'recordings-filters', role: 'search', 'aria-label': 'Find recordings' },
    h('div', { class: 'search-row' },
      field('Search text typed, shown or executed', input('text', {
        id: 'filter-text', type: 'search', value: v('text'), maxlength: '200', autocomplete: 'off',
        placeholder: 'rm -rf /tmp, iptables -F, a file name, an SQL table…',
      })),
      h('div', { class: 'search-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', id: 'recordings-apply', text: 'Search' }),
        h('button', { type: 'button', class: 'btn btn-ghost', id: 'recordings-reset', text: 'Clear filters', onClick: () => onApply({}) }))),
    h('div', { class: 'filter-grid' },
      field('From', input('from', { id: 'filter-from', type: 'date', value: v('from') })),
      field('To (inclusive)', input('to', { id: 'filter-to', type: 'date', value: v('to') })),
      field('User', input('user', { id: 'filter-user', value: v('user'), autocomplete: 'off', placeholder: 'username' })),
      idFilter('target_id', 'Target', 'Any target', lists.targets, v('target_id')),
      idFilter('account_id', 'Account', 'Any account', lists.accounts, v('account_id')),
      idFilter('safe_id', 'Safe', 'Any safe', lists.safes, v('safe_id')),
      field('Protocol', select('protocol', PROTOCOLS, { id: 'filter-protocol', value: v('protocol') })),
      num('min_risk', 'Risk at least', { min: '0', max: '100' }),
      num('max_risk', 'Risk at most', { min: '0', max: '100' }),
      minutes('min_duration', 'Duration at least (min)'),
      minutes('max_duration', 'Duration at most (min)'),
      field('Review status', select('review_status', [{ value: '', label: 'Any' }, ...REVIEW_STATUSES],
        { id: 'filter-review-status', value: v('review_status') })),
      field('State', select('status', [{ value: '', label: 'Active and ended' }, { value: 'active', label: 'Active' }, { value: 'ended', label: 'Ended' }],
        { id: 'filter-status', value: v('status') })),
      field('Sort', select('sort', SORTS, { id: 'filter-sort', value: v('sort') || 'started_desc' }))));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const next = {};
    for (const key of FILTER_KEYS) {
      let value = String(data.get(key) || '').trim();
      if (!value) continue;
      if ((key === 'min_duration' || key === 'max_duration') && Number.isFinite(Number(value))) {
        value = String(Math.round(Number(value) * 60));
      }
      if (key === 'sort' && value === 'started_desc') continue;
      next[key] = value;
    }
    onApply(next);
  });
  return form;
}

// ---- results ----------------------------------------------------------------------------------

function endReason(s) {
  if (s.active || !s.ended_at) return badge('Active', 'ok');
  const label = END_REASONS[s.end_reason] || s.end_reason || '';
  const kind = ['client_closed', 'target_closed'].includes(s.end_reason) ? 'neutral' : 'warn';
  return label ? h('span', { title: s.end_detail || '' }, badge(label, kind)) : null;
}

function sessionTitle(s) {
  return h('div', { class: 'cell-stack' },
    h('a', { href: playerHref(s.id), class: 'cell-main strong-link session-open', text: `${s.account_user || '?'}@${s.target_name || '?'}` }),
    h('span', { class: 'cell-sub' }, h('span', { class: 'mono', text: s.username || '' }),
      s.safe_name ? ` · ${s.safe_name}` : '',
      s.access_request_id ? h('span', { class: 'approval-ref', text: ` · approved by request #${s.access_request_id}` }) : null));
}

function recordingActions(s) {
  if (s.purged_at) return h('span', { class: 'muted small', text: 'Deleted by retention' });
  if (s.has_recording === false) return h('span', { class: 'muted small', text: 'Not recorded' });
  return h('span', { class: 'row-actions' },
    h('a', { href: playerHref(s.id), class: 'btn btn-small', 'aria-label': `Play session ${s.id}`, text: 'Play' }),
    h('a', {
      href: `/api/v1/sessions/${encodeURIComponent(s.id)}/recording`, download: `vigil-session-${s.id}.cast`,
      class: 'btn btn-small btn-ghost recording-link', 'aria-label': `Download the recording of session ${s.id}`, text: 'Download',
    }));
}

const COLUMNS = [
  { label: 'Session', render: sessionTitle },
  { label: 'Protocol', render: (s) => badge(s.via === 'web' ? `Browser · ${(s.protocol || 'ssh').toUpperCase()}` : (s.protocol || s.via || '').toUpperCase(), 'protocol') },
  { label: 'Started', render: (s) => h('time', { datetime: s.started_at, text: formatTime(s.started_at) }) },
  { label: 'Duration', class: 'num', render: (s) => h('span', {}, formatDurationMs(sessionDurationMs(s)), ' ', s.active ? badge('Active', 'ok') : null) },
  { label: 'Risk', class: 'num', render: (s) => riskBadge(s.risk_score) },
  { label: 'Commands', class: 'num', render: (s) => String(s.command_count ?? '') },
  { label: 'Review', render: (s) => reviewBadge(s.review_status) },
  { label: 'End', render: endReason },
  { label: 'Recording', class: 'col-actions', render: recordingActions },
];

export function sessionRow(s, columns = COLUMNS) {
  return h('tr', { class: s.active ? 'row-active' : null, dataset: { key: String(s.id) } },
    columns.map((c) => {
      const v = c.render(s);
      return h('td', { class: c.class, 'data-label': c.label },
        v === null || v === undefined || v === '' ? h('span', { class: 'muted', text: '—' }) : v);
    }));
}

export function sessionTable(caption, columns = COLUMNS) {
  const tbody = h('tbody', {});
  const wrap = h('div', { class: 'table-wrap' },
    h('table', { class: 'data-table' },
      h('caption', { class: 'visually-hidden', text: caption }),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class, text: c.label })))),
      tbody));
  return { wrap, tbody };
}

function hitItem(s, hit) {
  return h('li', { class: 'hit', dataset: { eventId: String(hit.event_id ?? ''), kind: hit.kind || '' } },
    h('a', {
      href: playerHref(s.id, hit.offset_ms), class: 'hit-time mono',
      'aria-label': `Open the player at ${formatOffset(hit.offset_ms)}`, text: formatOffset(hit.offset_ms),
    }),
    badge(KIND_LABELS[hit.kind] || hit.kind || 'event', 'neutral'),
    h('code', { class: 'hit-snippet' }, highlighted(hit.snippet, hit.highlights)),
    hit.at ? h('time', { class: 'muted small', datetime: hit.at, text: formatTime(hit.at) }) : null);
}

function searchResult(item) {
  const s = item.session || {};
  const hits = Array.isArray(item.hits) ? item.hits : [];
  return h('article', { class: 'panel search-result', dataset: { key: String(s.id) } },
    h('header', { class: 'search-result-head' },
      sessionTitle(s),
      h('span', { class: 'badge-list' },
        badge((s.protocol || '').toUpperCase(), 'protocol'), riskBadge(s.risk_score), reviewBadge(s.review_status),
        s.active ? badge('Active', 'ok') : null),
      h('span', { class: 'muted small' }, h('time', { datetime: s.started_at, text: formatTime(s.started_at) }),
        ` · ${formatDurationMs(sessionDurationMs(s))}`),
      h('a', { href: playerHref(s.id, hits[0] ? hits[0].offset_ms : undefined), class: 'btn btn-small', text: 'Play' })),
    hits.length ? h('ol', { class: 'hit-list' }, hits.map((hit) => hitItem(s, hit))) : null);
}

// ---- the page ---------------------------------------------------------------------------------

export function render(root, { query, navigate }) {
  const filters = filtersFrom(query);
  const results = h('div', { id: 'sessions', 'aria-live': 'polite' });
  const formHolder = h('div', {}, loadingState('Loading filters…'));
  replace(root,
    pageHeader('Recordings', 'Find any privileged session: filter, sort, or search what was typed, shown or executed.'),
    formHolder, results);

  const apply = (next) => {
    const q = new URLSearchParams(next).toString();
    navigate(q ? `sessions?${q}` : 'sessions');
  };

  Promise.all([
    optionsOf('/targets', (t) => t.name),
    optionsOf('/accounts', (a) => `${a.username}@${a.target_name}`),
    optionsOf('/safes', (s) => s.name),
  ]).then(([targets, accounts, safes]) => {
    replace(formHolder, filterForm(filters, { targets, accounts, safes }, apply));
  });

  const searching = Boolean(filters.text);
  let cursor = null;
  let total = 0;
  let list = null; // tbody or result container
  const more = h('div', { class: 'load-more', hidden: true },
    h('p', { class: 'muted small', id: 'recordings-count' }),
    h('button', { type: 'button', class: 'btn', id: 'recordings-more', text: 'Load more' }));

  const fetchPage = () => {
    const q = apiQuery(filters, cursor);
    if (searching) {
      q.set('text', filters.text);
      return api.get(`/search?${q}`);
    }
    return api.get(`/sessions?${q}`);
  };

  const showPage = (page, first) => {
    const items = api.itemsOf(page);
    const next = page ? (page.next_cursor ?? null) : null;
    if (first) {
      if (items.length === 0) {
        const filtered = Object.keys(filters).some((k) => k !== 'sort' && k !== 'limit');
        replace(results, filtered
          ? emptyState(searching ? 'No session matches' : 'No sessions match these filters',
            searching ? `Nothing typed, shown or executed contains “${filters.text}” in the sessions you may see.`
              : 'Change or clear the filters to see more.',
            h('button', { type: 'button', class: 'btn', text: 'Clear filters', onClick: () => apply({}) }))
          : emptyState('No sessions yet', 'Sessions appear here when someone connects to an account through Vigil — with the ssh command from ' +
            '“My accounts”, an identity login, or the browser terminal.'));
        return;
      }
      if (searching) {
        list = h('div', { class: 'search-results', id: 'search-results' });
        replace(results, list, more);
      } else {
        const table = sessionTable('Recordings');
        list = table.tbody;
        replace(results, table.wrap, more);
      }
    }
    if (searching) append(list, items.map(searchResult));
    else append(list, items.map((s) => sessionRow(s)));
    total += items.length;
    cursor = next;
    more.hidden = false;
    more.querySelector('#recordings-count').textContent =
      `${total} ${searching ? 'matching session' : 'session'}${total === 1 ? '' : 's'} shown${next ? '' : ' — that is all'}`;
    const button = more.querySelector('#recordings-more');
    button.hidden = !next;
    button.disabled = false;
    button.textContent = 'Load more';
  };

  const failure = (error, retry) => {
    if (error && error.status === 401) return null;
    if (isForbidden(error)) {
      return emptyState('You don’t have permission', error.message || 'Your roles do not allow you to see these recordings.');
    }
    return errorState(error, retry);
  };

  const loadFirst = async () => {
    replace(results, loadingState(searching ? 'Searching recordings…' : 'Loading sessions…'));
    cursor = null;
    total = 0;
    try {
      showPage(await fetchPage(), true);
    } catch (error) {
      const node = failure(error, loadFirst);
      if (node) replace(results, node);
    }
  };

  more.querySelector('#recordings-more').addEventListener('click', async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    button.textContent = 'Loading…';
    try {
      showPage(await fetchPage(), false);
    } catch (error) {
      button.disabled = false;
      button.textContent = 'Load more';
      const node = failure(error, null);
      if (node) more.before(node);
    }
  });

  loadFirst();
}
