// The transcript beside the player: the session's events (commands, output, keystrokes, window
// titles, file transfers, SQL, risk, notes) with their wall-clock times, a filter by kind, the
// row being played marked as it goes, click to seek, and an in-session search that jumps
// between hits (previous / next) and seeks to each.
import * as api from '../api.js';
import { h, replace, append } from '../dom.js';
import { badge, loadingState, errorState } from '../ui.js';
import { EVENT_KINDS, KIND_LABELS, formatOffset, highlightText } from '../recordings-common.js';

const PAGE = 500;
const MAX_PAGES = 40; // 20,000 events; longer sessions are searched on the server

function clock(at) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '';
  const two = (n) => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** Every event of the session (oldest first), following `next_after`; `after` to continue. */
export async function loadEvents(sessionId, { after = null, q = null } = {}) {
  const items = [];
  let cursor = after;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (cursor !== null && cursor !== undefined) query.set('after', String(cursor));
    if (q) query.set('q', q);
    const body = await api.get(`/sessions/${encodeURIComponent(sessionId)}/events?${query}`);
    items.push(...api.itemsOf(body));
    cursor = body && body.next_after;
    if (cursor === null || cursor === undefined) break;
  }
  return items;
}

/** A SQL statement's outcome: duration, rows, tag, or its error / refusal. */
function sqlOutcome(details) {
  const d = details || {};
  const parts = [];
  if (Number.isFinite(d.duration_ms)) parts.push(`${d.duration_ms} ms`);
  if (Number.isFinite(d.rows) && d.rows >= 0) parts.push(`${d.rows} row${d.rows === 1 ? '' : 's'}`);
  if (d.command_tag) parts.push(d.command_tag);
  if (Array.isArray(d.parameters) && d.parameters.length) parts.push(`parameters ${JSON.stringify(d.parameters)}`);
  const failed = d.blocked || d.error;
  if (d.blocked) parts.push(`blocked: ${d.error || ''}`);
  else if (d.error) parts.push(`error: ${d.error}`);
  return h('span', { class: `transcript-sql small ${failed ? 'sql-failed' : 'muted'}`, text: parts.join(' · ') });
}

/** A clipboard transfer (one row per copy and direction): which way, how much, whether the safe kept the text. */
function clipboardOutcome(details) {
  const d = details || {};
  const parts = [d.direction === 'to_target' ? 'from the person’s computer to the server' : 'from the server to the person’s computer'];
  if (Number.isFinite(d.chars)) parts.push(`${d.chars} character${d.chars === 1 ? '' : 's'}`);
  if (d.truncated) parts.push('text shortened');
  if (d.logged === false) parts.push('text not logged (safe policy)');
  return h('span', { class: 'transcript-clipboard small muted', text: parts.join(' · ') });
}

