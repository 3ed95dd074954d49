// A legal hold control (issue 8) for the player and the safe page: shows whether the session (or
// safe) is held, with Place / Release for auditors and superusers. Hidden for everyone else.
import * as api from './api.js';
import { h, replace } from './dom.js';
import { badge, formDialog, field, notify, confirmAction } from './ui.js';
import { hasRole } from './session.js';

/** scope 'session' (id = session id) or 'safe' (id = safe id). */
export function legalHoldControl(scope, id) {
  const el = h('span', { class: 'legal-hold', id: `legal-hold-${scope}` });
  if (!hasRole('auditor', 'superuser')) { el.hidden = true; return el; }
  const key = `${scope}_id`;
  const load = async () => {
    let holds = [];
    try {
      holds = api.itemsOf(await api.get(`/legal-holds?${key}=${encodeURIComponent(id)}`));
    } catch (error) {
      if (error && (error.status === 403 || error.status === 401)) { el.hidden = true; return; }
      replace(el, h('span', { class: 'muted small', text: `Legal hold unknown: ${error.message}` }));
      return;
    }
    const active = holds.find((x) => x.active);
    if (active) {
      replace(el, badge('Legal hold', 'danger'),
        h('button', { type: 'button', class: 'btn btn-small', id: 'legal-hold-release', text: 'Release hold',
          title: active.reason,
          onClick: async () => {
            const ok = await confirmAction({ title: 'Release the legal hold?', confirmLabel: 'Release',
              message: `Held by ${active.created_by}: ${active.reason}. Once released, retention may delete the recording.`,
              action: () => api.post(`/legal-holds/${active.id}/release`, {}) });
            if (ok) { notify('Legal hold released.'); load(); }
          } }));
    } else {
      replace(el, h('button', { type: 'button', class: 'btn btn-small', id: 'legal-hold-place', text: 'Place legal hold',
        onClick: async () => {
          const ok = await formDialog({
            title: 'Place a legal hold',
            description: 'Retention will not delete anything under this hold until it is released.',
            submitLabel: 'Place hold',
            build: () => field('Reason', h('textarea', { name: 'reason', id: 'legal-hold-reason', rows: 3, required: true, maxlength: 2000 })),
            submit: (form) => api.post('/legal-holds', { scope, [key]: scope === 'safe' ? Number(id) : id, reason: form.elements.reason.value }),
          });
          if (ok) { notify('Legal hold placed.'); load(); }
        } }));
    }
  };
  load();
  return el;
}
