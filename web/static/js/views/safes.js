// Safes: list with policy summary, and (vault admins) the form to create one.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { isVaultAdmin } from '../session.js';
import {
  pageHeader, loadInto, dataTable, emptyState, badges, field, input, formError, setFormError, onSubmit, notify,
} from '../ui.js';
import { policyFieldset, readPolicy, validatePolicy, policySummary } from '../policy.js';

export function render(root, { navigate }) {
  const canCreate = isVaultAdmin();
  const list = h('div', { id: 'safes-list' });
  const formPanel = h('section', { class: 'panel', id: 'safe-create-panel', hidden: true, 'aria-labelledby': 'safe-create-title' });
  const newButton = canCreate
    ? h('button', { type: 'button', class: 'btn btn-primary', id: 'safe-new', text: 'New safe', 'aria-expanded': 'false',
      'aria-controls': 'safe-create-panel' })
    : null;

  if (canCreate) {
    const error = formError();
    const form = h('form', { id: 'safe-create-form', class: 'form' },
      h('h2', { id: 'safe-create-title', text: 'New safe' }),
      error,
      h('div', { class: 'form-grid' },
        field('Name', input('name', { required: true, maxlength: '200', autocomplete: 'off' })),
        field('Description', h('textarea', { name: 'description', rows: '2', maxlength: '2000' }))),
      policyFieldset(),
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create safe' }),
        h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel', onClick: () => toggleForm(false) })));
    onSubmit(form, error, async () => {
      const name = form.elements.name.value.trim();
      if (!name) { setFormError(error, { message: 'Enter a name for the safe.' }); return; }
      const policy = readPolicy(form);
      const problem = validatePolicy(policy);
      if (problem) { setFormError(error, { message: problem }); return; }
      const safe = await api.post('/safes', { name, description: form.elements.description.value, policy });
      notify(`Safe “${safe.name}” created. Add its members below.`);
      navigate(`safes/${safe.id}`);
    }, 'Creating…');
    formPanel.append(form);
    newButton.addEventListener('click', () => toggleForm(formPanel.hidden));
  }

  function toggleForm(open) {
    formPanel.hidden = !open;
    if (newButton) newButton.setAttribute('aria-expanded', String(open));
    if (open) formPanel.querySelector('input[name=name]').focus();
    else if (newButton) newButton.focus();
  }

  replace(root,
    pageHeader('Safes', 'Safes group accounts and decide who may use them and how sessions are recorded.', newButton),
    formPanel,
    list);

  loadInto(list, () => api.listAll('/safes'), (safes) => {
    if (safes.length === 0) {
      return emptyState('No safes yet',
        canCreate ? 'Create the first safe with “New safe”, then add accounts and members to it.'
          : 'You do not manage any safe.');
    }
    return dataTable([
      { label: 'Name', render: (s) => h('a', { href: `#/safes/${s.id}`, class: 'strong-link', text: s.name }) },
      { label: 'Description', class: 'col-wide', render: (s) => s.description },
      { label: 'Policy', render: (s) => policySummary(s.policy) },
      { label: 'My permissions', render: (s) => badges(s.my_permissions, 'perm') },
      { label: '', class: 'col-actions', render: (s) => h('a', { href: `#/safes/${s.id}`, class: 'btn btn-small', text: 'Open', 'aria-label': `Open safe ${s.name}` }) },
    ], safes, { caption: 'Safes', rowKey: (s) => s.id });
  });
}
