// One safe: details and policy (edit), members (add / change / remove), delete.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { isVaultAdmin } from '../session.js';
import {
  pageHeader, loadInto, dataTable, emptyState, badges, field, input, select, checkboxGroup, checkedValues,
  formError, setFormError, onSubmit, notify, formDialog, confirmAction, errorState,
} from '../ui.js';
import { policyFieldset, readPolicy, validatePolicy, PERMISSIONS } from '../policy.js';
import { compliancePanel } from '../compliance-panel.js';

export function render(root, { params, navigate }) {
  const id = Number.parseInt(params.id, 10);
  const container = h('div', { id: 'safe-detail' });
  replace(root, container);
  if (!Number.isInteger(id)) {
    replace(container, errorState({ message: 'This safe address is not valid.' }));
    return;
  }
  loadInto(container, () => api.get(`/safes/${id}`), (safe) => renderSafe(safe, navigate));
}

function renderSafe(safe, navigate) {
  const canManage = isVaultAdmin() || (safe.my_permissions || []).includes('manage');
  const deleteButton = isVaultAdmin()
    ? h('button', { type: 'button', class: 'btn btn-danger', id: 'safe-delete', text: 'Delete safe', onClick: () => deleteSafe() })
    : null;
  const header = pageHeader(safe.name, null, h('a', { href: '#/safes', class: 'btn btn-ghost', text: 'All safes' }), deleteButton);
  const title = header.querySelector('h1');

  async function deleteSafe() {
    const done = await confirmAction({
      title: `Delete safe “${safe.name}”?`,
      message: 'The safe and its member list are removed. A safe that still holds accounts cannot be deleted.',
      confirmLabel: 'Delete safe',
      action: () => api.del(`/safes/${safe.id}`),
    });
    if (done) { notify(`Safe “${safe.name}” deleted.`); navigate('safes'); }
  }

  // ---- details & policy
  const error = formError();
  const form = h('form', { id: 'safe-edit-form', class: 'form' },
    h('h2', { text: 'Details and policy' }),
    error,
    h('fieldset', { class: 'plain-fieldset', disabled: !canManage },
      h('legend', { class: 'visually-hidden', text: 'Details' }),
      h('div', { class: 'form-grid' },
        field('Name', input('name', { required: true, maxlength: '200', value: safe.name, autocomplete: 'off' })),
        field('Description', h('textarea', { name: 'description', rows: '2', maxlength: '2000', value: safe.description || '' })))),
    policyFieldset(safe.policy, { disabled: !canManage }),
    h('p', { class: 'muted small', text: `Created ${formatTime(safe.created_at)}` }),
    canManage ? h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Save changes' })) : null);
  onSubmit(form, error, async () => {
    const name = form.elements.name.value.trim();
    if (!name) { setFormError(error, { message: 'The name cannot be empty.' }); return; }
    const policy = readPolicy(form);
    const problem = validatePolicy(policy);
    if (problem) { setFormError(error, { message: problem }); return; }
    const updated = await api.patch(`/safes/${safe.id}`, { name, description: form.elements.description.value, policy });
    Object.assign(safe, updated || {});
    title.textContent = safe.name;
    document.title = `${safe.name} · Vigil`;
    notify('Safe saved.');
  });

  const membersSection = h('section', { class: 'panel', id: 'safe-members', 'aria-labelledby': 'members-title' });
  const page = h('div', { class: 'safe-page' },
    header,
    h('p', { class: 'page-subtitle', text: safe.description || 'No description.' }),
    h('div', { class: 'two-col' },
      h('section', { class: 'panel' }, form),
      membersSection),
    compliancePanel(safe, canManage));
  if (canManage) renderMembers(membersSection, safe);
  else replace(membersSection, h('h2', { id: 'members-title', text: 'Members' }),
    emptyState('Members are visible to managers', 'You need the “manage” permission on this safe to see and change its members.'));
  return page;
}

function permissionLabel(value) {
  const p = PERMISSIONS.find((x) => x.value === value);
  return p ? p.label : value;
}

function renderMembers(section, safe) {
  const table = h('div', { id: 'members-table' });
  const addPanel = h('div', { id: 'member-add' });
  replace(section,
    h('h2', { id: 'members-title', text: 'Members' }),
    h('p', { class: 'muted small', text: 'Who may use the accounts in this safe, and how.' }),
    table,
    addPanel);

  let members = [];
  const reload = loadInto(table, async () => {
    const body = await api.get(`/safes/${safe.id}/members`);
    members = api.itemsOf(body);
    renderAddForm();
    return members;
  }, (items) => {
    if (items.length === 0) return emptyState('No members yet', 'Add a user below to give them access to this safe.');
    return dataTable([
      { label: 'User', render: (m) => h('strong', { text: m.username }) },
      { label: 'Permissions', render: (m) => badges((m.permissions || []).map(permissionLabel), 'perm') },
      {
        label: '', class: 'col-actions', render: (m) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'btn btn-small', text: 'Change', 'aria-label': `Change permissions of ${m.username}`, onClick: () => changeMember(m) }),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', text: 'Remove', 'aria-label': `Remove ${m.username}`, onClick: () => removeMember(m) })),
      },
    ], items, { caption: 'Safe members', rowKey: (m) => m.user_id });
  }, 'Loading members…');

  async function changeMember(m) {
    const done = await formDialog({
      title: `Permissions of ${m.username}`,
      build: () => checkboxGroup('Permissions', 'permissions', PERMISSIONS, m.permissions || []),
      submit: (form) => api.put(`/safes/${safe.id}/members/${m.user_id}`, { permissions: checkedValues(form, 'permissions') }),
      submitLabel: 'Save permissions',
    });
    if (done) { notify(`Permissions of ${m.username} updated.`); reload(); }
  }

  async function removeMember(m) {
    const done = await confirmAction({
      title: `Remove ${m.username}?`,
      message: `${m.username} loses all access to the accounts in “${safe.name}”.`,
      confirmLabel: 'Remove member',
      action: () => api.del(`/safes/${safe.id}/members/${m.user_id}`),
    });
    if (done) { notify(`${m.username} removed from the safe.`); reload(); }
  }

  let users = null; // null: not loaded; false: not allowed to list users
  async function renderAddForm() {
    if (users === null) {
      try {
        users = await api.listAll('/users');
      } catch (e) {
        if (e.status === 401) return;
        users = false;
      }
    }
    const error = formError();
    const memberIds = new Set(members.map((m) => m.user_id));
    let userControl;
    if (users) {
      const candidates = users.filter((u) => !memberIds.has(u.id));
      userControl = select('user_id', [
        { value: '', label: candidates.length ? 'Choose a user…' : 'Every user is already a member', disabled: true },
        ...candidates.map((u) => ({ value: u.id, label: u.display_name && u.display_name !== u.username ? `${u.username} (${u.display_name})` : u.username })),
      ], { id: 'member-user', required: true, value: '' });
    } else {
      userControl = input('user_id', { id: 'member-user', type: 'number', min: '1', required: true, inputmode: 'numeric' });
    }
    const form = h('form', { id: 'member-add-form', class: 'form form-compact' },
      h('h3', { text: 'Add a member' }),
      error,
      field('User', userControl, users ? null : 'The user list is not available to you; enter the user id.'),
      checkboxGroup('Permissions', 'permissions', PERMISSIONS, ['connect']),
      h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Add member',
        disabled: Boolean(users) && users.every((u) => memberIds.has(u.id)) })));
    onSubmit(form, error, async () => {
      const userId = Number.parseInt(form.elements.user_id.value, 10);
      if (!Number.isInteger(userId)) { setFormError(error, { message: 'Choose a user to add.' }); return; }
      const permissions = checkedValues(form, 'permissions');
      if (permissions.length === 0) { setFormError(error, { message: 'Tick at least one permission.' }); return; }
      await api.put(`/safes/${safe.id}/members/${userId}`, { permissions });
      const u = users ? users.find((x) => x.id === userId) : null;
      notify(`${u ? u.username : 'User ' + userId} added to the safe.`);
      reload();
    }, 'Adding…');
    replace(addPanel, form);
  }
}
