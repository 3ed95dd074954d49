// "Access requests" (dual authorization, issue 8): requests waiting for my approval, with
// Approve / Reject and a comment, and my own requests with their status and decisions.
import * as api from '../api.js';
import { refreshApprovalCount } from '../approval-count.js';
import { h, replace, formatTime } from '../dom.js';
import { pageHeader, loadInto, dataTable, emptyState, badge, formDialog, field, notify, confirmAction } from '../ui.js';

const STATUS_KIND = { pending: 'warn', approved: 'ok', rejected: 'danger', expired: 'neutral', cancelled: 'neutral' };

function statusBadge(r) {
  const text = r.status === 'pending' ? `pending ${r.approvals}/${r.approvals_needed}` : r.status;
  return badge(text, STATUS_KIND[r.status] || 'neutral');
}

function windowCell(r) {
  return h('span', { class: 'cell-stack' },
    h('time', { datetime: r.window_from, text: formatTime(r.window_from) }),
    h('span', { class: 'cell-sub' }, 'until ', h('time', { datetime: r.window_to, text: formatTime(r.window_to) })));
}

function decisionsCell(r) {
  if (!r.decisions.length) return h('span', { class: 'muted', text: '—' });
  return h('ul', { class: 'plain-list' }, r.decisions.map((d) =>
    h('li', {}, h('strong', { text: d.approver }), ` ${d.decision === 'approve' ? 'approved' : 'rejected'}`,
      d.comment ? h('span', { class: 'muted', text: ` — “${d.comment}”` }) : null)));
}

function reasonCell(r) {
  return h('span', { class: 'cell-stack' }, h('span', { text: r.reason }),
    r.ticket_id ? h('span', { class: 'cell-sub mono', text: r.ticket_id }) : null);
}

/** Approve or reject with an optional comment, in a dialog (Enter submits, Escape cancels). */
async function decide(r, decision, reload) {
  const done = await formDialog({
    title: `${decision === 'approve' ? 'Approve' : 'Reject'} request #${r.id}`,
    description: `${r.requester} asks for ${r.account_user}@${r.target_name} (safe ${r.safe_name}): ${r.reason}`,
    submitLabel: decision === 'approve' ? 'Approve' : 'Reject',
    danger: decision === 'reject',
    build: () => field('Comment', h('textarea', { name: 'comment', id: 'decision-comment', rows: 3, maxlength: 2000 }),
      'Recorded with your decision in the audit log.'),
    submit: (form) => api.post(`/access-requests/${r.id}/${decision}`, { comment: form.elements.comment.value }),
  });
  if (done) {
    notify(`Request #${r.id} ${decision === 'approve' ? 'approved' : 'rejected'}.`);
    reload();
  }
}

export function render(root) {
  const awaiting = h('section', { id: 'awaiting-requests', 'aria-labelledby': 'awaiting-title' });
  const mine = h('section', { id: 'my-requests', 'aria-labelledby': 'mine-title' });
  replace(root, pageHeader('Access requests', 'Approvals for accounts in safes that require a second person.'),
    h('h2', { id: 'awaiting-title', text: 'Waiting for my approval' }), awaiting,
    h('h2', { id: 'mine-title', text: 'My requests' }), mine);

  const reloadAll = () => { loadAwaiting(); loadMine(); refreshApprovalCount(); };
  const loadAwaiting = loadInto(awaiting, () => api.get('/access-requests?view=awaiting'), (body) => {
    const items = api.itemsOf(body);
    if (!items.length) return emptyState('Nothing to approve', 'Requests you may decide appear here.');
    return dataTable([
      { label: 'Requester', render: (r) => h('strong', { text: r.requester }) },
      { label: 'Account', class: 'mono', render: (r) => `${r.account_user}@${r.target_name}` },
      { label: 'Safe', render: (r) => r.safe_name },
      { label: 'Reason', render: reasonCell },
      { label: 'Window', render: windowCell },
      { label: 'Status', render: statusBadge },
      {
        label: 'Actions', class: 'actions',
        render: (r) => h('span', { class: 'button-row' },
          h('button', { type: 'button', class: 'btn btn-primary btn-small', dataset: { approve: String(r.id) },
            'aria-label': `Approve request ${r.id} of ${r.requester}`, text: 'Approve',
            onClick: () => decide(r, 'approve', reloadAll) }),
          h('button', { type: 'button', class: 'btn btn-danger btn-small', dataset: { reject: String(r.id) },
            'aria-label': `Reject request ${r.id} of ${r.requester}`, text: 'Reject',
            onClick: () => decide(r, 'reject', reloadAll) })),
      },
    ], items, { caption: 'Requests waiting for my approval', rowKey: (r) => r.id });
  }, 'Loading requests to approve…');

  const loadMine = loadInto(mine, () => api.get('/access-requests?view=mine'), (body) => {
    const items = api.itemsOf(body);
    if (!items.length) {
      return emptyState('No requests yet',
        'Press Connect on an account whose safe requires approval (My accounts) to ask for access.');
    }
    return dataTable([
      { label: '#', class: 'num', render: (r) => String(r.id) },
      { label: 'Account', class: 'mono', render: (r) => `${r.account_user}@${r.target_name}` },
      { label: 'Reason', render: reasonCell },
      { label: 'Window', render: windowCell },
      { label: 'Status', render: statusBadge },
      { label: 'Decisions', render: decisionsCell },
      {
        label: 'Actions', class: 'actions',
        render: (r) => (r.status === 'pending' || r.status === 'approved'
          ? h('button', { type: 'button', class: 'btn btn-small', dataset: { cancel: String(r.id) },
            'aria-label': `Cancel request ${r.id}`, text: 'Cancel',
            onClick: async () => {
              const ok = await confirmAction({ title: `Cancel request #${r.id}?`, message: 'It can no longer be used to connect.',
                confirmLabel: 'Cancel request', action: () => api.post(`/access-requests/${r.id}/cancel`, {}) });
              if (ok) reloadAll();
            } })
          : null),
      },
    ], items, { caption: 'My access requests', rowKey: (r) => r.id });
  }, 'Loading my requests…');
}
