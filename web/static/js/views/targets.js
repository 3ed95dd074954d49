// Targets: list, create / edit form, delete.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import {
  pageHeader, loadInto, dataTable, emptyState, badge, field, input, select, formError, setFormError, onSubmit,
  notify, confirmAction,
} from '../ui.js';
import { PROTOCOLS, protocolLabel } from '../policy.js';

const defaultPort = (protocol) => (PROTOCOLS.find((p) => p.value === protocol) || PROTOCOLS[0]).port;

export function render(root) {
  const list = h('div', { id: 'targets-list' });
  const panel = h('section', { class: 'panel', id: 'target-form-panel', hidden: true, 'aria-labelledby': 'target-form-title' });
  const newButton = h('button', { type: 'button', class: 'btn btn-primary', id: 'target-new', text: 'New target',
    'aria-controls': 'target-form-panel', onClick: () => openForm(null) });
  replace(root,
    pageHeader('Targets', 'Servers and databases that Vigil opens sessions to.', newButton),
    panel,
    list);

  let editing = null; // the target being edited, or null for a new one
  const error = formError();
  const formTitle = h('h2', { id: 'target-form-title', text: 'New target' });
  const protocol = select('protocol', PROTOCOLS.map((p) => ({ value: p.value, label: p.label })), { required: true });
  const port = input('port', { type: 'number', min: '1', max: '65535', step: '1', required: true, class: 'input-narrow', value: '22' });
  const hostKey = input('host_key_fingerprint', { class: 'mono', spellcheck: 'false', autocomplete: 'off', placeholder: 'SHA256:…' });
  const certificate = input('certificate_fingerprint', { class: 'mono', spellcheck: 'false', autocomplete: 'off', placeholder: 'AB:CD:…' });
  const hostKeyField = field('Host key fingerprint', hostKey, 'OpenSSH style SHA256:… fingerprint of the server’s host key. Empty: not pinned.');
  const certificateField = field('Certificate fingerprint', certificate, 'SHA-256 fingerprint of the server’s TLS certificate (AB:CD:…). Empty: not pinned.');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', text: 'Create target' });
  const form = h('form', { id: 'target-form', class: 'form' },
    formTitle,
    error,
    h('div', { class: 'form-grid' },
      field('Name', input('name', { required: true, maxlength: '200', autocomplete: 'off' })),
      field('Protocol', protocol),
      field('Address', input('address', { required: true, maxlength: '255', autocomplete: 'off', spellcheck: 'false', placeholder: 'host name or IP address' })),
      field('Port', port),
      hostKeyField,
      certificateField,
      field('Description', h('textarea', { name: 'description', rows: '2', maxlength: '2000' }))),
    h('div', { class: 'form-actions' },
      submit,
      h('button', { type: 'button', class: 'btn btn-ghost', text: 'Cancel', onClick: closeForm })));
  panel.append(form);

  function syncProtocol() {
    const isSsh = protocol.value === 'ssh';
    hostKeyField.hidden = !isSsh;
    certificateField.hidden = isSsh;
  }
  let lastProtocol = protocol.value;
  protocol.addEventListener('change', () => {
    // Follow the protocol's default port unless the user typed another one.
    if (port.value === '' || Number(port.value) === defaultPort(lastProtocol)) port.value = String(defaultPort(protocol.value));
    lastProtocol = protocol.value;
    syncProtocol();
  });

  function openForm(target) {
    editing = target;
    form.reset();
    setFormError(error, null);
    formTitle.textContent = target ? `Edit target “${target.name}”` : 'New target';
    submit.textContent = target ? 'Save changes' : 'Create target';
    const values = target || { protocol: 'ssh', port: 22 };
    for (const name of ['name', 'protocol', 'address', 'port', 'host_key_fingerprint', 'certificate_fingerprint', 'description']) {
      const v = values[name];
      form.elements[name].value = v === undefined || v === null ? '' : String(v);
    }
    lastProtocol = protocol.value;
    syncProtocol();
    panel.hidden = false;
    form.elements.name.focus();
  }

  function closeForm() {
    panel.hidden = true;
    editing = null;
    newButton.focus();
  }

  onSubmit(form, error, async () => {
    const body = {
      name: form.elements.name.value.trim(),
      protocol: protocol.value,
      address: form.elements.address.value.trim(),
      port: Number.parseInt(port.value, 10),
      host_key_fingerprint: protocol.value === 'ssh' ? hostKey.value.trim() : '',
      certificate_fingerprint: protocol.value === 'ssh' ? '' : certificate.value.trim(),
      description: form.elements.description.value,
    };
    if (!body.name) { setFormError(error, { message: 'Enter a name.' }); return; }
    if (!body.address) { setFormError(error, { message: 'Enter the address (host name or IP address).' }); return; }
    if (!Number.isInteger(body.port) || body.port < 1 || body.port > 65535) {
      setFormError(error, { message: 'The port must be a number from 1 to 65535.' });
      return;
    }
    if (editing) {
      await api.patch(`/targets/${editing.id}`, body);
      notify(`Target “${body.name}” saved.`);
    } else {
      await api.post('/targets', body);
      notify(`Target “${body.name}” created.`);
    }
    panel.hidden = true;
    editing = null;
    reload();
  });

  async function remove(t) {
    const done = await confirmAction({
      title: `Delete target “${t.name}”?`,
      message: 'A target that accounts still use cannot be deleted.',
      confirmLabel: 'Delete target',
      action: () => api.del(`/targets/${t.id}`),
    });
    if (done) { notify(`Target “${t.name}” deleted.`); reload(); }
  }

  const reload = loadInto(list, () => api.listAll('/targets'), (targets) => {
    if (targets.length === 0) return emptyState('No targets yet', 'Add the servers and databases that administrators connect to with “New target”.');
    return dataTable([
      { label: 'Name', render: (t) => h('strong', { text: t.name }) },
      { label: 'Protocol', render: (t) => badge(protocolLabel(t.protocol), 'protocol') },
      { label: 'Address', class: 'mono', render: (t) => `${t.address}:${t.port}` },
      {
        label: 'Pinned fingerprint', class: 'mono fingerprint',
        render: (t) => t.host_key_fingerprint || t.certificate_fingerprint || h('span', { class: 'muted', text: 'not pinned' }),
      },
      { label: 'Description', class: 'col-wide', render: (t) => t.description },
      {
        label: '', class: 'col-actions', render: (t) => h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'btn btn-small', text: 'Edit', 'aria-label': `Edit target ${t.name}`, onClick: () => openForm(t) }),
          h('button', { type: 'button', class: 'btn btn-small btn-danger-ghost', text: 'Delete', 'aria-label': `Delete target ${t.name}`, onClick: () => remove(t) })),
      },
    ], targets, { caption: 'Targets', rowKey: (t) => t.id });
  });
}
