// Pieces shared by the Recordings list, the review queue and the player: labels for review
// states and event kinds, time formatting, risk badges and highlighted snippets (built as DOM
// from character ranges — server text is never parsed as HTML).
import { h } from './dom.js';
import { badge } from './ui.js';

export const REVIEW_STATUSES = [
  { value: 'unreviewed', label: 'Unreviewed', kind: 'neutral' },
  { value: 'reviewed_ok', label: 'Reviewed-OK', kind: 'ok' },
  { value: 'reviewed_suspicious', label: 'Suspicious', kind: 'warn' },
  { value: 'requires_investigation', label: 'Requires investigation', kind: 'danger' },
];

export const EVENT_KINDS = [
  { value: 'command', label: 'Commands' },
  { value: 'output', label: 'Output' },
  { value: 'keystrokes', label: 'Keystrokes' },
  { value: 'window_title', label: 'Window titles' },
  { value: 'clipboard', label: 'Clipboard' },
  { value: 'file', label: 'File transfers' },
  { value: 'sql', label: 'SQL' },
  { value: 'risk', label: 'Risk' },
  { value: 'note', label: 'Notes' },
  { value: 'lifecycle', label: 'Lifecycle' },
];

export const KIND_LABELS = Object.fromEntries(EVENT_KINDS.map((k) => [k.value, k.label.replace(/s$/, '')]));

export function reviewBadge(status) {
  const s = REVIEW_STATUSES.find((r) => r.value === (status || 'unreviewed'));
  return badge(s ? s.label : String(status), s ? s.kind : 'neutral');
}

export function riskBadge(score) {
  const n = Number(score) || 0;
  const kind = n >= 70 ? 'danger' : n >= 40 ? 'warn' : n > 0 ? 'info' : 'neutral';
  return h('span', { class: `badge badge-${kind} risk-badge`, title: 'Risk score', text: String(n) });
}

/** 83456 ms → "1:23" (or "1:01:23"). */
export function formatOffset(ms) {
  const total = Math.max(0, Math.floor((Number(ms) || 0) / 1000));
  const hh = Math.floor(total / 3600);
  const mm = Math.floor((total % 3600) / 60);
  const ss = String(total % 60).padStart(2, '0');
  return hh ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

/** Milliseconds → "2 h 05 min" / "3 min 07 s" / "12 s". */
export function formatDurationMs(ms) {
  const s = Math.max(0, Math.round((Number(ms) || 0) / 1000));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = s % 60;
  if (hh) return `${hh} h ${String(mm).padStart(2, '0')} min`;
  if (mm) return `${mm} min ${String(ss).padStart(2, '0')} s`;
  return `${ss} s`;
}

export function sessionDurationMs(s) {
  if (Number.isFinite(Number(s.duration_ms)) && s.duration_ms !== null) return Number(s.duration_ms);
  const start = Date.parse(s.started_at);
  const end = s.ended_at ? Date.parse(s.ended_at) : Date.now();
  return Number.isFinite(start) && Number.isFinite(end) ? Math.max(0, end - start) : 0;
}

/**
 * A snippet with <mark> around each [start, end) range (code points). Ranges out of order,
 * overlapping or out of bounds are clipped, so bad input never breaks the page.
 */
export function highlighted(snippet, highlights) {
  const chars = Array.from(String(snippet || ''));
  const ranges = (Array.isArray(highlights) ? highlights : [])
    .filter((r) => Array.isArray(r) && r.length === 2)
    .map(([a, b]) => [Math.max(0, Number(a) | 0), Math.min(chars.length, Number(b) | 0)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  const out = [];
  let pos = 0;
  for (const [a, b] of ranges) {
    if (a < pos) continue;
    if (a > pos) out.push(chars.slice(pos, a).join(''));
    out.push(h('mark', { text: chars.slice(a, b).join('') }));
    pos = b;
  }
  if (pos < chars.length) out.push(chars.slice(pos).join(''));
  return h('span', { class: 'snippet' }, out);
}

/** Marks every case-insensitive occurrence of `needle` in `text` (for in-session search). */
export function highlightText(text, needle) {
  const s = String(text || '');
  if (!needle) return s;
  const lower = s.toLowerCase();
  const n = needle.toLowerCase();
  const out = [];
  let pos = 0;
  for (let i = lower.indexOf(n); i >= 0; i = lower.indexOf(n, pos)) {
    if (i > pos) out.push(s.slice(pos, i));
    out.push(h('mark', { text: s.slice(i, i + n.length) }));
    pos = i + n.length;
  }
  if (pos < s.length) out.push(s.slice(pos));
  return out;
}

/** 12500 ms → "12.5" (the `t` parameter of player links, in seconds). */
export function secondsParam(ms) {
  return (Math.max(0, Number(ms) || 0) / 1000).toFixed(3).replace(/\.?0+$/, '') || '0';
}

/** The player's hash route for a session at a moment. */
export function playerHref(id, offsetMs) {
  const base = `#/sessions/${encodeURIComponent(id)}`;
  return offsetMs === undefined || offsetMs === null ? base : `${base}?t=${secondsParam(offsetMs)}`;
}

/** Whether a failure is the server saying "not allowed" (shown as a permission state). */
export const isForbidden = (error) => Boolean(error && error.status === 403);