export function createTranscript({ sessionId, onSeek }) {
  let events = [];
  const hidden = new Set(['output']); // output lines are many: off until asked for
  let hits = [];
  let hitIdx = -1;
  let needle = '';
  let currentRow = null;
  const rows = new Map(); // event id → row
  let ordered = []; // the visible rows, by offset (for the "now playing" mark)

  const list = h('ol', { class: 'transcript-list', id: 'transcript-list', 'aria-label': 'Transcript' });
  const body = h('div', { class: 'transcript-body' }, loadingState('Loading the transcript…'));
  const kinds = h('fieldset', { class: 'kind-filter', id: 'transcript-kinds' }, h('legend', { class: 'visually-hidden', text: 'Show kinds' }));
  const searchInput = h('input', {
    type: 'search', id: 'transcript-search', placeholder: 'Find in this session', autocomplete: 'off', maxlength: '200',
    'aria-label': 'Find text in this session',
  });
  const counter = h('span', { class: 'muted small search-counter', id: 'transcript-search-count', role: 'status', 'aria-live': 'polite' });
  const prev = h('button', { type: 'button', class: 'btn btn-small', id: 'transcript-search-prev', text: '↑ Prev', disabled: true, 'aria-label': 'Previous hit' });
  const next = h('button', { type: 'button', class: 'btn btn-small', id: 'transcript-search-next', text: '↓ Next', disabled: true, 'aria-label': 'Next hit' });
  const searchForm = h('form', { class: 'transcript-search', role: 'search' },
    searchInput, h('button', { type: 'submit', class: 'btn btn-small', text: 'Find' }), prev, next, counter);

  const el = h('section', { class: 'panel transcript', 'aria-labelledby': 'transcript-title' },
    h('h2', { id: 'transcript-title', text: 'Transcript' }),
    searchForm, kinds, body);

  function rowFor(e) {
    const kindLabel = KIND_LABELS[e.kind] || e.kind;
    const row = h('li', {
      class: `transcript-row kind-${e.kind}`, dataset: { id: String(e.id), offset: String(e.offset_ms), kind: e.kind },
    }, h('button', {
      type: 'button', class: 'transcript-seek', onClick: () => onSeek(Number(e.offset_ms), e, { play: true }),
      'aria-label': `${kindLabel} at ${formatOffset(e.offset_ms)}: seek the player there`,
    },
    h('time', { class: 'transcript-clock mono', datetime: e.at, title: e.at, text: clock(e.at) }),
    h('span', { class: 'transcript-offset mono muted', text: formatOffset(e.offset_ms) }),
    badge(kindLabel, e.kind === 'risk' ? 'danger' : 'neutral'),
    h('span', { class: 'transcript-text mono' }, highlightText(e.text, needle)),
    e.kind === 'sql' ? sqlOutcome(e.details) : null,
    e.kind === 'clipboard' ? clipboardOutcome(e.details) : null));
    return row;
  }

  function renderKinds() {
    const present = new Set(events.map((e) => e.kind));
    const options = EVENT_KINDS.filter((k) => present.has(k.value));
    for (const k of present) if (!options.some((o) => o.value === k)) options.push({ value: k, label: k });
    replace(kinds, h('legend', { class: 'visually-hidden', text: 'Show kinds' }), options.map((o) => {
      const count = events.filter((e) => e.kind === o.value).length;
      return h('label', { class: 'chip' },
        h('input', {
          type: 'checkbox', value: o.value, checked: !hidden.has(o.value), dataset: { kind: o.value },
          onChange: (ev) => { if (ev.target.checked) hidden.delete(o.value); else hidden.add(o.value); renderList(); },
        }),
        h('span', { text: `${o.label} (${count})` }));
    }));
  }

  function renderList() {
    rows.clear();
    currentRow = null;
    const visible = events.filter((e) => !hidden.has(e.kind));
    ordered = visible.map((e) => { const r = rowFor(e); rows.set(String(e.id), r); return r; });
    replace(list, ordered);
    if (events.length === 0) replace(body, h('p', { class: 'muted transcript-empty', text: 'No events were recorded for this session.' }));
    else if (visible.length === 0) replace(body, h('p', { class: 'muted transcript-empty', text: 'No events of the selected kinds.' }));
    else replace(body, list);
    markHits();
  }

  function markHits() {
    for (const r of rows.values()) r.classList.remove('is-hit', 'is-current-hit');
    hits.forEach((hit, i) => {
      const r = rows.get(String(hit.id));
      if (r) r.classList.add(i === hitIdx ? 'is-current-hit' : 'is-hit');
    });
  }

  function showHit(i) {
    if (!hits.length) return;
    hitIdx = (i + hits.length) % hits.length;
    const hit = hits[hitIdx];
    counter.textContent = `${hitIdx + 1} of ${hits.length} · ${KIND_LABELS[hit.kind] || hit.kind} at ${formatOffset(hit.offset_ms)}`;
    // A hit of a hidden kind (e.g. output) is shown by turning its kind on.
    if (hidden.has(hit.kind)) { hidden.delete(hit.kind); renderKinds(); renderList(); }
    markHits();
    const r = rows.get(String(hit.id));
    if (r) r.scrollIntoView({ block: 'nearest' });
    onSeek(Number(hit.offset_ms), hit);
  }

  async function search(text) {
    needle = text.trim();
    hits = [];
    hitIdx = -1;
    prev.disabled = true;
    next.disabled = true;
    if (!needle) { counter.textContent = ''; renderList(); return; }
    counter.textContent = 'Searching…';
    let found;
    try {
      found = await loadEvents(sessionId, { q: needle });
    } catch (error) {
      counter.textContent = `Search failed: ${error.message}`;
      return;
    }
    const n = needle.toLowerCase();
    // The server matches words and substrings; keep the rows whose text shows the needle first.
    hits = found.filter((e) => String(e.text || '').toLowerCase().includes(n));
    if (hits.length === 0) hits = found;
    hits.sort((a, b) => a.offset_ms - b.offset_ms || a.id - b.id);
    // Hits not in the loaded transcript (e.g. beyond its first pages) are added to it.
    const known = new Set(events.map((e) => String(e.id)));
    const extra = hits.filter((e) => !known.has(String(e.id)));
    if (extra.length) { events = [...events, ...extra].sort((a, b) => a.offset_ms - b.offset_ms || a.id - b.id); renderKinds(); }
    renderList();
    if (!hits.length) { counter.textContent = `No hits for “${needle}”`; return; }
    prev.disabled = false;
    next.disabled = false;
    showHit(0);
  }

  searchForm.addEventListener('submit', (event) => { event.preventDefault(); search(searchInput.value); });
  prev.addEventListener('click', () => showHit(hitIdx - 1));
  next.addEventListener('click', () => showHit(hitIdx + 1));

  return {
    el,
    async load() {
      try {
        events = await loadEvents(sessionId);
      } catch (error) {
        replace(body, errorState(error, () => this.load()));
        return;
      }
      renderKinds();
      renderList();
    },
    /** New events of a live session. */
    async loadMore() {
      const last = events.length ? events[events.length - 1].id : null;
      const more = await loadEvents(sessionId, { after: last });
      if (!more.length) return;
      const hadEvents = events.length > 0;
      events.push(...more);
      renderKinds();
      if (!hadEvents) { renderList(); return; }
      const add = more.filter((e) => !hidden.has(e.kind)).map((e) => { const r = rowFor(e); rows.set(String(e.id), r); return r; });
      if (!list.isConnected) renderList(); else { append(list, add); ordered.push(...add); }
    },
    events: () => events,
    /** Marks the last visible row at or before `ms` as the one being played. */
    setTime(ms) {
      let lo = 0;
      let hi = ordered.length; // first row after `ms`
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (Number(ordered[mid].dataset.offset) <= ms) lo = mid + 1; else hi = mid;
      }
      const best = lo > 0 ? ordered[lo - 1] : null;
      if (best === currentRow) return;
      if (currentRow) { currentRow.classList.remove('is-current'); currentRow.removeAttribute('aria-current'); }
      currentRow = best;
      if (best) { best.classList.add('is-current'); best.setAttribute('aria-current', 'true'); }
    },
  };
}
