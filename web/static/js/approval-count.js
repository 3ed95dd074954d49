// Approvers are told in the portal: the "Access requests" link of the top bar shows how many
// requests wait for my decision, refreshed on every page change and every 30 s while signed in;
// requests that arrived since the last look also pop a notice. (The SIEM is told through the
// audit rows of each request and decision.)
import * as api from './api.js';
import { h } from './dom.js';
import { notify } from './ui.js';

const REFRESH_MS = 30_000;
let timer = null;
let last = null;
let inFlight = false;

export async function refreshApprovalCount() {
  if (inFlight || !document.querySelector('#nav a[data-route="access-requests"]')) return;
  inFlight = true;
  let n;
  try {
    const body = await api.get('/access-requests?view=awaiting&status=pending&limit=100');
    n = (body.items || []).filter((r) => r.can_decide).length;
  } catch {
    return; // shown again on the next refresh; a signed-out session is handled by the API layer
  } finally {
    inFlight = false;
  }
  const link = document.querySelector('#nav a[data-route="access-requests"]');
  if (!link) return;
  let count = link.querySelector('.nav-count');
  if (!n) {
    count?.remove();
    link.removeAttribute('aria-label');
  } else {
    if (!count) {
      count = h('span', { class: 'nav-count', id: 'nav-awaiting-count' });
      link.append(count);
    }
    count.textContent = n > 99 ? '99+' : String(n);
    link.setAttribute('aria-label', `Access requests, ${n} awaiting your decision`);
  }
  if (last !== null && n > last) {
    notify(`${n - last} new access request${n - last > 1 ? 's' : ''} awaiting your decision`, 'success');
  }
  last = n;
}

export function startApprovalCount() {
  stopApprovalCount();
  timer = setInterval(refreshApprovalCount, REFRESH_MS);
  refreshApprovalCount();
}

export function stopApprovalCount() {
  if (timer) clearInterval(timer);
  timer = null;
  last = null;
}
