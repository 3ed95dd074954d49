// The "Risk rules" page: a real `vigil serve` with the default rules file, Chromium. The SOC
// (here an auditor and the superuser) sees the active rules; a user without those roles gets no
// link and no page.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { VigilServer, BrowserSession, ensureVendor, loginThroughPortal, apiCall } from './harness.mjs';

const server = new VigilServer({ name: 'vigil-risk-rules' });
const session = new BrowserSession('risk-rules');
let page;

describe('risk rules page', { timeout: 300_000 }, () => {
  before(async () => {
    ensureVendor();
    await server.start();
    page = await session.launch();
  });
  after(async () => {
    await session.close();
    await server.stop();
  });

  it('shows the active default rules to an auditor, with their patterns and actions', async () => {
    await loginThroughPortal(page, server.url, server.admin.username, server.admin.password);
    const name = `aud-${randomBytes(3).toString('hex')}`;
    const password = `Init-${randomBytes(6).toString('hex')}`;
    await apiCall(page, 'POST', '/users', { username: name, roles: ['auditor'], password });
    const plainName = `plain-${randomBytes(3).toString('hex')}`;
    await apiCall(page, 'POST', '/users', { username: plainName, roles: [], password });
    await page.click('#logout');
    await page.locator('#login-form').waitFor();

    await loginThroughPortal(page, server.url, name, password);
    await page.click('#nav a[data-route="risk-rules"]');
    await page.locator('#risk-rules-table table').waitFor();
    const row = page.locator('#risk-rules-table tr', { hasText: 'rm-rf-root' });
    await row.waitFor();
    const text = await row.innerText();
    assert.match(text, /Recursive delete of the root file system/);
    assert.match(text, /critical/);
    assert.match(text, /block/);
    assert.match(await page.locator('#risk-rules-table tr', { hasText: 'long-session' }).innerText(), /longer than 14400 s/);
    assert.match(await page.locator('#risk-rules-summary').innerText(), /default_rules\.yaml/);
    await session.screenshot('auditor-view');
    await page.click('#logout');
    await page.locator('#login-form').waitFor();

    await loginThroughPortal(page, server.url, plainName, password);
    assert.equal(await page.locator('#nav a[data-route="risk-rules"]').count(), 0);
    await session.screenshot('plain-user-no-link');
    assert.deepEqual(session.problems, []);
  });
});
