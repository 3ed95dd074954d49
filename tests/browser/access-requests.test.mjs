// Browser test of dual authorization in the portal (issue 8): Connect on an account whose safe
// requires approval opens the access request form (a bad window shows the server's error in the
// form), the request appears under "My requests", the approver sees it under "Waiting for my
// approval" and approves it with a comment from the keyboard, and then Connect gives the ssh
// command.
//
//   npm ci && npm run build:web && VIGIL_BIN=build/server/vigil node --test tests/browser/access-requests.test.mjs
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import {
  VIGIL_BIN, VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall, createStepper } from './harness.mjs';

const STEP_TIMEOUT_MS = 120_000;
const server = new VigilServer({ name: 'vigil-access-requests', extraConfig: ['ssh:', '  address: 127.0.0.1', '  port: 0'] });
const session = new BrowserSession('access-requests');
const REQUESTER = `req-${randomBytes(3).toString('hex')}`;
let requesterPassword = `Init-${randomBytes(6).toString('hex')}`;
let page;
let account;

const steps = createStepper(STEP_TIMEOUT_MS, (name) => session.screenshot(name));
const { step } = steps;

async function logout() {
  await page.click('#logout');
  await page.locator('#login-form').waitFor();
}

describe('Portal: access requests (dual authorization)', { timeout: 15 * 60_000 }, () => {
  it('vigil serve starts and Chromium launches', { timeout: 240_000 }, async () => {
    try {
      assert.ok(existsSync(VIGIL_BIN), `no Vigil binary at ${VIGIL_BIN} (set VIGIL_BIN)`);
      ensureVendor();
      await server.start();
      page = await session.launch();
    } catch (error) {
      steps.fail();
      throw error;
    }
  });

  after(async () => {
    try {
      await session.close();
    } finally {
      await server.stop();
      if (steps.failed) process.stderr.write(`${server.tail()}\n`);
    }
  });

  step('the superuser sets up a vendor safe that requires one approval by its managers (API)', async () => {
    server.admin.password = await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const safe = await apiCall(page, 'POST', '/safes', { name: 'Vendors', policy: { require_dual_authorization: true } });
    const target = await apiCall(page, 'POST', '/targets', { name: 'db01', protocol: 'ssh', address: '127.0.0.1', port: 1 });
    account = await apiCall(page, 'POST', '/accounts', {
      safe_id: safe.id, target_id: target.id, username: 'oracle', secret_kind: 'password',
      secret: `S-${randomBytes(9).toString('hex')}`,
    });
    const user = await apiCall(page, 'POST', '/users', { username: REQUESTER, roles: [], password: requesterPassword });
    const me = await apiCall(page, 'GET', '/me');
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${user.id}`, { permissions: ['connect'] });
    await apiCall(page, 'PUT', `/safes/${safe.id}/members/${me.user.id}`, { permissions: ['manage'] });
    const c = await apiCall(page, 'PUT', `/safes/${safe.id}/compliance`, { approvals_needed: 1, approver_permission: 'manage' });
    assert.equal(c.requires_approval, true);
    // The safe page shows the approval and retention panel.
    await page.goto(`${server.url}#/safes/${safe.id}`);
    await page.locator('#compliance-form').waitFor();
    assert.match(await page.locator('#compliance-effective').textContent(), /kept 90 days/);
    await session.screenshot('safe-compliance');
    await logout();
  });

  step('Connect on the account opens the request form; a window in the past is refused in the form', async () => {
    requesterPassword = await loginThroughPortal(page, server.url, REQUESTER, requesterPassword);
    await page.goto(`${server.url}#/my-accounts`);
    await page.locator(`button[data-connect="${account.id}"]`).click();
    await page.locator('#access-request-form').waitFor();
    assert.match(await page.locator('#access-required').textContent(), /approval required: request access in the portal/);
    assert.equal(await page.evaluate(() => document.activeElement.id), 'access-reason', 'focus is on the reason');
    await page.keyboard.type('rotate the listener certificate');
    await page.fill('#access-ticket', 'CHG-7731');
    await page.fill('#access-from', '2020-01-01T10:00');
    await page.fill('#access-to', '2020-01-01T12:00');
    await page.press('#access-ticket', 'Enter');
    await page.locator('#access-request-form .form-error:not([hidden])').waitFor();
    assert.match(await page.locator('#access-request-form .form-error').textContent(), /window_to: must be in the future/);
    await session.screenshot('request-error');
  });

  step('a valid request is sent from the keyboard and listed as pending under My requests', async () => {
    // The form's defaults: now until two hours from now.
    const plus = (h) => {
      const d = new Date(Date.now() + h * 3600_000);
      const p = (n) => String(n).padStart(2, '0');
      return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
    };
    await page.fill('#access-from', plus(0));
    await page.fill('#access-to', plus(2));
    await page.press('#access-ticket', 'Enter');
    await page.locator('#connect-dialog .state-title', { hasText: 'Access requested' }).waitFor();
    await session.screenshot('request-sent');
    await page.click('#access-requests-link');
    await page.locator('#my-requests table').waitFor();
    const row = page.locator('#my-requests tbody tr').first();
    assert.match(await row.innerText(), /oracle@db01/);
    assert.match(await row.innerText(), /pending 0\/1/);
    assert.match(await row.innerText(), /CHG-7731/);
    await page.locator('#awaiting-requests .state-title', { hasText: 'Nothing to approve' }).waitFor();
    await session.screenshot('my-requests');
    await logout();
  });

  step('the approver approves it with a comment, from the keyboard', async () => {
    await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    // The approver is told in the top bar: one request awaits their decision.
    await page.locator('#nav-awaiting-count', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
    assert.match(await page.locator('#nav a[data-route="access-requests"]').getAttribute('aria-label'), /1 awaiting your decision/);
    await session.screenshot('approver-notified');
    await page.click('#nav a[data-route="access-requests"]');
    await page.locator('#awaiting-requests table').waitFor();
    const approve = page.locator('#awaiting-requests button[data-approve]').first();
    assert.match(await page.locator('#awaiting-requests tbody tr').first().innerText(), new RegExp(REQUESTER));
    await approve.focus();
    await page.keyboard.press('Enter');
    await page.locator('#decision-comment').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement.id), 'decision-comment');
    await page.keyboard.type('ok for the change window');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');  // the dialog's Approve button
    await page.locator('#decision-comment').waitFor({ state: 'detached' });
    await page.locator('#awaiting-requests .state-title', { hasText: 'Nothing to approve' }).waitFor();
    await page.locator('#nav-awaiting-count').waitFor({ state: 'detached', timeout: 10_000 });
    await session.screenshot('approved');
    await logout();
  });

  step('the requester sees the approval and Connect now gives the ssh command', async () => {
    requesterPassword = await loginThroughPortal(page, server.url, REQUESTER, requesterPassword);
    await page.goto(`${server.url}#/access-requests`);
    const row = page.locator('#my-requests tbody tr').first();
    await row.waitFor();
    assert.match(await row.innerText(), /approved/);
    assert.match(await row.innerText(), /ok for the change window/);
    await page.goto(`${server.url}#/my-accounts`);
    await page.locator(`button[data-connect="${account.id}"]`).click();
    await page.locator('#launch-command').waitFor();
    assert.match((await page.locator('#launch-command').textContent()).trim(), /^ssh (-p \d+ )?\S+@\S+$/);
    await session.screenshot('connect-after-approval');
    await page.keyboard.press('Escape');
    assert.deepEqual(session.problems, []);
  });
});
