// Accounts: list (filter by safe), create, rotate secret, delete. Secrets are write-only.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import {
  pageHeader, loadInto, dataTable, emptyState, badge, field, input, select, formError, setFormError, onSubmit,
  notify, confirmAction, formDialog, loadingState, errorState,
} from '../ui.js';
import { protocolLabel } from '../policy.js';
import { secretFields } from '../secret-fields.js';

export function render(root) {
  const filterBar = h('div', { class: 'toolbar', id: 'accounts-toolbar' });
  const list = h('div', { id: 'accounts-list' });
  const panel = h('section', { class: 'panel', id: 'account-form-panel', hidden: true, 'aria-labelledby': 'account-form-title' });
  const newButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'account-new', text: 'New account',
    'aria-controls': 'account-form-panel', 'aria-expanded': 'false', disabled: true });
  replace(root,
    pageHeader('Accounts', 'Privileged accounts on targets, with their credentials kept in the vault.', newButton),
    panel,
    filterBar,
    list);

  let safes = [];
  let targets = [];
  let safeFilter = '';

  // Safes and targets feed the filter and the form.
  replace(filterBar, loadingState('Loading safes and targets…'));
  Promise.all([api.listAll('/safes'), api.listAll('/targets')]).then(([s, t]) => {
    safes = s;
    targets = t;
    renderFilter();
    buildForm();
  }).catch((error) => {
    if (error.status !== 401) replace(filterBar, errorState(error));
  });

  function renderFilter() {
    const filter = select('safe_filter', [{ value: '', label: 'All safes' }, ...safes.map((s) => ({ value: s.id, label: s.name }))],
      { id: 'account-safe-filter', value: safeFilter });
    filter.addEventListener('change', () => { safeFilter = filter.value; reload(); });
    replace(filterBar, h('div', { class: 'field field-inline' }, h('label', { for: filter.id, text: 'Safe' }), filter));
  }

  function buildForm() {
    const error = formError();
    const secret = secretFields();
    const safeSelect = select('safe_id', [
      { value: '', label: safes.length ? 'Choose a safe…' : 'Create a safe first', disabled: true },
      ...safes.map((s) => ({ value: s.id, label: s.name }))], { required: true, value: safeFilter || '' });
    const targetSelect = select('target_id', [
      { value: '', label: targets.length ? 'Choose a target…' : 'Create a target first', disabled: true },
      ...targets.map((t) => ({ value: t.id, label: `${t.name} — ${protocolLabel(t.protocol)} ${t.address}:${t.port}` }))],
    { required: true, value: '' });
    const form = h('form', { id: 'account-form', class: 'form', autocomplete: 'off' },
      h('h2', { id: 'account-form-title', text: 'New account' }),
      error,
      h('div', { class: 'form-grid' },
        field('Safe', safeSelect),
        field('Target', targetSelect),
        field('Username', input('username', { required: true, maxlength: '200', autocomplete: 'off', spellcheck: 'false', class: 'mono' }),
          'The account on the target, e.g. root or sa.'),
        field('Description', h('textarea', { name: 'description', rows: '2', maxlength: '2000' }))),
      secret.element,
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create account' }),
        h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel', onClick: () => toggle(false) })));
    onSubmit(form, error, async () => {
      const body = {
        safe_id: Number.parseInt(safeSelect.value, 10),
        target_id: Number.parseInt(targetSelect.value, 10),
        username: form.elements.username.value.trim(),
        secret_kind: secret.kind(),
        secret: secret.value(),
        description: form.elements.description.value,
      };
      if (!Number.isInteger(body.safe_id)) { setFormError(error, { message: 'Choose a safe.' }); return; }
      if (!Number.isInteger(body.target_id)) { setFormError(error, { message: 'Choose a target.' }); return; }
      if (!body.username) { setFormError(error, { message: 'Enter the account’s username.' }); return; }
      if (!body.secret) { setFormError(error, { message: 'Enter the password or private key.' }); return; }
      try {
        await api.post('/accounts', body);
      } finally {
        body.secret = '';
      }
      secret.reset();
      form.reset();
      notify(`Account “${body.username}” created.`);
      toggle(false);
      reload();
    }, 'Creating…');
    replace(panel, form);
    newButton.onclick = () => toggle(panel.hidden);
    newButton.disabled = false;

    function toggle(open) {
      panel.hidden = !open;
      newButton.setAttribute('aria-expanded', String(open));
      if (open) {
        if (safeFilter) safeSelect.value = safeFilter;
        safeSelect.focus();
      } else {
        secret.reset();
        newButton.focus();
      }
    }
  }

  async function rotate(a) {
    let secret = null;
    const done = await formDialog({
      title: `New secret for ${a.username}@${a.target_name}`,
      description: 'The new secret replaces the stored one. It is stored encrypted and never shown again.',
      build: () => { secret = secretFields(); return secret.element; },
      submit: async () => {
        const value = secret.value();
        if (!value) throw new Error('Enter the new password or private key.');
        try {
          await api.put(`/accounts/${a.id}/secret`, { secret_kind: secret.kind(), secret: value });
        } finally {
          secret.clear();
        }
        return true;
      },
      submitLabel: 'Rotate secret',
    });
    if (done) { notify(`Secret of ${a.username}@${a.target_name} replaced.`); reload(); }
  }

  async function remove(a) {
    const done = await confirmAction({
      title: `Delete account ${a.username}@${a.target_name}?`,
      message: 'The account and its stored secret are removed from the vault.',
      confirmLabel: 'Delete account',
      action: () => api.del(`/accounts/${a.id}`),
    });
    if (done) { notify(`Account ${a.username}@${a.target_name} deleted.`); reload(); }
  }

  const reload = loadInto(list, () => api.listAll('/accounts', safeFilter ? { safe_id: safeFilter } : {}), (accounts) => {
    if (accounts.length === 0) {
      return emptyState(safeFilter ? 'No accounts in this safe' : 'No accounts yet',
        'Add an account with “New account”: pick a safe and a target, and enter its credential.');
    }
    return dataTable([
      { label: 'Account', class: 'mono', render: (a) => h('strong', { text: a.username }) },
      {
        label: 'Target', render: (a) => h('div', { class: 'cell-stack' },
          h('span', { class: 'cell-main', text: a.target_name }),
          h('span', { class: 'cell-sub' }, badge(String(a.protocol || '').toUpperCase(), 'protocol'), ' ',
            h('span', { class: 'mono', text: `${a.address}:${a.port}` }))),
      },
      { label: 'Safe', render: (a) => a.safe_name },
      {
        label: 'Secret', render: (a) => (a.secret_set
          ? badge(a.secret_kind === 'private_key' ? 'Private key set' : 'Password set', 'ok')
          : badge('No secret', 'warn')),
      },
      { label: 'Updated', class: 'nowrap', render: (a) => formatTime(a.updated_at || a.created_at) },
      {
        label: '', class: 'col-actions', render: (a) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'btn btn-small', text: 'Rotate', 'aria-label': `Rotate secret of ${a.username} on ${a.target_name}`, onClick: () => rotate(a) }),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', text: 'Delete', 'aria-label': `Delete account ${a.username} on ${a.target_name}`, onClick: () => remove(a) })),
      },
    ], accounts, { caption: 'Accounts', rowKey: (a) => a.id });
  });
}
