// The access request form (dual authorization, issue 8): shown in the Connect dialog when the
// account's safe requires approval. Reason, optional ticket id and the time window (local time in
// the form, sent as UTC).
import * as api from './api.js';
import { h, replace } from './dom.js';
import { field, formError, onSubmit } from './ui.js';

/** "YYYY-MM-DDTHH:MM" in local time, the value format of <input type=datetime-local>. */
export function localInputValue(date) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

/** An <input type=datetime-local> value (local time) as RFC 3339 UTC, or '' if empty/invalid. */
export function toUtc(value) {
  if (!value) return '';
  const t = new Date(value);
  return Number.isNaN(t.getTime()) ? '' : t.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Renders the form into `container` for `account`; `onCreated(request)` after a successful POST,
 * `onCancel()` when the person gives up.
 */
export function renderAccessRequestForm(container, account, { message, onCreated, onCancel }) {
  const now = new Date();
  const reason = h('textarea', { name: 'reason', id: 'access-reason', rows: 3, required: true, maxlength: 2000 });
  const ticket = h('input', { name: 'ticket_id', id: 'access-ticket', type: 'text', maxlength: 128 });
  const from = h('input', { name: 'window_from', id: 'access-from', type: 'datetime-local', required: true,
    value: localInputValue(now) });
  const to = h('input', { name: 'window_to', id: 'access-to', type: 'datetime-local', required: true,
    value: localInputValue(new Date(now.getTime() + 2 * 3600 * 1000)) });
  const errorEl = formError();
  const cancel = h('button', { type: 'button', class: 'btn btn-ghost', id: 'access-cancel', text: 'Cancel' });
  const form = h('form', { class: 'access-request-form', id: 'access-request-form' },
    h('p', { class: 'notice', role: 'status', id: 'access-required',
      text: message || 'This account’s safe requires approval before you connect.' }),
    errorEl,
    field('Reason', reason, 'What you will do, for the approvers and the audit log.'),
    field('Ticket (optional)', ticket, 'A change or incident number, e.g. CHG-1234.'),
    h('div', { class: 'field-row' },
      field('From', from), field('Until', to)),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'access-submit', text: 'Request access' }), cancel));
  cancel.addEventListener('click', () => onCancel && onCancel());
  onSubmit(form, errorEl, async () => {
    const created = await api.post('/access-requests', {
      account_id: account.id,
      reason: reason.value,
      ticket_id: ticket.value,
      window_from: toUtc(from.value),
      window_to: toUtc(to.value),
    });
    onCreated(created);
  }, 'Sending…');
  replace(container, form);
  reason.focus();
  return form;
}
