// Shared page pieces: headers, loading/empty/error states, tables, form fields, dialogs, toasts.
import { h, append, replace, uid } from './dom.js';

export function pageHeader(title, subtitle, ...actions) {
  return h('header', { class: 'page-header' },
    h('div', {},
      h('h1', { text: title }),
      subtitle ? h('p', { class: 'page-subtitle', text: subtitle }) : null),
    actions.length ? h('div', { class: 'page-actions' }, actions) : null);
}

export function loadingState(text = 'Loading…') {
  return h('div', { class: 'state state-loading', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'spinner', 'aria-hidden': 'true' }), h('span', { text }));
}

export function emptyState(title, text, ...actions) {
  return h('div', { class: 'state state-empty' },
    h('p', { class: 'state-title', text: title }),
    text ? h('p', { class: 'state-text', text }) : null,
    actions.length ? h('div', { class: 'state-actions' }, actions) : null);
}

export function errorState(error, onRetry) {
  return h('div', { class: 'state state-error', role: 'alert' },
    h('p', { class: 'state-title', text: errorTitle(error) }),
    h('p', { class: 'state-text error-message', text: messageOf(error) }),
    onRetry ? h('div', { class: 'state-actions' },
      h('button', { type: 'button', class: 'btn', onClick: onRetry, text: 'Try again' })) : null);
}

function errorTitle(error) {
  const status = error && error.status;
  if (status === 0) return 'Cannot reach the server';
  if (status === 403) return 'Not allowed';
  if (status === 404) return 'Not found';
  return 'Something went wrong';
}

export function messageOf(error) {
  if (!error) return '';
  return error.message || String(error);
}

/**
 * Shows a loading state in `container`, runs `load()`, then `render(result)` (which returns the
 * content) or an error state with a retry button. Returns a function that reloads.
 */
export function loadInto(container, load, render, loadingText) {
  const run = async () => {
    replace(container, loadingState(loadingText));
    try {
      const result = await load();
      replace(container, render(result));
    } catch (error) {
      if (error && error.status === 401) return; // the app is already showing the login view
      replace(container, errorState(error, run));
    }
  };
  run();
  return run;
}

/** columns: [{label, render(row) → node|text, class?}] */
export function dataTable(columns, rows, { caption, rowKey, rowClass } = {}) {
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'data-table' },
      caption ? h('caption', { class: 'visually-hidden', text: caption }) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class, text: c.label })))),
      h('tbody', {}, rows.map((row) => h('tr', {
        class: rowClass ? rowClass(row) : null,
        dataset: rowKey ? { key: String(rowKey(row)) } : undefined,
      }, columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, cellContent(c.render(row)))))))));
}

function cellContent(value) {
  if (value === null || value === undefined || value === '') return h('span', { class: 'muted', text: '—' });
  return value;
}

export function badge(text, kind = 'neutral') {
  return h('span', { class: `badge badge-${kind}`, text });
}

export function badges(values, kind) {
  if (!values || values.length === 0) return null;
  return h('span', { class: 'badge-list' }, values.map((v) => badge(v, kind)));
}

// ---- forms -------------------------------------------------------------------------------

/** A labelled field: field('Name', h('input', {...}), 'hint'). */
export function field(label, control, hint) {
  if (!control.id) control.id = uid(control.name || 'field');
  const hintEl = hint ? h('p', { class: 'field-hint', id: uid('hint'), text: hint }) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: control.id, text: label }), control, hintEl);
}

export function input(name, attrs = {}) {
  return h('input', { name, type: 'text', ...attrs });
}

export function select(name, options, attrs = {}) {
  const { value, ...rest } = attrs;
  const el = h('select', { name, ...rest },
    options.map((o) => h('option', { value: String(o.value), text: o.label, disabled: o.disabled })));
  if (value !== undefined && value !== null) el.value = String(value);
  return el;
}

/** A fieldset of checkboxes: options [{value, label}] with `checked` values ticked. */
export function checkboxGroup(legend, name, options, checked = [], hint) {
  return h('fieldset', { class: 'checkbox-group' },
    h('legend', { text: legend }),
    h('div', { class: 'checkbox-row' }, options.map((o) => {
      const id = uid(name);
      return h('label', { class: 'checkbox', for: id },
        h('input', { type: 'checkbox', id, name, value: o.value, checked: checked.includes(o.value) }),
        h('span', { text: o.label }));
    })),
    hint ? h('p', { class: 'field-hint', text: hint }) : null);
}

