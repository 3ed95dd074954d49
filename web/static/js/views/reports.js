// "Reports" (issue 8): the access report for a date range and a set of safes, as a CSV download
// or a printable HTML page (GET /api/v1/reports/access). Superusers and auditors.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { pageHeader, loadInto, field, input, checkboxGroup, checkedValues, formError, setFormError } from '../ui.js';

const day = (d) => d.toISOString().slice(0, 10);

export function render(root) {
  const body = h('div', { id: 'reports' });
  replace(root, pageHeader('Reports', 'Who accessed which account, when, for how long, under which approval, with risk and review.'), body);
  loadInto(body, () => api.listAll('/safes'), (safes) => {
    const now = new Date();
    const error = formError();
    const form = h('form', { id: 'report-form', class: 'form' }, error,
      h('div', { class: 'field-row' },
        field('From', input('from', { type: 'date', id: 'report-from', required: true, value: day(new Date(now.getTime() - 30 * 86400_000)) })),
        field('To', input('to', { type: 'date', id: 'report-to', required: true, value: day(now) }))),
      safes.length ? checkboxGroup('Safes (none ticked: all)', 'safe', safes.map((s) => ({ value: String(s.id), label: s.name }))) : null,
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', id: 'report-csv', value: 'csv', text: 'Download CSV' }),
        h('button', { type: 'submit', class: 'btn', id: 'report-html', value: 'html', text: 'Printable page' })));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const from = form.elements.from.value;
      const to = form.elements.to.value;
      if (!from || !to || to < from) { setFormError(error, { message: 'Choose a From date on or before the To date.' }); return; }
      setFormError(error, null);
      const format = event.submitter && event.submitter.value === 'html' ? 'html' : 'csv';
      const q = new URLSearchParams({ from, to, format });
      const ids = checkedValues(form, 'safe');
      if (ids.length) q.set('safe', ids.join(','));
      window.open(`/api/v1/reports/access?${q}`, '_blank', 'noopener');
    });
    return form;
  }, 'Loading safes…');
}
