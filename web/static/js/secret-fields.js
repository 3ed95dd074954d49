// The write-only secret of an account: a kind select and a password input or a key textarea.
// Values are read once on submit and cleared; nothing from the server is ever put back in them.
import { h } from './dom.js';
import { field, select } from './ui.js';

export const SECRET_KINDS = [
  { value: 'password', label: 'Password' },
  { value: 'private_key', label: 'Private key' },
];

export function secretFields() {
  const kind = select('secret_kind', SECRET_KINDS, { required: true });
  const password = h('input', { name: 'secret_password', type: 'password', autocomplete: 'new-password', spellcheck: 'false' });
  const key = h('textarea', {
    name: 'secret_key', rows: '6', class: 'mono', spellcheck: 'false', autocomplete: 'off',
    placeholder: '-----BEGIN OPENSSH PRIVATE KEY-----',
  });
  const passwordField = field('Password', password, 'Stored encrypted in the vault. It is never shown again.');
  const keyField = field('Private key', key, 'PEM / OpenSSH private key. Stored encrypted; never shown again.');
  const sync = () => {
    const isKey = kind.value === 'private_key';
    passwordField.hidden = isKey;
    keyField.hidden = !isKey;
  };
  kind.addEventListener('change', sync);
  sync();
  const wrapper = h('div', { class: 'secret-fields' }, field('Secret kind', kind), passwordField, keyField);
  return {
    element: wrapper,
    kind: () => kind.value,
    /** The entered secret, or '' */
    value: () => (kind.value === 'private_key' ? key.value : password.value),
    clear: () => { password.value = ''; key.value = ''; },
    reset: () => { kind.value = 'password'; password.value = ''; key.value = ''; sync(); },
  };
}
