// Review queue: ended sessions nobody has reviewed yet that the caller may review, highest risk
// first, then oldest (GET /review-queue, keyset "Load more"). The server decides who may review;
// a 403 shows a plain "you don't have permission" state.
import * as api from '../api.js';
import { h, replace, append, formatTime } from '../dom.js';
import { pageHeader, loadingState, emptyState, errorState, badge } from '../ui.js';
import { riskBadge, formatDurationMs, sessionDurationMs, playerHref, isForbidden } from '../recordings-common.js';
import { sessionRow, sessionTable } from './sessions.js';

const PAGE_SIZE = 50;

const COLUMNS = [
  { label: 'Risk', class: 'num', render: (s) => riskBadge(s.risk_score) },
  {
    label: 'Session',
    render: (s) => h('div', { class: 'cell-stack' },
      h('a', { href: playerHref(s.id), class: 'cell-main strong-link', text: `${s.account_user || '?'}@${s.target_name || '?'}` }),
      h('span', { class: 'cell-sub' }, h('span', { class: 'mono', text: s.username || '' }), s.safe_name ? ` · ${s.safe_name}` : '')),
  },
  { label: 'Protocol', render: (s) => badge((s.protocol || '').toUpperCase(), 'protocol') },
  { label: 'Started', render: (s) => h('time', { datetime: s.started_at, text: formatTime(s.started_at) }) },
  { label: 'Duration', class: 'num', render: (s) => formatDurationMs(sessionDurationMs(s)) },
  { label: 'Commands', class: 'num', render: (s) => String(s.command_count ?? '') },
  { label: '', class: 'col-actions', render: (s) => h('a', { href: playerHref(s.id), class: 'btn btn-small btn-primary', text: 'Review' }) },
];

export function render(root) {
  const body = h('div', { id: 'review-queue' });
  replace(root, pageHeader('Review queue', 'Ended sessions not reviewed yet, highest risk first.'), body);
  let cursor = null;
  let total = 0;
  let tbody = null;
  const count = h('p', { class: 'muted small', id: 'review-queue-count' });
  const moreBtn = h('button', { type: 'button', class: 'btn', id: 'review-queue-more', text: 'Load more' });
  const more = h('div', { class: 'load-more' }, count, moreBtn);

  const fetchPage = () => {
    const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (cursor) q.set('cursor', cursor);
    return api.get(`/review-queue?${q}`);
  };
  const show = (page, first) => {
    const items = api.itemsOf(page);
    if (first) {
      if (!items.length) {
        replace(body, emptyState('Nothing to review', 'Every ended session you may review has been reviewed.'));
        return;
      }
      const table = sessionTable('Sessions to review', COLUMNS);
      tbody = table.tbody;
      replace(body, table.wrap, more);
    }
    append(tbody, items.map((s) => sessionRow(s, COLUMNS)));
    total += items.length;
    cursor = page ? page.next_cursor ?? null : null;
    count.textContent = `${total} session${total === 1 ? '' : 's'} shown${cursor ? '' : ' — that is all'}`;
    moreBtn.hidden = !cursor;
    moreBtn.disabled = false;
  };
  const failure = (error, retry) => {
    if (error && error.status === 401) return null;
    if (isForbidden(error)) {
      return h('div', { id: 'review-queue-forbidden' }, emptyState('You don’t have permission to review sessions',
        `${error.message}. Reviews are for superusers and for auditors with a membership in the session’s safe.`));
    }
    return errorState(error, retry);
  };
  const loadFirst = async () => {
    replace(body, loadingState('Loading the review queue…'));
    cursor = null;
    total = 0;
    try {
      show(await fetchPage(), true);
    } catch (error) {
      const node = failure(error, loadFirst);
      if (node) replace(body, node);
    }
  };
  moreBtn.addEventListener('click', async () => {
    moreBtn.disabled = true;
    try {
      show(await fetchPage(), false);
    } catch (error) {
      moreBtn.disabled = false;
      const node = failure(error, null);
      if (node) more.before(node);
    }
  });
  loadFirst();
}
