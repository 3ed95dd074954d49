// The safe page's "Approval and retention" panel (issue 8): dual authorization (N of M
// approvers), moderated sessions, retention class with hot days, and the safe's legal hold.
import * as api from './api.js';
import { h, replace } from './dom.js';
import { field, input, select, checkbox, formError, setFormError, onSubmit, notify, loadInto } from './ui.js';
import { legalHoldControl } from './legal-hold.js';

const CLASSES = [
  { value: 'pci', label: 'PCI DSS — 1 year, last 90 days hot' },
  { value: 'sox', label: 'SOX — 7 years' },
  { value: 'hipaa', label: 'HIPAA — 6 years' },
  { value: 'custom', label: 'Custom number of days' },
];
const APPROVER_PERMS = [
  { value: 'manage', label: 'Members with “manage”' },
  { value: 'monitor_live', label: 'Members with “monitor live”' },
  { value: 'view_recordings', label: 'Members with “view recordings”' },
  { value: '', label: 'Only the listed user ids' },
];

export function compliancePanel(safe, canManage) {
  const section = h('section', { class: 'panel', id: 'safe-compliance', 'aria-labelledby': 'compliance-title' });
  const body = h('div');
  replace(section, h('h2', { id: 'compliance-title', text: 'Approval and retention' }), legalHoldControl('safe', safe.id), body);
  loadInto(body, () => api.get(`/safes/${safe.id}/compliance`), (p) => {
    const error = formError();
    const form = h('form', { id: 'compliance-form', class: 'form' }, error,
      h('fieldset', { class: 'plain-fieldset', disabled: !canManage },
        h('legend', { class: 'visually-hidden', text: 'Approval and retention' }),
        checkbox('requires_approval', 'Sessions need an approved access request', p.requires_approval),
        h('div', { class: 'form-grid' },
          field('Approvals needed (N)', input('approvals_needed', { type: 'number', min: '1', max: '10', value: String(p.approvals_needed) })),
          field('Approvers', select('approver_permission', APPROVER_PERMS, { value: p.approver_permission })),
          field('Also these user ids', input('approver_user_ids', { value: (p.approver_user_ids || []).join(', ') }),
            'Comma-separated. The requester never approves their own request.')),
        checkbox('moderated', 'Moderated: a SOC watcher must be present (the user\u2019s input is held until one watches)', p.moderated),
        h('div', { class: 'form-grid' },
          field('Retention class', select('retention_class', CLASSES, { value: p.retention_class })),
          field('Custom retention (days)', input('retention_days', { type: 'number', min: '1', max: '36500', value: String(p.retention_days) })),
          field('Hot tier (days)', input('hot_days', { type: 'number', min: '1', max: '36500', value: p.hot_days == null ? '' : String(p.hot_days) }),
            'Older recordings move to the cold tier when one is configured.')),
        h('p', { class: 'muted small', id: 'compliance-effective', text: `Recordings are kept ${p.effective_retention_days} days.` })),
      canManage ? h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save approval and retention' })) : null);
    onSubmit(form, error, async () => {
      const ids = form.elements.approver_user_ids.value.split(',').map((x) => x.trim()).filter(Boolean).map(Number);
      if (ids.some((x) => !Number.isInteger(x) || x <= 0)) { setFormError(error, { message: 'User ids must be whole numbers.' }); return; }
      const hot = form.elements.hot_days.value.trim();
      const saved = await api.put(`/safes/${safe.id}/compliance`, {
        requires_approval: form.elements.requires_approval.checked,
        approvals_needed: Number(form.elements.approvals_needed.value),
        approver_permission: form.elements.approver_permission.value,
        approver_user_ids: ids,
        moderated: form.elements.moderated.checked,
        retention_class: form.elements.retention_class.value,
        retention_days: Number(form.elements.retention_days.value),
        hot_days: hot === '' ? null : Number(hot),
      });
      form.querySelector('#compliance-effective').textContent = `Recordings are kept ${saved.effective_retention_days} days.`;
      notify('Approval and retention saved.');
    });
    return form;
  });
  return section;
}
