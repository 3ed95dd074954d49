// "My accounts": the accounts the user may connect to, with Connect (a one-time ssh command) and
// Open in browser (the web terminal) for SSH accounts.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { pageHeader, loadInto, dataTable, emptyState, badge } from '../ui.js';
import { openConnectDialog } from '../connect-dialog.js';

export function render(root, { navigate }) {
  const body = h('div', { id: 'my-accounts' });
  replace(root, pageHeader('My accounts', 'Privileged accounts you may use to open a session.'), body);
  const openTerminal = (a) => navigate(`terminal/${a.id}`);
  loadInto(body, () => api.listAll('/my/accounts'), (accounts) => {
    if (accounts.length === 0) {
      return emptyState('You have no accounts yet',
        'Accounts appear here once a vault administrator (or a manager of a safe) adds you to a safe ' +
        'with the “connect” permission. Ask your Vigil vault administrator for access.');
    }
    return dataTable([
      { label: 'Target', render: (a) => h('strong', { text: a.target_name }) },
      { label: 'Protocol', render: (a) => badge(String(a.protocol || '').toUpperCase(), 'protocol') },
      { label: 'Address', class: 'mono', render: (a) => `${a.address}:${a.port}` },
      { label: 'Account', class: 'mono', render: (a) => a.username },
      { label: 'Safe', render: (a) => a.safe_name },
      {
        label: 'Actions',
        class: 'actions',
        render: (a) => (a.protocol === 'ssh'
          ? h('span', { class: 'button-row' },
            h('button', {
              type: 'button', class: 'btn btn-primary btn-small', dataset: { connect: String(a.id) },
              'aria-label': `Connect to ${a.username}@${a.target_name}`, text: 'Connect',
              onClick: () => openConnectDialog(a, { onOpenInBrowser: openTerminal }),
            }),
            h('button', {
              type: 'button', class: 'btn btn-small', dataset: { terminal: String(a.id) },
              'aria-label': `Open ${a.username}@${a.target_name} in the browser`, text: 'Open in browser',
              onClick: () => openTerminal(a),
            }))
          // databases: a client command line; RDP: a .rdp file for the person's RDP client
          : (a.protocol === 'tds' || a.protocol === 'postgres' || a.protocol === 'rdp')
            ? h('span', { class: 'button-row' },
              h('button', {
                type: 'button', class: 'btn btn-primary btn-small', dataset: { connect: String(a.id) },
                'aria-label': `Connect to ${a.username}@${a.target_name}`, text: 'Connect',
                onClick: () => openConnectDialog(a, { onOpenInBrowser: openTerminal }),
              }))
            : h('span', { class: 'muted small', text: 'Not available yet' })),
      },
    ], accounts, { caption: 'Accounts you may connect to', rowKey: (a) => a.id });
  });
}
