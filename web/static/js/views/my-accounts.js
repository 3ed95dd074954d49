// "My accounts": the accounts the user may connect to.
import * as api from '../api.js';
import { h, replace } from '../dom.js';
import { pageHeader, loadInto, dataTable, emptyState, badge } from '../ui.js';

export function render(root) {
  const body = h('div', { id: 'my-accounts' });
  replace(root, pageHeader('My accounts', 'Privileged accounts you may use to open a session.'), body);
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
    ], accounts, { caption: 'Accounts you may connect to', rowKey: (a) => a.id });
  });
}