export function checkbox(name, label, checked = false) {
  const id = uid(name);
  return h('label', { class: 'checkbox', for: id },
    h('input', { type: 'checkbox', id, name, checked }), h('span', { text: label }));
}

export function checkedValues(form, name) {
  return [...form.querySelectorAll(`input[type=checkbox][name="${name}"]`)]
    .filter((el) => el.checked).map((el) => el.value);
}

/** An (initially hidden) alert box for a form's error. */
export function formError() {
  return h('div', { class: 'form-error', role: 'alert', hidden: true });
}

export function setFormError(el, error) {
  el.textContent = error ? messageOf(error) : '';
  el.hidden = !error;
}

/** Disables the form's controls while `busy`; the submit button shows `busyLabel`. */
export function setBusy(form, busy, busyLabel = 'Saving…') {
  form.setAttribute('aria-busy', busy ? 'true' : 'false');
  for (const el of form.querySelectorAll('button, input, select, textarea')) {
    if (busy) {
      if (el.disabled) continue;
      el.dataset.busyDisabled = '1';
      el.disabled = true;
    } else if (el.dataset.busyDisabled) {
      delete el.dataset.busyDisabled;
      el.disabled = false;
    }
  }
  const submit = form.querySelector('button[type=submit]');
  if (submit) {
    if (busy) {
      submit.dataset.label = submit.textContent;
      submit.textContent = busyLabel;
    } else if (submit.dataset.label) {
      submit.textContent = submit.dataset.label;
      delete submit.dataset.label;
    }
  }
}

/**
 * Wires a form: on submit, clears the error, disables the form, awaits `handler(form)`; an
 * ApiError is shown in `errorEl`. The handler's result is returned to `after(result)`.
 */
export function onSubmit(form, errorEl, handler, busyLabel) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (form.getAttribute('aria-busy') === 'true') return;
    setFormError(errorEl, null);
    setBusy(form, true, busyLabel);
    try {
      await handler(form);
    } catch (error) {
      if (error && error.status === 401) return;
      setFormError(errorEl, error);
    } finally {
      setBusy(form, false);
    }
  });
}

// ---- toasts ------------------------------------------------------------------------------

/** Removes every toast (on logout, so nothing carries over to the next user). */
export function clearToasts() {
  const region = document.getElementById('toasts');
  if (region) region.replaceChildren();
}

export function notify(message, kind = 'success') {
  const region = document.getElementById('toasts');
  if (!region) return;
  const toast = h('div', { class: `toast toast-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    h('span', { text: message }),
    h('button', { type: 'button', class: 'toast-close', 'aria-label': 'Dismiss', text: '×',
      onClick: () => toast.remove() }));
  region.append(toast);
  while (region.children.length > 3) region.firstElementChild.remove(); // keep the latest few
  setTimeout(() => toast.remove(), 6000);
}

// ---- dialogs -----------------------------------------------------------------------------

/**
 * A modal <dialog> holding a form. `build(form)` returns the fields; `submit(form)` runs on
 * submit (errors shown inside the dialog); resolves with submit's result, or null if cancelled.
 */
export function formDialog({ title, description, build, submit, submitLabel = 'Save', danger = false }) {
  return new Promise((resolve) => {
    const titleId = uid('dialog-title');
    const errorEl = formError();
    const form = h('form', { class: 'dialog-form', novalidate: false });
    const cancel = h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel' });
    append(form,
      h('h2', { id: titleId, text: title }),
      description ? h('p', { class: 'dialog-text', text: description }) : null,
      errorEl,
      build ? build(form) : null,
      h('div', { class: 'form-actions' },
        h('button', { type: 'submit', class: danger ? 'btn btn-danger' : 'btn btn-primary', text: submitLabel }),
        cancel));
    const dialog = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
    let result = null;
    const close = () => dialog.close();
    cancel.addEventListener('click', close);
    dialog.addEventListener('close', () => { dialog.remove(); resolve(result); });
    onSubmit(form, errorEl, async () => {
      result = submit ? await submit(form) : true;
      if (result === undefined || result === null) result = true; // e.g. 204 No Content
      close();
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = form.querySelector('input:not([type=hidden]), select, textarea');
    if (first) first.focus();
  });
}

/** A yes/no confirmation; `action()` runs on confirm (errors are shown in the dialog). */
export function confirmAction({ title, message, confirmLabel = 'Confirm', danger = true, action }) {
  return formDialog({ title, description: message, submitLabel: confirmLabel, danger, submit: action });
}
