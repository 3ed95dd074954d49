// Users (superuser): list, create, edit roles, lock / unlock, reset MFA, delete.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { currentUser, ROLES, ROLE_LABELS } from '../session.js';
import {
  pageHeader, loadInto, dataTable, emptyState, badge, badges, field, input, checkboxGroup, checkedValues,
  formError, setFormError, onSubmit, notify, confirmAction, formDialog,
} from '../ui.js';

const roleOptions = ROLES.map((r) => ({ value: r, label: ROLE_LABELS[r] }));
const ROLE_HINT = 'Superuser: everything. Vault admin: safes, targets, accounts. Admin: connects to accounts. ' +
  'Auditor: audit log and recordings. SOC: live sessions.';

export function render(root, { refreshSession }) {
  const list = h('div', { id: 'users-list' });
  const panel = h('section', { class: 'panel', id: 'user-form-panel', hidden: true, 'aria-labelledby': 'user-form-title' });
  const newButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'user-new', text: 'New user',
    'aria-controls': 'user-form-panel', 'aria-expanded': 'false' });
  replace(root, pageHeader('Users', 'Local and directory users, their roles and sign-in state.', newButton), panel, list);

  const error = formError();
  const form = h('form', { id: 'user-form', class: 'form', autocomplete: 'off' },
    h('h2', { id: 'user-form-title', text: 'New user' }),
    error,
    h('div', { class: 'form-grid' },
      field('Username', input('username', { required: true, maxlength: '100', autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false' })),
      field('Display name', input('display_name', { maxlength: '200', autocomplete: 'off' })),
      field('Initial password', input('password', { type: 'password', required: true, autocomplete: 'new-password', minlength: '12' }),
        'At least 12 characters. The user must replace it at the first sign-in.')),
    checkboxGroup('Roles', 'roles', roleOptions, ['admin'], ROLE_HINT),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create user' }),
      h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel', onClick: () => toggle(false) })));
  panel.append(form);
  newButton.addEventListener('click', () => toggle(panel.hidden));

  function toggle(open) {
    panel.hidden = !open;
    newButton.setAttribute('aria-expanded', String(open));
    if (open) form.elements.username.focus();
    else { form.elements.password.value = ''; newButton.focus(); }
  }

  onSubmit(form, error, async () => {
    const body = {
      username: form.elements.username.value.trim(),
      display_name: form.elements.display_name.value.trim(),
      roles: checkedValues(form, 'roles'),
      password: form.elements.password.value,
    };
    if (!body.username) { setFormError(error, { message: 'Enter a username.' }); return; }
    if (!body.password) { setFormError(error, { message: 'Enter an initial password.' }); return; }
    const user = await api.post('/users', body);
    form.reset();
    notify(`User “${user.username}” created.`);
    toggle(false);
    reload();
  }, 'Creating…');

  async function edit(u) {
    const done = await formDialog({
      title: `Edit ${u.username}`,
      build: () => [
        field('Display name', input('display_name', { maxlength: '200', value: u.display_name || '' })),
        checkboxGroup('Roles', 'roles', roleOptions, u.roles || [],
          u.source === 'ldap' ? 'Directory users get their roles from group mapping at each sign-in.' : ROLE_HINT),
      ],
      submit: (f) => api.patch(`/users/${u.id}`, { display_name: f.elements.display_name.value.trim(), roles: checkedValues(f, 'roles') }),
    });
    if (done) {
      if (currentUser() && currentUser().id === u.id) await refreshSession().catch(() => {});
      notify(`User “${u.username}” saved.`);
      reload();
    }
  }

  async function setLocked(u, locked) {
    const done = await confirmAction({
      title: locked ? `Lock ${u.username}?` : `Unlock ${u.username}?`,
      message: locked ? `${u.username} cannot sign in until unlocked.` : `${u.username} can sign in again; failed attempts are reset.`,
      confirmLabel: locked ? 'Lock user' : 'Unlock user',
      danger: locked,
      action: () => api.patch(`/users/${u.id}`, { locked }),
    });
    if (done) { notify(`User “${u.username}” ${locked ? 'locked' : 'unlocked'}.`); reload(); }
  }

  async function resetPassword(u) {
    const done = await formDialog({
      title: `Set a new password for ${u.username}`,
      description: `${u.username} is signed out everywhere and must replace this password at the next sign-in.`,
      build: () => field('New one-time password', input('password', { type: 'password', required: true, autocomplete: 'new-password', minlength: '12' }),
        'At least 12 characters.'),
      submit: async (f) => {
        const password = f.elements.password.value;
        f.elements.password.value = '';
        return api.patch(`/users/${u.id}`, { password });
      },
      submitLabel: 'Set password',
    });
    if (done) { notify(`A new password is set for “${u.username}”.`); reload(); }
  }

  async function resetMfa(u) {
    const done = await confirmAction({
      title: `Reset MFA of ${u.username}?`,
      message: `${u.username}'s authenticator is removed; they can sign in with the password alone and must set up a new one.`,
      confirmLabel: 'Reset MFA',
      action: () => api.post(`/users/${u.id}/mfa-reset`, {}),
    });
    if (done) { notify(`MFA of “${u.username}” reset.`); reload(); }
  }

  async function remove(u) {
    const done = await confirmAction({
      title: `Delete ${u.username}?`,
      message: 'The user is removed and loses all access. Their audit trail is kept.',
      confirmLabel: 'Delete user',
      action: () => api.del(`/users/${u.id}`),
    });
    if (done) { notify(`User “${u.username}” deleted.`); reload(); }
  }

  const reload = loadInto(list, () => api.listAll('/users'), (users) => {
    if (users.length === 0) return emptyState('No users', 'Create users with “New user”.');
    const me = currentUser();
    return dataTable([
      { label: 'Username', render: (u) => h('strong', { class: 'mono', text: u.username }) },
      { label: 'Display name', render: (u) => u.display_name },
      { label: 'Roles', render: (u) => badges((u.roles || []).map((r) => ROLE_LABELS[r] || r), 'role') },
      { label: 'Source', render: (u) => (u.source === 'ldap' ? 'Directory' : 'Local') },
      { label: 'MFA', render: (u) => (u.mfa_enrolled ? badge('Enrolled', 'ok') : badge('Not set up', 'neutral')) },
      { label: 'Status', render: (u) => (u.locked ? badge('Locked', 'danger') : badge('Active', 'ok')) },
      { label: 'Created', render: (u) => formatTime(u.created_at) },
      {
        label: '', class: 'col-actions', render: (u) => {
          const self = me && me.id === u.id;
          return h('div', { class: 'row-actions' },
            h('button', { type: 'button', class: 'btn btn-small', text: 'Edit', 'aria-label': `Edit ${u.username}`, onClick: () => edit(u) }),
            self ? null : h('button', { type: 'button', class: 'btn btn-small', text: u.locked ? 'Unlock' : 'Lock',
              'aria-label': `${u.locked ? 'Unlock' : 'Lock'} ${u.username}`, onClick: () => setLocked(u, !u.locked) }),
            !self && u.source !== 'ldap' ? h('button', { type: 'button', class: 'btn btn-small', text: 'Password', 'aria-label': `Set a new password for ${u.username}`, onClick: () => resetPassword(u) }) : null,
            u.mfa_enrolled ? h('button', { type: 'button', class: 'btn btn-small', text: 'Reset MFA', 'aria-label': `Reset MFA of ${u.username}`, onClick: () => resetMfa(u) }) : null,
            self ? null : h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', text: 'Delete', 'aria-label': `Delete ${u.username}`, onClick: () => remove(u) }));
        },
      },
    ], users, { caption: 'Users', rowKey: (u) => u.id, rowClass: (u) => (u.locked ? 'row-muted' : null) });
  });
}
