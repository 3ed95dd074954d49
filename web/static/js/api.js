// Fetch wrapper for the Vigil REST API (docs/api.md): JSON in and out, the CSRF header on
// every state-changing request, errors normalised to ApiError, 401 → the login view.

const BASE = '/api/v1';
const SAFE_METHODS = new Set(['GET', 'HEAD']);

let csrfToken = null;
let onUnauthenticated = null;
let onPasswordChangeRequired = null;

/** An API failure: `status` (0 for network errors), `code` (machine code), `message` (human). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

export function setCsrfToken(token) { csrfToken = token || null; }
export function getCsrfToken() { return csrfToken; }

/** `fn(error)` is called for a 401 on any request that does not opt out with `{auth: false}`. */
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }

/** `fn(error)` is called when the server refuses a request until the one-time password is changed. */
export function setPasswordChangeRequiredHandler(fn) { onPasswordChangeRequired = fn; }

const FALLBACK_MESSAGES = {
  400: 'The request was not accepted.',
  401: 'Your session has ended. Please log in again.',
  403: 'You are not allowed to do that.',
  404: 'Not found.',
  409: 'That conflicts with existing data.',
  413: 'The request is too large.',
  500: 'The server had an internal error.',
  502: 'The server is unreachable.',
  503: 'The server is unavailable.',
};

async function parseError(response) {
  let code = 'http_' + response.status;
  let message = FALLBACK_MESSAGES[response.status] || `Request failed (HTTP ${response.status}).`;
  try {
    const body = await response.json();
    if (body && body.error) {
      if (typeof body.error.code === 'string') code = body.error.code;
      if (typeof body.error.message === 'string' && body.error.message) message = body.error.message;
    }
  } catch {
    // Not JSON: keep the fallback.
  }
  return new ApiError(response.status, code, message);
}

/**
 * request('POST', '/safes', {name: 'x'}) → parsed JSON (null for 204).
 * options.auth = false: a 401 is returned to the caller only (login form).
 */
export async function request(method, path, body, options = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
  if (!SAFE_METHODS.has(method)) {
    headers['Content-Type'] = 'application/json';
    if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
    if (body !== undefined || method !== 'DELETE') init.body = JSON.stringify(body === undefined ? {} : body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, 'network_error', 'Cannot reach the Vigil server. Check your connection and try again.');
  }
  if (!response.ok) {
    const error = await parseError(response);
    if (response.status === 401 && options.auth !== false && onUnauthenticated) onUnauthenticated(error);
    if (error.code === 'password_change_required' && onPasswordChangeRequired) onPasswordChangeRequired(error);
    throw error;
  }
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'invalid_response', 'The server sent a response that is not JSON.');
  }
}

export const get = (path, options) => request('GET', path, undefined, options);
export const post = (path, body, options) => request('POST', path, body, options);
export const put = (path, body, options) => request('PUT', path, body, options);
export const patch = (path, body, options) => request('PATCH', path, body, options);
export const del = (path, options) => request('DELETE', path, undefined, options);

/** Items of a list response (`{items: [...]}` or a bare array). */
export function itemsOf(body) {
  if (Array.isArray(body)) return body;
  return (body && Array.isArray(body.items)) ? body.items : [];
}

/** Every item of a keyset-paginated list, following `next_after`. */
export async function listAll(path, params = {}) {
  const items = [];
  let after = null;
  for (let page = 0; page < 1000; page += 1) {
    const query = new URLSearchParams({ ...params, limit: '500' });
    if (after !== null && after !== undefined) query.set('after', String(after));
    const body = await get(`${path}?${query}`);
    items.push(...itemsOf(body));
    after = body && !Array.isArray(body) ? body.next_after : null;
    if (after === null || after === undefined) break;
  }
  return items;
}
