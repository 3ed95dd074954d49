// Profile: who I am, change my password, set up my authenticator (TOTP), my SSH public keys.
import * as api from '../api.js';
import { h, replace, formatTime } from '../dom.js';
import { currentUser, updateUser, ROLE_LABELS } from '../session.js';
import { pageHeader, badge, badges, field, input, formError, setFormError, onSubmit, notify } from '../ui.js';
import { sshKeysPanel } from './ssh-keys.js';

export function render(root, ctx) {
  const { refreshTopbar, refreshSession } = ctx;
  const user = currentUser();
  const mfaSection = h('section', { class: 'panel', id: 'mfa-panel', 'aria-labelledby': 'mfa-title' });
  const onPasswordChanged = async () => {
    try {
      await refreshSession(); // clears must_change_password and re-opens the other pages
    } catch { /* the change itself succeeded */ }
    if (user.must_change_password) render(root, ctx);
    notify('Password changed.');
  };
  replace(root,
    pageHeader('Profile', 'Your account, password and sign-in security.'),
    user.must_change_password
      ? h('div', { class: 'notice notice-warn', role: 'alert', id: 'must-change-password',
        text: 'You signed in with a one-time password. Choose your own password to continue; ' +
          'the other pages open once it is changed.' })
      : null,
    h('div', { class: 'two-col' },
      h('div', { class: 'stack' }, identityPanel(user), passwordPanel(user, onPasswordChanged)),
      mfaSection),
    user.must_change_password ? null : sshKeysPanel(user));
  if (user.must_change_password) {
    replace(mfaSection, h('h2', { id: 'mfa-title', text: 'Two-factor authentication' }),
      h('p', { class: 'muted', text: 'Set up an authenticator after you have changed your password.' }));
  } else {
    renderMfa(mfaSection, refreshTopbar);
  }
}

function identityPanel(user) {
  const row = (label, value) => [h('dt', { text: label }), h('dd', {}, value)];
  return h('section', { class: 'panel', 'aria-labelledby': 'identity-title' },
    h('h2', { id: 'identity-title', text: 'Account' }),
    h('dl', { class: 'facts' },
      row('Username', h('span', { class: 'mono', text: user.username })),
      row('Display name', user.display_name || '—'),
      row('Roles', badges((user.roles || []).map((r) => ROLE_LABELS[r] || r), 'role') || 'none'),
      row('Directory', user.source === 'ldap' ? 'LDAP' : 'Local account'),
      row('Member since', formatTime(user.created_at))));
}

function passwordPanel(user, onChanged) {
  const section = h('section', { class: 'panel', id: 'password-panel', 'aria-labelledby': 'password-title' },
    h('h2', { id: 'password-title', text: 'Password' }));
  if (user.source === 'ldap') {
    section.append(h('p', { class: 'muted', text: 'Your password is managed by your organisation’s directory (LDAP). Change it there.' }));
    return section;
  }
  const error = formError();
  const form = h('form', { id: 'password-form', class: 'form' },
    error,
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.username, hidden: true, readonly: true }),
    field('Current password', input('current_password', { type: 'password', required: true, autocomplete: 'current-password', id: 'current-password' })),
    field('New password', input('new_password', { type: 'password', required: true, autocomplete: 'new-password', id: 'new-password', minlength: '12' }),
      'At least 12 characters.'),
    field('Repeat new password', input('repeat_password', { type: 'password', required: true, autocomplete: 'new-password', id: 'repeat-password' })),
    h('div', { class: 'form-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', text: 'Change password' })));
  onSubmit(form, error, async () => {
    const current = form.elements.current_password.value;
    const next = form.elements.new_password.value;
    if (!current || !next) { setFormError(error, { message: 'Fill in your current and your new password.' }); return; }
    if (next !== form.elements.repeat_password.value) {
      setFormError(error, { message: 'The new passwords do not match.' });
      form.elements.repeat_password.focus();
      return;
    }
    await api.post('/me/password', { current_password: current, new_password: next });
    form.reset();
    await onChanged();
  }, 'Changing…');
  section.append(form);
  return section;
}

