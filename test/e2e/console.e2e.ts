/**
 * The web in a real browser (Debian's Chromium): sign-in by email at /login (home realm discovery), and the admin
 * console an IT admin sets Entra up with: bootstrap link, tenant, the connection wizard with a metadata FILE upload
 * and a real test sign-in, GUID group rename, and the provisioning log with its live tail. Screenshots of the main
 * screens go to docs/screenshots/.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { createBootstrapLink } from '../../src/admin/bootstrap';
import { ensureScreenshotsDir, HttpTestIdp, launchChromium, startE2eGateway, type E2eGateway } from './helpers';

let gh: E2eGateway;
const idp = new HttpTestIdp();
let browser: Browser;
let admin: BrowserContext;
let page: Page;

const shot = (name: string) => page.screenshot({ path: path.join(ensureScreenshotsDir(), name), fullPage: true });

beforeAll(async () => {
  gh = await startE2eGateway();
  await idp.start();
  // The connection the wizard creates: the IdP answers with responses for it.
  idp.sp = { entityId: `${gh.baseUrl}/sso/contoso-entra/metadata`, acsUrl: `${gh.baseUrl}/sso/contoso-entra/acs` };
  browser = await launchChromium();
  admin = await browser.newContext({ viewport: { width: 1200, height: 820 } });
  page = await admin.newPage();
});

afterAll(async () => {
  await browser?.close();
  await idp.stop();
  await gh?.stop();
});

describe('admin console in Chromium', () => {
  it('opens with a one-time bootstrap link (which then stops working)', async () => {
    const { url } = await createBootstrapLink(gh.gateway.store.requestCache, gh.baseUrl);
    await page.goto(url);
    await page.getByRole('button', { name: 'Continue to the console' }).click();
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await page.getByText('No identity provider connected yet').waitFor();
    await shot('admin-dashboard-empty.png');

    const other = await browser.newContext();
    const stranger = await other.newPage();
    await stranger.goto(url);
    await stranger.getByRole('heading', { name: 'This link no longer works' }).waitFor();
    await stranger.goto(`${gh.baseUrl}/admin`);
    await stranger.getByRole('heading', { name: 'Sign in to the admin console' }).waitFor();
    await other.close();
  });

  it('creates a tenant with its owned domain', async () => {
    await page.getByRole('link', { name: 'Tenants', exact: true }).click();
    await page.getByLabel('Organisation name').fill('Contoso Ltd');
    await page.getByLabel('Short name').fill('contoso');
    await page.getByLabel('Owned email domains').fill('contoso.example');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByText('Tenant Contoso Ltd created').waitFor();
    await page.getByText('No connection yet').waitFor();
  });

  it('runs the connection wizard: Entra values, metadata FILE upload with preview, settings, test sign-in', async () => {
    await page.getByRole('link', { name: 'Add a connection' }).click();
    // Step 1: the values to paste into Entra, with copy buttons.
    await expectValue('Identifier (Entity ID)', `${gh.baseUrl}/sso/contoso-entra/metadata`);
    await expectValue('Reply URL (Assertion Consumer Service URL)', `${gh.baseUrl}/sso/contoso-entra/acs`);
    await expectValue('Sign on URL', `${gh.baseUrl}/sso/contoso-entra/login`);
    await expectValue('Logout Url (optional)', `${gh.baseUrl}/sso/contoso-entra/logout`);
    await admin.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: gh.baseUrl });
    await page.getByRole('button', { name: 'Copy' }).nth(1).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(`${gh.baseUrl}/sso/contoso-entra/acs`);
    await shot('wizard-1-entra-values.png');

    // Step 2: upload Entra's Federation Metadata XML file; see what was read before saving.
    await page.getByRole('link', { name: 'Next: import the IdP metadata' }).click();
    const file = path.join(gh.dataDir, 'Contoso Gatehouse.xml');
    writeFileSync(file, idp.metadataXml());
    await page.getByLabel('Federation Metadata XML').setInputFiles(file);
    await page.getByText('Contoso Gatehouse.xml').waitFor();
    await page.getByRole('button', { name: 'Read the file' }).click();
    const preview = page.getByTestId('metadata-preview');
    await preview.waitFor();
    expect(await preview.getByTestId('idp-entity-id').textContent()).toBe(idp.idp.entityId);
    expect(await preview.getByTestId('cert-fingerprint').count()).toBe(2);
    expect(await gh.gateway.store.connections.findBySlug('contoso-entra')).toBeNull();
    await shot('wizard-2-metadata-preview.png');
    await page.getByRole('button', { name: 'Save the connection' }).click();

    // Step 3: settings.
    await page.getByRole('heading', { name: '3. How people are matched to accounts' }).waitFor();
    await shot('wizard-3-settings.png');
    await page.getByRole('button', { name: 'Save and continue' }).click();

    // Step 4: a real test sign-in through the test IdP, back to the console with the claims.
    await page.getByRole('button', { name: 'Run a test sign-in' }).click();
    const result = page.getByTestId('test-result');
    await result.waitFor();
    expect(await result.textContent()).toContain('Signed in as adele.vance@contoso.example');
    expect(await result.textContent()).toContain('http://schemas.microsoft.com/identity/claims/objectidentifier');
    expect(await result.textContent()).toContain('A new account was created (JIT)');
    // Still the bootstrap admin: the test did not replace the console session.
    await page.getByText('Bootstrap admin').waitFor();
    await shot('wizard-4-test-result.png');
  });

  it('creates a SCIM token (shown once, copyable) and revokes it', async () => {
    await page.getByRole('link', { name: 'SCIM provisioning' }).click();
    await page.getByText('No token yet').waitFor();
    await page.getByRole('button', { name: 'Create a token' }).click();
    const secret = page.getByTestId('new-token');
    await secret.getByText('it is shown only once').waitFor();
    const token = await secret.getByRole('textbox').inputValue();
    await secret.getByRole('button', { name: 'Copy' }).click();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
    const scim = await fetch(`${gh.baseUrl}/scim/v2/Users`, { headers: { Authorization: `Bearer ${token}` } });
    expect(scim.status).toBe(200);
    await shot('scim-token-created.png');
    await page.reload(); // Re-sends the form: no second token, and the secret is not shown again.
    await page.getByText('That form was already sent').waitFor();
    expect(await page.getByTestId('new-token').count()).toBe(0);
    expect(await page.locator('tr[data-token]').count()).toBe(1);
    await page.getByRole('button', { name: 'Revoke' }).click();
    await page.getByText('is revoked').waitFor();
    await page.locator('tr[data-token] .badge', { hasText: 'revoked' }).waitFor();
    expect((await fetch(`${gh.baseUrl}/scim/v2/Users`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(401);
  });

  it('renames a GUID-named group inline', async () => {
    await page.goto(`${gh.baseUrl}/admin/tenants/contoso/groups`);
    const row = page.locator('tr[data-group="5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d"]');
    await row.getByText('name unknown').waitFor();
    await shot('groups-rename.png');
    await row.getByRole('textbox').fill('Engineering');
    await row.getByRole('button', { name: 'Rename' }).click();
    await page.getByText('is now “Engineering”').waitFor();
    await page.locator('tr[data-group="5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d"] strong', { hasText: 'Engineering' }).waitFor();
  });

  it('shows the sign-in in the log, and new entries appear live', async () => {
    await page.goto(`${gh.baseUrl}/admin/log`);
    await page.locator('td', { hasText: 'test sign in' }).first().waitFor();
    const before = await page.locator('tr[data-event-id]').count();
    // Someone signs in from the My Apps tile while the log is open.
    const user = await browser.newContext();
    const tile = await user.newPage();
    await tile.goto(`${idp.origin}/launch?relayState=${encodeURIComponent('/me')}`);
    await tile.waitForURL(`${gh.baseUrl}/me`);
    await user.close();
    await page.waitForFunction((n) => document.querySelectorAll('tr[data-event-id]').length > n, before, { timeout: 10_000 });
    await page.locator('tr.fresh').first().waitFor();
    await shot('log.png');
  });

  it('shows a user page with identity link, groups and their sources', async () => {
    await page.goto(`${gh.baseUrl}/admin/tenants/contoso/users`);
    await page.getByRole('link', { name: 'Adele Vance' }).click();
    await page.getByText('9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b').waitFor();
    await page.getByText('SAML sign-in').first().waitFor();
    await shot('user.png');
    await page.goto(`${gh.baseUrl}/admin`);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
    await shot('admin-dashboard.png');
  });
});

describe('sign-in by email in Chromium', () => {
  it('home realm discovery: /login -> email -> IdP -> /me', async () => {
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const p = await context.newPage();
    await p.goto(`${gh.baseUrl}/login?returnTo=/me`);
    await p.getByLabel('Work email').fill('adele.vance@contoso.example');
    await p.screenshot({ path: path.join(ensureScreenshotsDir(), 'login.png') });
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.waitForURL(`${gh.baseUrl}/me`);
    await p.getByRole('heading', { name: 'Adele Vance' }).waitFor();
    // The renamed group shows by name; the other is still an id, shown distinctly.
    await p.locator('li.chip:not(.unresolved)', { hasText: 'Engineering' }).waitFor();
    await p.locator('li.chip.unresolved', { hasText: 'c3e1a7b9-2d4f-4a6c-8e0b-1f3d5a7c9e2b' }).waitFor();
    await p.goto(`${gh.baseUrl}/login`);
    await p.getByLabel('Work email').fill('someone@unknown.example');
    await p.getByRole('button', { name: 'Continue' }).click();
    await p.getByText('We don’t know “unknown.example”').waitFor();
    await p.screenshot({ path: path.join(ensureScreenshotsDir(), 'login-unknown-domain.png') });
    await context.close();
  });

  it('a sign-in refused by the group filter shows an end-user page with the reference', async () => {
    const connection = (await gh.gateway.store.connections.findBySlug('contoso-entra'))!;
    await gh.admin('PATCH', `/api/connections/${connection.id}`, { jit: { requireAnyGroup: ['Finance'] } });
    const context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
    const p = await context.newPage();
    await p.goto(`${gh.baseUrl}/sso/contoso-entra/login?returnTo=/me`);
    await p.getByRole('heading', { name: 'You don’t have access to this application' }).waitFor();
    const reference = (await p.getByTestId('reference').textContent())!;
    await p.screenshot({ path: path.join(ensureScreenshotsDir(), 'refused-group.png') });
    await context.close();
    // The admin types the reference the person sent them into the log's filter and finds the attempt and its reason.
    await page.goto(`${gh.baseUrl}/admin/log`);
    await page.getByLabel('Reference').fill(reference.toLowerCase());
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.getByText(`ref ${reference}`).waitFor();
    await page.getByText('This account is not in any of the groups allowed to sign in to this application.').waitFor();
    expect(await page.locator('tr[data-event-id]').count()).toBe(1);
    await gh.admin('PATCH', `/api/connections/${connection.id}`, { jit: { requireAnyGroup: [] } });
  });
});

async function expectValue(label: string, value: string): Promise<void> {
  expect(await page.getByLabel(label, { exact: true }).inputValue()).toBe(value);
}

describe('leaving the console in Chromium', () => {
  it('signs out from the top bar; the console then asks for a sign-in again', async () => {
    await page.goto(`${gh.baseUrl}/admin`);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByText('You are signed out.').waitFor();
    await page.goto(`${gh.baseUrl}/admin/tenants`);
    await page.getByRole('heading', { name: 'Sign in to the admin console' }).waitFor();
  });
});
