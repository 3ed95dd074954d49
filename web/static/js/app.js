// The portal shell: session bootstrap, hash router, top bar and role-based navigation.
import * as api from './api.js';
import { h, replace } from './dom.js';
import {
  setSession, clearSession, currentUser, updateUser, hasRole, isVaultAdmin,
  setManagesSafes, managesSafes, ROLE_LABELS,
} from './session.js';
import { badge, emptyState, notify, clearToasts } from './ui.js';
import { startApprovalCount, stopApprovalCount, refreshApprovalCount } from './approval-count.js';
import * as loginView from './views/login.js';
import * as myAccountsView from './views/my-accounts.js';
import * as safesView from './views/safes.js';
import * as safeDetailView from './views/safe-detail.js';
import * as targetsView from './views/targets.js';
import * as accountsView from './views/accounts.js';
import * as usersView from './views/users.js';
import * as auditView from './views/audit.js';
import * as riskRulesView from './views/risk-rules.js';
import * as profileView from './views/profile.js';
import * as sessionsView from './views/sessions.js';
import * as terminalView from './views/terminal.js';
import * as playerView from './views/player.js';
import * as reviewQueueView from './views/review-queue.js';
import * as liveView from './views/live.js';
import * as accessRequestsView from './views/access-requests.js';
import * as reportsView from './views/reports.js';

const canSeeSafes = () => isVaultAdmin() || managesSafes();
let monitorsLive = false; // holds monitor_live on some safe
const canMonitorLive = () => hasRole('soc', 'superuser', 'vault_admin') || monitorsLive;

// Order = order in the navigation bar. `allowed` decides both the link and access to the page.
const ROUTES = [
  { path: 'my-accounts', title: 'My accounts', view: myAccountsView, nav: true, allowed: () => true },
  { path: 'terminal/:id', title: 'Terminal', view: terminalView, allowed: () => true },
  { path: 'access-requests', title: 'Access requests', view: accessRequestsView, nav: true, allowed: () => true },
  { path: 'sessions', title: 'Recordings', view: sessionsView, nav: true, allowed: () => true },
  { path: 'sessions/:id', title: 'Player', view: playerView, allowed: () => true },
  // Reviewing is decided by the server per safe (403); the link is for the roles that usually may.
  { path: 'review-queue', title: 'Review queue', view: reviewQueueView, nav: () => hasRole('auditor', 'superuser'), allowed: () => true },
  { path: 'live', title: 'Live sessions', view: liveView, nav: true, allowed: canMonitorLive },
  { path: 'safes', title: 'Safes', view: safesView, nav: true, allowed: canSeeSafes },
  { path: 'safes/:id', title: 'Safe', view: safeDetailView, allowed: canSeeSafes },
  { path: 'targets', title: 'Targets', view: targetsView, nav: true, allowed: isVaultAdmin },
  { path: 'accounts', title: 'Accounts', view: accountsView, nav: true, allowed: isVaultAdmin },
  { path: 'users', title: 'Users', view: usersView, nav: true, allowed: () => hasRole('superuser') },
  { path: 'audit', title: 'Audit log', view: auditView, nav: true, allowed: () => hasRole('auditor', 'superuser') },
  { path: 'reports', title: 'Reports', view: reportsView, nav: true, allowed: () => hasRole('auditor', 'superuser') },
  { path: 'risk-rules', title: 'Risk rules', view: riskRulesView, nav: true, allowed: () => hasRole('soc', 'auditor', 'superuser') },
  { path: 'profile', title: 'Profile', view: profileView, nav: true, allowed: () => true },
];

const DEFAULT_ROUTE = 'my-accounts';
const main = document.getElementById('main');
const topbar = document.getElementById('topbar');
let pendingRoute = null; // where to go after logging in

/** The hash route without its query (`#/sessions/x?t=5` → `sessions/x`). */
function currentPath() {
  const hash = window.location.hash;
  if (!hash.startsWith('#/')) return '';
  const q = hash.indexOf('?');
  return decodeURIComponent(q < 0 ? hash.slice(2) : hash.slice(2, q));
}

/** The hash route's query (`#/sessions?user=a` → URLSearchParams {user: a}). */
function currentQuery() {
  const hash = window.location.hash;
  const q = hash.indexOf('?');
  return new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
}

/** The full hash route with its query, to come back to after logging in. */
function currentRoute() {
  const hash = window.location.hash;
  return hash.startsWith('#/') ? hash.slice(2) : '';
}

export function navigate(path) {
  const target = '#/' + path;
  if (window.location.hash === target) route();
  else window.location.hash = target;
}

function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const r of ROUTES) {
    const pattern = r.path.split('/');
    if (pattern.length !== parts.length) continue;
    const params = {};
    const ok = pattern.every((seg, i) => {
      if (seg.startsWith(':')) { params[seg.slice(1)] = parts[i]; return true; }
      return seg === parts[i];
    });
    if (ok) return { route: r, params };
  }
  return null;
}

function renderLogin(message) {
  topbar.hidden = true;
  document.title = 'Sign in · Vigil';
  loginView.render(main, { message, onLoggedIn });
}

async function onLoggedIn(body) {
  await startSession(body);
  const user = currentUser();
  const next = pendingRoute && pendingRoute !== 'login' ? pendingRoute
    : (user.must_change_password ? 'profile' : DEFAULT_ROUTE);
  pendingRoute = null;
  navigate(next);
}