function renderMfa(section, refreshTopbar) {
  const user = currentUser();
  const status = user.mfa_enrolled
    ? h('p', { id: 'mfa-status' }, badge('Enabled', 'ok'), ' Signing in asks for a code from your authenticator app.')
    : h('p', { id: 'mfa-status' }, badge('Not set up', 'warn'), ' Protect your account with a second factor: a code from an authenticator app.');
  if (user.mfa_enrolled) {
    replace(section, h('h2', { id: 'mfa-title', text: 'Two-factor authentication' }), status,
      h('p', { class: 'muted small', text: 'Lost your device? A Vigil superuser can reset your authenticator so that you can set up a new one.' }));
    return;
  }
  const error = formError();
  const start = h('button', { type: 'button', class: 'btn btn-primary', id: 'mfa-enroll', text: 'Set up authenticator' });
  const body = h('div', { id: 'mfa-body' });
  replace(section, h('h2', { id: 'mfa-title', text: 'Two-factor authentication' }), status, error, start, body);

  start.addEventListener('click', async () => {
    setFormError(error, null);
    start.disabled = true;
    start.textContent = 'Preparing…';
    try {
      const enrolment = await api.post('/me/mfa/enroll', {});
      start.hidden = true;
      renderEnrolment(body, enrolment, () => {
        updateUser({ ...currentUser(), mfa_enrolled: true });
        refreshTopbar();
      }, () => renderMfa(section, refreshTopbar));
    } catch (e) {
      if (e.status === 401) return;
      setFormError(error, e);
      start.disabled = false;
      start.textContent = 'Set up authenticator';
    }
  });
}

function renderEnrolment(body, { secret, otpauth_uri: uri }, onConfirmed, onCancel) {
  const qrHost = h('div', { class: 'qr', id: 'mfa-qr' }, h('span', { class: 'muted small', text: 'Drawing QR code…' }));
  drawQr(qrHost, uri);
  const error = formError();
  const code = input('code', { id: 'mfa-code', autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6,8}', maxlength: '8', required: true, class: 'input-code' });
  const form = h('form', { id: 'mfa-confirm-form', class: 'form form-compact' },
    error,
    field('Code from the app', code, 'Enter the 6-digit code the app shows now.'),
    h('div', { class: 'form-actions' },
      h('button', { type: 'submit', class: 'btn btn-primary', id: 'mfa-confirm', text: 'Confirm' }),
      h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel', onClick: onCancel })));

  replace(body,
    h('ol', { class: 'steps' },
      h('li', {}, 'Scan this QR code with your authenticator app (for example FreeOTP, Aegis, Google or Microsoft Authenticator).',
        qrHost),
      h('li', {}, 'Or add it by hand with this key (time-based, 6 digits, 30 seconds):',
        h('div', { class: 'secret-box' }, h('code', { id: 'totp-secret', class: 'secret', text: secret }),
          h('button', { type: 'button', class: 'btn btn-small', text: 'Copy', onClick: (e) => copy(secret, e.currentTarget) }))),
      h('li', {}, 'Enter the code the app shows to finish.', form)),
    h('details', { class: 'otpauth' },
      h('summary', { text: 'Show the setup link' }),
      h('code', { id: 'totp-uri', class: 'mono wrap', 'data-otpauth': uri, text: uri })),
    h('p', { class: 'muted small', text: 'This key is shown only now. Anyone who has it can generate your codes — do not share it.' }));
  code.focus();

  onSubmit(form, error, async () => {
    const value = code.value.replace(/\s+/g, '');
    if (!/^[0-9]{6,8}$/.test(value)) { setFormError(error, { message: 'Enter the 6-digit code from the app.' }); return; }
    let result;
    try {
      result = await api.post('/me/mfa/confirm', { code: value });
    } catch (e) {
      code.value = '';
      throw e;
    }
    if (result && result.user) updateUser(result.user);
    onConfirmed();
    replace(body, h('div', { class: 'notice notice-ok', role: 'status', id: 'mfa-done',
      text: 'Your authenticator is set up. From now on, signing in asks for a code from it.' }));
    const status = document.getElementById('mfa-status');
    if (status) replace(status, badge('Enabled', 'ok'), ' Signing in asks for a code from your authenticator app.');
    notify('Two-factor authentication is on.');
  }, 'Checking…');
}

async function drawQr(host, uri) {
  const lib = window.QRCode;
  if (!lib || typeof lib.toDataURL !== 'function') {
    replace(host, h('p', { class: 'muted small', text: 'The QR code cannot be drawn here; enter the key below by hand.' }));
    return;
  }
  try {
    const url = await lib.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 2, width: 208 });
    replace(host, h('img', { src: url, width: '208', height: '208', alt: 'QR code to add Vigil to your authenticator app' }));
  } catch {
    replace(host, h('p', { class: 'muted small', text: 'The QR code could not be drawn; enter the key below by hand.' }));
  }
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Select and copy';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 2000);
}
