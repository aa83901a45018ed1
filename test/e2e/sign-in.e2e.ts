/**
 * Sign-in in a real browser (Debian's Chromium): SP-initiated from the login URL, IdP-initiated from the IdP's
 * tile, a refused sign-in's error page, forward-auth with the browser's session, and sign-out.
 * Gatehouse runs on localhost and the IdP on 127.0.0.1, two different sites, so the ACS POST is cross-site exactly
 * as with a real IdP: the SameSite=Lax pre-login cookie would not reach it, and must not be needed.
 */
import path from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { ensureScreenshotsDir, HttpTestIdp, launchChromium, startE2eGateway, type E2eGateway } from './helpers';

let gh: E2eGateway;
const idp = new HttpTestIdp();
let browser: Browser;
let context: BrowserContext;

beforeAll(async () => {
  gh = await startE2eGateway();
  await idp.start();
  const t = await gh.admin('POST', '/api/tenants', { slug: 'contoso', name: 'Contoso Ltd', domains: ['contoso.example'] });
  expect(t.status).toBe(201);
  const c = await gh.admin('POST', '/api/tenants/contoso/connections', { slug: 'contoso-entra', metadataXml: idp.metadataXml() });
  expect(c.status).toBe(201);
  idp.sp = { entityId: c.body.spEntityId, acsUrl: c.body.acsUrl };
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await idp.stop();
  await gh?.stop();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: { width: 1100, height: 760 } });
});
afterEach(async () => {
  await context.close();
});

describe('sign-in in Chromium', () => {
  it('SP-initiated: login URL -> IdP -> ACS -> the requested page, with a session the app can check', async () => {
    const page = await context.newPage();
    await page.goto(`${gh.baseUrl}/sso/contoso-entra/login?returnTo=/me`);
    await page.waitForURL(`${gh.baseUrl}/me`);
    await page.getByRole('heading', { name: 'Adele Vance' }).waitFor();
    expect(await page.textContent('body')).toContain('adele.vance@contoso.example');
    expect(await page.textContent('body')).toContain('5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d');
    await page.screenshot({ path: path.join(ensureScreenshotsDir(), 'me.png') });

    // The application's view of the same browser session.
    const me = await context.request.get(`${gh.baseUrl}/api/me`);
    expect(me.status()).toBe(200);
    expect((await me.json()).username).toBe('adele.vance@contoso.example');
    const check = await context.request.get(`${gh.baseUrl}/auth/check`);
    expect(check.status()).toBe(200);
    expect(check.headers()['x-gatehouse-user']).toBe('adele.vance@contoso.example');

    // Sign out from the page.
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'You are not signed in' }).waitFor();
    expect((await context.request.get(`${gh.baseUrl}/auth/check`)).status()).toBe(401);
  });

  it('IdP-initiated: the My Apps tile signs in and lands on a local RelayState', async () => {
    const page = await context.newPage();
    await page.goto(`${idp.origin}/launch?relayState=${encodeURIComponent('/me?from=tile')}`);
    await page.waitForURL(`${gh.baseUrl}/me?from=tile`);
    await page.getByRole('heading', { name: 'Adele Vance' }).waitFor();
  });

  it('a refused sign-in shows the reason and a reference code, and no session', async () => {
    idp.nextResponse = { now: new Date(Date.now() - 2 * 3_600_000) };
    const page = await context.newPage();
    await page.goto(`${gh.baseUrl}/sso/contoso-entra/login?returnTo=/me`);
    await page.getByRole('heading', { name: 'Your sign-in took too long' }).waitFor();
    const text = (await page.textContent('body')) ?? '';
    expect(text).toMatch(/expired/);
    expect(text).toMatch(/[0-9A-F]{8}/);
    await page.screenshot({ path: path.join(ensureScreenshotsDir(), 'refused.png') });
    expect((await context.request.get(`${gh.baseUrl}/api/me`)).status()).toBe(401);
  });
});
