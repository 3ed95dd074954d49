// The logged-in user and what they may see.
import { setCsrfToken } from './api.js';

const state = { user: null, managesSafes: false };

export function setSession(user, csrfToken) {
  state.user = user;
  setCsrfToken(csrfToken);
}

export function clearSession() {
  state.user = null;
  state.managesSafes = false;
  setCsrfToken(null);
}

export function currentUser() { return state.user; }

export function updateUser(user) { if (user) state.user = user; }

export function hasRole(...roles) {
  const mine = (state.user && state.user.roles) || [];
  return roles.some((r) => mine.includes(r));
}

/** vault_admin or superuser: manages safes, targets and accounts. */
export function isVaultAdmin() { return hasRole('vault_admin', 'superuser'); }

/** Whether the user holds `manage` on at least one safe (set after login). */
export function setManagesSafes(value) { state.managesSafes = Boolean(value); }
export function managesSafes() { return state.managesSafes; }

export const ROLE_LABELS = {
  superuser: 'Superuser',
  vault_admin: 'Vault admin',
  admin: 'Admin',
  auditor: 'Auditor',
  soc: 'SOC',
};

export const ROLES = Object.keys(ROLE_LABELS);
