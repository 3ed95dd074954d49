// Sign-in: username + password, then a TOTP code when the server answers 401 mfa_required.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { setBusy } from '../ui.js';

export function render(root, { message, onLoggedIn }) {
  let totpStep = false;

  const error = h('div', { class: 'form-error', id: 'login-error', role: 'alert', hidden: true });
  const info = h('div', { class: 'form-info', id: 'login-info', role: 'status', hidden: !message, text: message || '' });

  const username = h('input', {
    id: 'login-username', name: 'username', type: 'text', autocomplete: 'username',
    autocapitalize: 'none', spellcheck: 'false', required: true, autofocus: true,
  });
  const password = h('input', {
    id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true,
  });
  const totp = h('input', {
    id: 'login-totp', name: 'totp', type: 'text', autocomplete: 'one-time-code', inputmode: 'numeric',
    pattern: '[0-9]{6,8}', maxlength: '8', 'aria-describedby': 'login-totp-hint',
  });
  const totpField = h('div', { class: 'field', id: 'login-totp-field', hidden: true },
    h('label', { for: 'login-totp', text: 'Authentication code' }),
    totp,
    h('p', { class: 'field-hint', id: 'login-totp-hint', text: 'The 6-digit code shown in your authenticator app.' }));

  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', id: 'login-submit', text: 'Sign in' });
  const form = h('form', { class: 'login-form', id: 'login-form', 'aria-labelledby': 'login-title' },
    error,
    info,
    h('div', { class: 'field' }, h('label', { for: 'login-username', text: 'Username' }), username),
    h('div', { class: 'field' }, h('label', { for: 'login-password', text: 'Password' }), password),
    totpField,
    submit);

  function showError(text) {
    error.textContent = text;
    error.hidden = !text;
  }

  function showInfo(text) {
    info.textContent = text || '';
    info.hidden = !text;
  }

  function setTotpStep(on) {
    totpStep = on;
    totpField.hidden = !on;
    totp.required = on;
    submit.textContent = on ? 'Verify and sign in' : 'Sign in';
    if (!on) totp.value = '';
  }

  // Changing who signs in starts over at the password step.
  username.addEventListener('input', () => { if (totpStep) { setTotpStep(false); showInfo(''); } });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    showError('');
    const body = { username: username.value.trim(), password: password.value };
    if (!body.username || !body.password) {
      showError('Enter your username and password.');
      (body.username ? password : username).focus();
      return;
    }
    const sentTotp = totpStep;
    if (sentTotp) {
      body.totp = totp.value.replace(/\s+/g, '');
      if (!/^[0-9]{6,8}$/.test(body.totp)) {
        showError('Enter the 6-digit code from your authenticator app.');
        totp.focus();
        return;
      }
    }
    setBusy(form, true, 'Signing in…');
    let result = null;
    let failure = null;
    try {
      result = await api.post('/auth/login', body, { auth: false });
    } catch (err) {
      failure = err;
    }
    setBusy(form, false);
    if (result) {
      password.value = '';
      totp.value = '';
      await onLoggedIn(result);
      return;
    }
    handleFailure(failure, sentTotp);
  });

  function handleFailure(err, sentTotp) {
    switch (err.code) {
      case 'mfa_required':
        if (sentTotp) {
          showError('That authentication code was not accepted. Wait for the next code in your app and try again.');
        } else {
          showInfo('Enter the code from your authenticator app to finish signing in.');
        }
        setTotpStep(true);
        totp.value = '';
        totp.focus();
        break;
      case 'invalid_credentials':
        if (sentTotp) {
          showError('The password or authentication code is incorrect. Codes can be used only once — wait for the next one.');
          totp.value = '';
          totp.focus();
        } else {
          showError('Invalid username or password.');
          password.value = '';
          password.focus();
        }
        break;
      case 'account_locked':
        showError(`This account is locked. ${err.message && !/^account.?locked$/i.test(err.message) ? err.message + ' ' : ''}Try again later, or ask a Vigil superuser to unlock it.`);
        setTotpStep(false);
        showInfo('');
        password.value = '';
        password.focus();
        break;
      default:
        showError(err.message || 'Sign-in failed.');
        password.focus();
    }
  }

  replace(root,
    h('div', { class: 'login-page' },
      h('section', { class: 'login-card' },
        h('div', { class: 'login-brand' },
          h('img', { src: '/favicon.svg', alt: '', width: '44', height: '44' }),
          h('div', {},
            h('p', { class: 'login-product', text: 'Vigil' }),
            h('p', { class: 'login-tagline', text: 'Privileged session manager' }))),
        h('h1', { id: 'login-title', text: 'Sign in' }),
        form),
      h('p', { class: 'login-footer', text: 'Access is monitored and recorded. Sign in only with your own credentials.' })));
  username.focus();
}
