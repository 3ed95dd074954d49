// Profile: the user's SSH public keys (for identity logins without a password) and how to log
// in with them: ssh -p <port> <you>%<account>%<target>@<vigil host>.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import {
  dataTable, emptyState, field, input, formError, setFormError, onSubmit, notify, confirmAction, loadInto,
} from '../ui.js';

const MAX_KEY_BYTES = 16384;

export function sshKeysPanel(user) {
  const list = h('div', { id: 'ssh-keys-list' });
  const section = h('section', { class: 'panel', id: 'ssh-keys-panel', 'aria-labelledby': 'ssh-keys-title' },
    h('h2', { id: 'ssh-keys-title', text: 'SSH public keys' }),
    identityLoginHelp(user),
    list,
    addKeyForm(() => reload()));
  const reload = loadInto(list, async () => api.itemsOf(await api.get('/me/ssh-keys')), (keys) => keyTable(keys, () => reload()),
    'Loading keys…');
  return section;
}

function identityLoginHelp(user) {
  const host = window.location.hostname || 'vigil.example';
  const example = `ssh -p <port> ${user.username}%<account>%<target>@${host}`;
  return h('div', { class: 'help-box', id: 'identity-login-help' },
    h('p', {}, 'Besides the one-time command from “My accounts”, you can log in to an account with your own ' +
      'Vigil identity. Name the account and the target in the user name, separated by %:'),
    h('pre', { class: 'command', id: 'identity-login-syntax' }, h('code', { text: example })),
    h('p', { class: 'muted small' },
      'For example ', h('code', { text: `${user.username}%root%web01` }),
      ' opens web01 as root. ', h('code', { text: '<port>' }),
      ' is Vigil’s SSH port (the one in the Connect command). You authenticate with your Vigil password or one ' +
      'of the keys below, plus your authenticator code when two-factor authentication is on.'));
}

function keyTable(keys, reload) {
  if (keys.length === 0) {
    return emptyState('No keys yet', 'Add the public half of a key you use with ssh (for example the line in ~/.ssh/id_ed25519.pub).');
  }
  return dataTable([
    { label: 'Algorithm', class: 'mono', render: (k) => k.algorithm },
    { label: 'Fingerprint', class: 'mono wrap', render: (k) => k.fingerprint },
    { label: 'Comment', render: (k) => k.comment },
    { label: 'Added', render: (k) => formatTime(k.created_at) },
    {
      label: 'Actions',
      class: 'actions',
      render: (k) => h('button', {
        type: 'button', class: 'btn btn-small btn-danger-ghost', dataset: { deleteKey: String(k.id) },
        'aria-label': `Delete key ${k.fingerprint}`, text: 'Delete',
        onClick: async () => {
          const done = await confirmAction({
            title: 'Delete this SSH key?',
            message: `${k.algorithm} ${k.fingerprint}${k.comment ? ` (${k.comment})` : ''} will no longer log you in.`,
            confirmLabel: 'Delete key',
            action: () => api.del(`/me/ssh-keys/${k.id}`),
          });
          if (done) {
            notify('SSH key deleted.');
            reload();
          }
        },
      }),
    },
  ], keys, { caption: 'Your SSH public keys', rowKey: (k) => k.id });
}

function addKeyForm(onAdded) {
  const error = formError();
  error.id = 'ssh-key-error';
  const key = h('textarea', {
    name: 'public_key', id: 'ssh-key-text', rows: '3', required: true, spellcheck: 'false', autocomplete: 'off',
    class: 'mono', placeholder: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA… you@laptop',
  });
  const comment = input('comment', { id: 'ssh-key-comment', maxlength: '200', placeholder: 'work laptop' });
  const form = h('form', { class: 'form', id: 'ssh-key-form' },
    h('h3', { text: 'Add a key' }),
    error,
    field('Public key', key, 'One line as in a .pub file: algorithm, base64 key and an optional comment.'),
    field('Comment (optional)', comment, 'Shown in this list; defaults to the comment in the key line.'),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Add key' })));
  onSubmit(form, error, async () => {
    const line = key.value.trim();
    if (!line) {
      setFormError(error, { message: 'Paste the public key line first.' });
      key.focus();
      return;
    }
    if (line.length > MAX_KEY_BYTES) {
      setFormError(error, { message: 'That is too long for a public key line.' });
      return;
    }
    if (/PRIVATE KEY/.test(line)) {
      // Caught here so the private key never leaves the browser.
      key.value = '';
      setFormError(error, { message: 'That is a private key. Paste the public key (the .pub file) instead, and keep the private key to yourself.' });
      return;
    }
    const body = { public_key: line };
    if (comment.value.trim()) body.comment = comment.value.trim();
    try {
      await api.post('/me/ssh-keys', body);
    } catch (e) {
      key.focus();
      throw e;
    }
    form.reset();
    notify('SSH key added.');
    onAdded();
  }, 'Adding…');
  return form;
}