async function startSession(body) {
  setSession(body.user, body.csrf_token);
  setManagesSafes(false);
  monitorsLive = false;
  if (!isVaultAdmin() && !body.user.must_change_password) {
    // Members holding `manage` on a safe get the Safes page too.
    try {
      const safes = await api.listAll('/safes');
      setManagesSafes(safes.some((s) => (s.my_permissions || []).includes('manage')));
      monitorsLive = safes.some((s) => (s.my_permissions || []).includes('monitor_live'));
    } catch {
      setManagesSafes(false);
    }
  }
  renderTopbar();
  if (!body.user.must_change_password) startApprovalCount();
}

/** Re-reads the session (GET /me): roles, flags, CSRF token; redraws the top bar. */
async function refreshSession() {
  const body = await api.get('/me');
  await startSession(body);
}

function renderTopbar() {
  const user = currentUser();
  const nav = document.getElementById('nav');
  const links = ROUTES.filter((r) => (typeof r.nav === 'function' ? r.nav() : r.nav) && r.allowed() && (!user.must_change_password || r.path === 'profile'))
    .map((r) => h('a', { href: '#/' + r.path, class: 'nav-link', dataset: { route: r.path }, text: r.title }));
  replace(nav, links);
  const roles = (user.roles || []).map((r) => badge(ROLE_LABELS[r] || r, 'role'));
  replace(document.getElementById('userbox'),
    h('div', { class: 'user-id' },
      h('span', { class: 'user-name', id: 'current-user', text: user.display_name || user.username }),
      user.display_name && user.display_name !== user.username
        ? h('span', { class: 'user-login', text: user.username }) : null),
    h('span', { class: 'badge-list user-roles', id: 'current-roles' }, roles),
    h('button', { type: 'button', class: 'btn btn-ghost btn-on-dark', id: 'logout', onClick: logout, text: 'Log out' }));
  topbar.hidden = false;
}

function markActiveNav(path) {
  for (const link of document.querySelectorAll('#nav .nav-link')) {
    const active = path === link.dataset.route || path.startsWith(link.dataset.route + '/');
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

async function logout() {
  let failure = null;
  try {
    await api.post('/auth/logout', {}, { auth: false });
  } catch (error) {
    if (error.status !== 401) failure = error;
  }
  stopApprovalCount();
  clearSession();
  clearToasts();
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  pendingRoute = null;
  window.location.hash = '#/login';
  if (failure) notify(`The server could not end the session: ${failure.message}`, 'error');
}

function route() {
  const path = currentPath();
  if (!currentUser()) {
    if (path && path !== 'login') pendingRoute = currentRoute();
    if (path !== 'login') { window.location.hash = '#/login'; return; }
    renderLogin();
    return;
  }
  if (path === 'login' || path === '') { navigate(DEFAULT_ROUTE); return; }
  const found = match(path);
  main.replaceChildren();
  if (!found) {
    document.title = 'Not found · Vigil';
    markActiveNav('');
    main.append(emptyState('Page not found', `There is no page at “${path}”.`,
      h('a', { href: '#/' + DEFAULT_ROUTE, class: 'btn', text: 'Go to My accounts' })));
    return;
  }
  const { route: r, params } = found;
  // A one-time password must be replaced first: the server refuses everything else until then.
  if (currentUser().must_change_password && r.path !== 'profile') { navigate('profile'); return; }
  markActiveNav(path);
  refreshApprovalCount();
  document.title = `${r.title} · Vigil`;
  if (!r.allowed()) {
    main.append(emptyState('No access', 'Your roles do not include access to this page. Ask a Vigil superuser if you need it.'));
    return;
  }
  r.view.render(main, { params, query: currentQuery(), navigate, user: currentUser(), refreshTopbar: renderTopbar, refreshSession });
  if (document.activeElement === document.body || !main.contains(document.activeElement)) {
    main.focus({ preventScroll: true });
  }
}

api.setUnauthenticatedHandler(() => {
  if (!currentUser()) return;
  stopApprovalCount();
  clearSession();
  clearToasts();
  for (const dialog of document.querySelectorAll('dialog')) dialog.close();
  const path = currentPath();
  pendingRoute = path && path !== 'login' ? currentRoute() : null;
  topbar.hidden = true;
  renderLogin('Your session has ended. Please sign in again.');
  if (currentPath() !== 'login') history.replaceState(null, '', '#/login');
});

api.setPasswordChangeRequiredHandler(() => {
  const user = currentUser();
  if (!user) return;
  if (!user.must_change_password) updateUser({ ...user, must_change_password: true });
  if (currentPath() !== 'profile') navigate('profile');
});

document.getElementById('skip-link').addEventListener('click', (event) => {
  event.preventDefault();
  main.focus();
});

async function boot() {
  try {
    const body = await api.get('/me', { auth: false });
    await startSession(body);
  } catch (error) {
    clearSession();
    if (error.status !== 401) {
      const path = currentPath();
      if (path && path !== 'login') pendingRoute = currentRoute();
      renderLogin(error.status === 0 ? error.message : null);
      if (currentPath() !== 'login') history.replaceState(null, '', '#/login');
      window.addEventListener('hashchange', route);
      return;
    }
  }
  window.addEventListener('hashchange', route);
  route();
}

boot();
