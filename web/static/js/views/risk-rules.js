// Risk rules (SOC, auditor, superuser): the rules the risk engine runs now, read-only. The rules
// live in a file on the server (risk.rules_file); this page shows which version is active and
// whether the last reload was rejected (the previous rules then stay active).
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { pageHeader, dataTable, emptyState, loadInto, badge } from '../ui.js';

const SEVERITY_KIND = { low: 'neutral', medium: 'warn', high: 'danger', critical: 'danger' };

const COLUMNS = [
  { label: 'Rule', class: 'mono nowrap', render: (r) => r.id },
  { label: 'Description', render: (r) => r.description },
  { label: 'Matches', class: 'nowrap', render: (r) => r.match.replace('_', ' ') },
  {
    label: 'Pattern',
    class: 'col-wide mono',
    render: (r) => (r.match === 'duration'
      ? `longer than ${r.seconds} s`
      : h('div', {}, ...(r.patterns || []).map((p) => h('div', { class: 'rule-pattern', text: p })))),
  },
  { label: 'Severity', render: (r) => badge(r.severity, SEVERITY_KIND[r.severity] || 'neutral') },
  { label: 'Score', class: 'num', render: (r) => String(r.score) },
  { label: 'Actions', render: (r) => h('span', {}, ...r.actions.map((a) => badge(a, a === 'block' || a === 'terminate' || a === 'lock_user' ? 'danger' : 'neutral'))) },
];

export function render(root) {
  const summary = h('div', { id: 'risk-rules-summary' });
  const table = h('div', { id: 'risk-rules-table' });
  replace(root, pageHeader('Risk rules', 'What the risk engine matches in sessions, and what it does then.'), summary, table);
  loadInto(table, () => api.get('/risk/rules'), (body) => {
    const facts = [
      h('p', { class: 'muted small' },
        'File ', h('code', { text: body.file }), ` · version ${body.version || '—'}`,
        body.loaded_at ? ` · loaded ${formatTime(body.loaded_at)}` : ''),
    ];
    if (body.last_error) {
      facts.push(h('p', { class: 'form-error', id: 'risk-rules-error', role: 'alert',
        text: `The last reload was rejected; the rules below stay active. ${body.last_error}` }));
    }
    replace(summary, ...facts);
    if (!body.rules.length) return emptyState('No risk rules', 'The rules file defines none.');
    return dataTable(COLUMNS, body.rules, { caption: 'Risk rules', rowKey: (r) => r.id });
  }, 'Loading risk rules…');
}
