/**
 * Admin console flows over HTTP, beyond the basics of admin-console.test.ts: editing a tenant's domains, importing
 * IdP metadata by URL and re-importing it, the settings step (group filters picked from known groups, delete mode,
 * IdP-initiated), the test sign-in (claims and matching decision, the admin session untouched), paged lists, enabling
 * an account again, the log's time and reference filters, certificate health on the dashboard, console sign-out and
 * sign-in by SAML, the console's own 404 page, and the bootstrap link printed by `gatehouse admin bootstrap`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { runCli } from '../../src/cli/program';
import { normaliseKey } from '../../src/provisioning/normalise';
import { generateSelfSignedKeyPair } from '../../src/saml/certs';
import { authHeader, BASE_URL } from '../helpers/gateway';
import { authnRequestIdOf, ENTRA_CLAIM, TestIdp, type SpTarget } from '../helpers/test-idp';
import { ADMIN_GROUP, bootstrapAgent, createConsoleGateway, csrfOf, postForm, runTestSignIn, type ConsoleGateway } from './console-helpers';

const DAY_MS = 86_400_000;
const ENG = '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d';
const SALES = 'c3e1a7b9-2d4f-4a6c-8e0b-1f3d5a7c9e2b';
const idp = new TestIdp();
let gw: ConsoleGateway | null = null;

afterEach(async () => {
  await gw?.close();
  gw = null;
});

async function open(options: Parameters<typeof createConsoleGateway>[0] = undefined) {
  gw = await createConsoleGateway(options);
  return gw;
}

async function contoso(g: ConsoleGateway, domains: string[] = ['contoso.example']): Promise<{ id: string; slug: string; sp: SpTarget }> {
  await request(g.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso Ltd', domains }).expect(201);
  const c = await request(g.app).post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-entra', name: 'Contoso Entra', metadataXml: idp.metadataXml() }).expect(201);
  return { id: c.body.id, slug: 'contoso-entra', sp: { entityId: c.body.spEntityId, acsUrl: c.body.acsUrl } };
}

/** Only the visible text of a page (tags stripped, whitespace collapsed). */
function textOf(html: string): string {
  return html.replace(/<[^>]+>/g, ' ').replace(/&amp;/g, '&').replace(/\s+/g, ' ');
}

describe('tenants', () => {
  it('edits the name and the owned domains; a bad domain changes nothing and says why', async () => {
    const g = await open();
    await contoso(g);
    const admin = await bootstrapAgent(g);
    const page = await admin.get('/admin/tenants/contoso').expect(200);
    expect(page.text).toContain('contoso.example</textarea>');
    const saved = await postForm(admin, '/admin/tenants/contoso', '/admin/tenants/contoso', { name: 'Contoso Group', domains: 'contoso.example, Contoso.DE\ncontoso.co.uk' });
    expect(saved.status).toBe(303);
    expect(await g.store.tenants.findBySlug('contoso')).toMatchObject({ name: 'Contoso Group', domains: ['contoso.example', 'contoso.de', 'contoso.co.uk'] });
    expect((await admin.get(saved.headers.location!).expect(200)).text).toContain('Saved. Contoso Group owns contoso.example, contoso.de, contoso.co.uk.');

    const bad = await postForm(admin, '/admin/tenants/contoso', '/admin/tenants/contoso', { name: 'Contoso Group', domains: 'not a domain!' });
    expect(bad.status).toBe(303);
    expect((await admin.get(bad.headers.location!).expect(200)).text).toContain('Not saved:');
    expect((await g.store.tenants.findBySlug('contoso'))?.domains).toEqual(['contoso.example', 'contoso.de', 'contoso.co.uk']);

    const cleared = await postForm(admin, '/admin/tenants/contoso', '/admin/tenants/contoso', { name: 'Contoso Group', domains: '' });
    expect((await admin.get(cleared.headers.location!).expect(200)).text).toContain('owns no domains: sign-ins are not restricted by domain');
    expect((await g.store.tenants.findBySlug('contoso'))?.domains).toEqual([]);
  });
});

describe('connection wizard', () => {
  let metadataServer: Server;
  let metadataUrl: string;
  beforeAll(async () => {
    metadataServer = createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/samlmetadata+xml');
      res.end(idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }));
    });
    await new Promise<void>((r) => metadataServer.listen(0, '127.0.0.1', r));
    metadataUrl = `http://127.0.0.1:${(metadataServer.address() as AddressInfo).port}/federationmetadata.xml?appid=1`;
  });
  afterAll(async () => {
    await new Promise((r) => metadataServer.close(r));
  });

  it('step 2 by URL: previews what was read (nothing stored), then saves the connection from that URL', async () => {
    const g = await open({ allowPrivateMetadataUrls: true });
    await request(g.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso Ltd' }).expect(201);
    const admin = await bootstrapAgent(g);
    const draft = '/admin/tenants/contoso/connections/new/metadata?slug=contoso-entra&name=Contoso%20Entra';
    const preview = await postForm(admin, draft, '/admin/tenants/contoso/connections/new/metadata', { slug: 'contoso-entra', name: 'Contoso Entra', metadataUrl });
    expect(preview.status).toBe(200);
    const text = textOf(preview.text);
    expect(text).toContain('Check what was read');
    expect(text).toContain(idp.entityId);
    expect(text).toContain(idp.ssoUrl);
    expect(text).toContain(metadataUrl);
    expect(text).toContain('Signing certificates (2)');
    expect(text).toContain('not signed');
    expect(preview.text.match(/data-testid="cert-fingerprint"/g)).toHaveLength(2);
    expect(await g.store.connections.findBySlug('contoso-entra')).toBeNull();

    const saved = await admin.post('/admin/tenants/contoso/connections').type('form').send({ _csrf: csrfOf(preview.text), slug: 'contoso-entra', name: 'Contoso Entra', metadataUrl });
    expect(saved.status).toBe(303);
    const connection = (await g.store.connections.findBySlug('contoso-entra'))!;
    expect(connection.idp.source).toEqual({ kind: 'url', url: metadataUrl });
    expect(connection.idp.certs).toHaveLength(2);
  });

  it('step 2 without any input, or with a URL that does not answer, explains the problem and stores nothing', async () => {
    const g = await open({ allowPrivateMetadataUrls: true });
    await request(g.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso Ltd' }).expect(201);
    const admin = await bootstrapAgent(g);
    const draft = '/admin/tenants/contoso/connections/new/metadata?slug=contoso-entra';
    const empty = await postForm(admin, draft, '/admin/tenants/contoso/connections/new/metadata', { slug: 'contoso-entra' });
    expect(empty.status).toBe(422);
    expect(empty.text).toContain('Choose a metadata file, paste the XML, or give the metadata URL.');
    const dead = await postForm(admin, draft, '/admin/tenants/contoso/connections/new/metadata', { slug: 'contoso-entra', metadataUrl: `${metadataUrl.replace(/:\d+\//, ':1/')}` });
    expect(dead.status).toBe(422);
    expect(dead.text).toContain('That metadata could not be used');
    expect(await g.store.connections.findBySlug('contoso-entra')).toBeNull();
  });

  it('step 1 warns when the chosen name is taken, and offers no way on until it is changed', async () => {
    const g = await open();
    await contoso(g);
    const admin = await bootstrapAgent(g);
    const taken = await admin.get('/admin/tenants/contoso/connections/new?slug=contoso-entra').expect(200);
    expect(taken.text).toContain('Another connection already uses this name');
    expect(taken.text).not.toContain('Next: import the IdP metadata');
    const fresh = await admin.get('/admin/tenants/contoso/connections/new?slug=contoso-okta&name=Okta').expect(200);
    expect(fresh.text).toContain(`value="${BASE_URL}/sso/contoso-okta/acs"`);
    expect(fresh.text).toContain('href="/admin/tenants/contoso/connections/new/metadata?slug=contoso-okta&amp;name=Okta"');
    expect(fresh.text).toContain('Download SP metadata (XML)');
  });

  it('re-import on a saved connection: a preview first (nothing changes), then the new certificates are used', async () => {
    const g = await open();
    const c = await contoso(g);
    const admin = await bootstrapAgent(g);
    const page = await admin.get(`/admin/connections/${c.id}/metadata`).expect(200);
    expect(textOf(page.text)).toContain('Identity provider in use');
    const rollover = idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] });
    const preview = await admin.post(`/admin/connections/${c.id}/metadata`).type('form').send({ _csrf: csrfOf(page.text), metadataXml: rollover });
    expect(preview.status).toBe(200);
    expect(preview.text).toContain('Use this metadata');
    expect(preview.text).toContain('an IdP certificate rollover is in progress');
    expect((await g.store.connections.findById(c.id))!.idp.certs).toHaveLength(1);
    const applied = await admin.post(`/admin/connections/${c.id}/metadata/apply`).type('form').send({ _csrf: csrfOf(preview.text), metadataXml: rollover });
    expect(applied.status).toBe(303);
    expect((await g.store.connections.findById(c.id))!.idp.certs).toHaveLength(2);
    expect((await admin.get(applied.headers.location!).expect(200)).text).toContain('The new IdP metadata is in use.');
  });

  it('step 3: explains UPN vs email, picks group filters from the known groups, and saves delete mode and IdP-initiated', async () => {
    const g = await open();
    const c = await contoso(g);
    await request(g.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(c.sp)).expect(303);
    const tenant = (await g.store.tenants.findBySlug('contoso'))!;
    await g.store.groups.rename((await g.store.groups.findByExternalId(tenant.id, ENG))!.id, 'Engineering');
    const admin = await bootstrapAgent(g);
    const page = await admin.get(`/admin/connections/${c.id}/settings`).expect(200);
    const text = textOf(page.text);
    expect(text).toContain('User principal name (UPN) The usual choice for Entra');
    expect(text).toContain('Email address When accounts here already exist by email and the UPNs differ');
    // The known groups are offered by name (or by id with a note when the name is not known yet).
    expect(page.text).toContain(`<option value="${ENG}" >Engineering (${ENG})</option>`);
    expect(page.text).toContain(`<option value="${SALES}" >${SALES} (name unknown)</option>`);

    const saved = await admin.post(`/admin/connections/${c.id}/settings`).type('form').send({
      _csrf: csrfOf(page.text),
      name: 'Contoso Entra',
      matchBy: 'upn',
      jitEnabled: 'on',
      updateOnLogin: 'on',
      membershipMode: 'sync',
      requireAnyGroup: [ENG, SALES],
      requireAnyGroupExtra: 'Finance\n',
      excludeGroups: SALES,
      deleteMode: 'hard',
      allowIdpInitiated: 'on',
      singleLogout: 'on',
    });
    expect(saved.status).toBe(303);
    expect(saved.headers.location).toBe(`/admin/connections/${c.id}/test`);
    const updated = (await g.store.connections.findById(c.id))!;
    expect(updated.settings).toMatchObject({
      matchBy: 'upn',
      allowIdpInitiated: true,
      singleLogout: true,
      jit: { enabled: true, updateOnLogin: true, membershipMode: 'sync', requireAnyGroup: [ENG, SALES, 'Finance'], onlyGroups: [], excludeGroups: [SALES] },
      scim: { deleteMode: 'hard' },
    });
    // The page shows the choices back: selected known groups, the typed one, the delete mode.
    const again = await admin.get(`/admin/connections/${c.id}/settings`).expect(200);
    expect(again.text).toContain(`<option value="${ENG}" selected>Engineering (${ENG})</option>`);
    expect(again.text).toContain('placeholder="Other group ids or names, one per line" aria-label="Only members of these groups may sign in: other groups">Finance</textarea>');
    expect(again.text).toMatch(/name="deleteMode" value="hard" checked/);
    expect(again.text).toMatch(/name="allowIdpInitiated" checked/);
    expect(again.text).toMatch(/name="singleLogout" checked/);
  });

  it('step 4: a real test sign-in shows the claims and the matching decision, and keeps the admin session', async () => {
    const g = await open();
    const c = await contoso(g);
    const admin = await bootstrapAgent(g);
    const empty = await admin.get(`/admin/connections/${c.id}/test`).expect(200);
    expect(empty.text).toContain('No test sign-in yet');

    const first = await runTestSignIn(admin, c, (inResponseTo) => idp.postBody(c.sp, { inResponseTo }));
    expect(first.acs.status).toBe(303);
    expect(first.chain[0]).toMatch(/^\/admin\/test-sign-in\/[A-Za-z0-9_-]{16,64}$/);
    expect(first.chain[1]).toMatch(new RegExp(`^/admin/connections/${c.id}/test\\?result=`));
    const result = textOf(first.page.text);
    expect(result).toContain('Signed in as adele.vance@contoso.example');
    expect(result).toContain('A new account was created (JIT).');
    expect(result).toContain(ENTRA_CLAIM.objectId);
    expect(result).toContain('9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(result).toContain(idp.entityId);
    // The admin is still the bootstrap admin; no session was started for the tested user.
    expect((await admin.get('/admin').expect(200)).text).toContain('one-time link');
    await admin.get('/api/me').expect(401);

    const second = await runTestSignIn(admin, c, (inResponseTo) => idp.postBody(c.sp, { inResponseTo }));
    expect(textOf(second.page.text)).toContain('Matched the existing account pinned to this person’s IdP object id.');

    // An account that exists by its UPN but is not linked yet: matched by key, then pinned.
    const tenant = (await g.store.tenants.findBySlug('contoso'))!;
    await g.store.users.create({
      tenantId: tenant.id, username: 'megan@contoso.example', usernameKey: normaliseKey('megan@contoso.example'), email: 'megan@contoso.example',
      givenName: 'Megan', familyName: 'Bowen', displayName: null, fullName: 'Megan Bowen', active: true,
    });
    const megan = { upn: 'megan@contoso.example', email: 'megan@contoso.example', objectId: '0e0e0e0e-1111-4222-8333-444444444444' };
    const third = await runTestSignIn(admin, c, (inResponseTo) => idp.postBody(c.sp, { inResponseTo, user: megan }));
    expect(textOf(third.page.text)).toContain('Matched an existing account by its UPN; the IdP object id is now pinned to it.');
  });

  it('step 4: a refused test shows the reason in words and its reference, found in the log', async () => {
    const g = await open();
    const c = await contoso(g);
    await request(g.app).patch(`/api/connections/${c.id}`).set(authHeader).send({ jit: { requireAnyGroup: ['Finance'] } }).expect(200);
    const admin = await bootstrapAgent(g);
    const { page } = await runTestSignIn(admin, c, (inResponseTo) => idp.postBody(c.sp, { inResponseTo }));
    const text = textOf(page.text);
    expect(text).toContain('Refused: not_in_required_group');
    expect(text).toContain('This account is not in any of the groups allowed to sign in to this application.');
    const reference = /reference <code>([0-9A-F]{8})<\/code>/.exec(page.text)![1]!;
    const log = await admin.get(`/admin/log?reference=${reference}`).expect(200);
    expect(log.text).toContain(`ref ${reference}`);
  });
});

describe('users and groups', () => {
  it('pages the user list 25 at a time, and a user page shows links, groups with their sources, and disable/enable', async () => {
    const g = await open();
    const c = await contoso(g);
    await request(g.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(c.sp)).expect(303);
    const tenant = (await g.store.tenants.findBySlug('contoso'))!;
    for (let i = 0; i < 30; i++) {
      const username = `user${String(i).padStart(2, '0')}@contoso.example`;
      await g.store.users.create({ tenantId: tenant.id, username, usernameKey: normaliseKey(username), email: null, givenName: null, familyName: null, displayName: null, fullName: username, active: true });
    }
    const admin = await bootstrapAgent(g);
    const first = await admin.get('/admin/tenants/contoso/users').expect(200);
    expect(textOf(first.text)).toContain('Showing 1–25 of 31');
    expect(first.text).toContain('href="/admin/tenants/contoso/users?page=2">Next</a>');
    const second = await admin.get('/admin/tenants/contoso/users?page=2').expect(200);
    expect(textOf(second.text)).toContain('Showing 26–31 of 31');
    expect(second.text).toContain('href="/admin/tenants/contoso/users?page=1">Previous</a>');
    const search = await admin.get('/admin/tenants/contoso/users?q=user0').expect(200);
    expect(textOf(search.text)).toContain('Showing 1–10 of 10');

    const adele = (await g.store.users.findByKey(tenant.id, normaliseKey('adele.vance@contoso.example')))!;
    const page = await admin.get(`/admin/tenants/contoso/users/${adele.id}`).expect(200);
    const text = textOf(page.text);
    expect(text).toContain('Identity links');
    expect(text).toContain('Contoso Entra 9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b');
    expect(text).toContain(`${ENG} name unknown SAML sign-in Contoso Entra`);
    const disabled = await admin.post(`/admin/tenants/contoso/users/${adele.id}/active`).type('form').send({ _csrf: csrfOf(page.text), active: 'false' });
    expect(disabled.status).toBe(303);
    const after = await admin.get(disabled.headers.location!).expect(200);
    expect(textOf(after.text)).toContain('adele.vance@contoso.example is disabled and was signed out everywhere.');
    expect(after.text).toContain('Enable account');
    await admin.post(`/admin/tenants/contoso/users/${adele.id}/active`).type('form').send({ _csrf: csrfOf(after.text), active: 'true' }).expect(303);
    expect((await g.store.users.findById(adele.id))?.active).toBe(true);
    // And the person can sign in again.
    await request(g.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(c.sp)).expect(303);
  });

  it('pages and searches groups, highlighting the ones known only by their object id', async () => {
    const g = await open();
    await contoso(g);
    const tenant = (await g.store.tenants.findBySlug('contoso'))!;
    await g.store.groups.ensureMany(
      tenant.id,
      Array.from({ length: 30 }, (_, i) => ({ externalId: `00000000-0000-4000-8000-0000000000${String(i).padStart(2, '0')}`, displayName: `Team ${i}`, nameResolved: i % 2 === 0 })),
    );
    const admin = await bootstrapAgent(g);
    const first = await admin.get('/admin/tenants/contoso/groups').expect(200);
    expect(textOf(first.text)).toContain('Showing 1–25 of 30');
    expect(first.text).toContain('Highlighted groups are known only by their Entra object id');
    expect(first.text.match(/<tr class="highlight"/g)?.length).toBeGreaterThan(5);
    const second = await admin.get('/admin/tenants/contoso/groups?page=2').expect(200);
    expect(textOf(second.text)).toContain('Showing 26–30 of 30');
    const search = await admin.get('/admin/tenants/contoso/groups?q=Team%202').expect(200);
    expect(search.text).toContain('<strong>Team 2</strong>');
    expect(search.text).not.toContain('<strong>Team 4</strong>');
  });
});

describe('provisioning log', () => {
  it('filters by time and by the reference a refused person saw, showing the reason in words', async () => {
    const g = await open();
    const c = await contoso(g);
    await request(g.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(c.sp)).expect(303);
    const refused = await request(g.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send(idp.postBody(c.sp, { now: new Date(Date.now() - 7_200_000) })).expect(400);
    const reference: string = refused.body.error.reference;
    const admin = await bootstrapAgent(g);
    // The refusal is written just after the answer; wait for it.
    for (let i = 0; i < 50 && !(await g.store.events.list({ outcome: 'refused', limit: 5 })).length; i++) await new Promise((r) => setTimeout(r, 20));

    const minute = (offsetMs: number) => new Date(Date.now() + offsetMs).toISOString().slice(0, 16);
    const future = await admin.get(`/admin/log?from=${minute(3_600_000)}`).expect(200);
    expect(future.text).toContain('No entries match these filters');
    const past = await admin.get(`/admin/log?to=${minute(-3_600_000)}`).expect(200);
    expect(past.text).toContain('No entries match these filters');
    const window = await admin.get(`/admin/log?from=${minute(-3_600_000)}&to=${minute(3_600_000)}`).expect(200);
    expect(window.text).toContain('user created');
    // A time window has an end: no live tail.
    expect(window.text).not.toContain('data-tail-url');

    const typed = `${reference.slice(0, 4).toLowerCase()} ${reference.slice(4)}`;
    const found = await admin.get(`/admin/log?reference=${encodeURIComponent(typed)}`).expect(200);
    expect(found.text).toContain(`value="${reference}"`);
    expect(found.text.match(/<tr data-event-id=/g)).toHaveLength(1);
    expect(textOf(found.text)).toContain('expired The assertion has expired.');
    expect(found.text).toContain(`ref ${reference}`);
    const none = await admin.get('/admin/log?reference=00000000').expect(200);
    expect(none.text).toContain('No entries match these filters');
    // The dashboard links each refusal to its log entry.
    expect((await admin.get('/admin').expect(200)).text).toContain(`href="/admin/log?reference=${reference}"`);
  });
});

describe('certificate health on the dashboard', () => {
  async function setCertExpiry(g: ConsoleGateway, connectionId: string, notAfter: Date) {
    const connection = (await g.store.connections.findById(connectionId))!;
    await g.store.connections.update(connectionId, { idp: { ...connection.idp, certs: connection.idp.certs.map((cert) => ({ ...cert, notAfter })) } });
  }

  it('warns about an IdP signing certificate expiring within 30 days, or expired, and not about later ones', async () => {
    const g = await open();
    const c = await contoso(g);
    const admin = await bootstrapAgent(g);
    await setCertExpiry(g, c.id, new Date(Date.now() + 45 * DAY_MS));
    expect((await admin.get('/admin').expect(200)).text).not.toContain('an IdP signing certificate of');
    await setCertExpiry(g, c.id, new Date(Date.now() + 12 * DAY_MS));
    const soon = textOf((await admin.get('/admin').expect(200)).text);
    expect(soon).toContain('Expiring soon: an IdP signing certificate of Contoso Entra (Contoso Ltd)');
    expect(soon).toMatch(/1 IdP certificates expiring within 30 days/);
    expect((await admin.get(`/admin/connections/${c.id}/metadata`).expect(200)).text).toContain('expires soon');
    await setCertExpiry(g, c.id, new Date(Date.now() - DAY_MS));
    expect(textOf((await admin.get('/admin').expect(200)).text)).toContain('Expired: an IdP signing certificate of Contoso Entra');
  });

  it('shows the SP certificate’s expiry, and warns when it is within 30 days', async () => {
    const far = await open();
    const farText = textOf((await (await bootstrapAgent(far)).get('/admin').expect(200)).text);
    expect(farText).toMatch(/\d{1,2} \w{3} 2126 SP certificate expires/);
    expect(farText).not.toContain('The Gatehouse SP certificate expires');
    await far.close();
    gw = null;

    const { certPem } = await generateSelfSignedKeyPair({ commonName: 'sp.gatehouse.test', days: 10 });
    const soon = await open({ spCertPem: certPem });
    expect(textOf((await (await bootstrapAgent(soon)).get('/admin').expect(200)).text)).toContain('The Gatehouse SP certificate expires in 10 days.');
  });
});

describe('console sign-in and sign-out', () => {
  it('an admin signs in by SAML from the console sign-in page and lands on the page asked for', async () => {
    const g = await open();
    await request(g.app).post('/api/tenants').set(authHeader).send({ slug: 'ops', name: 'Ops' }).expect(201);
    const c = await request(g.app).post('/api/tenants/ops/connections').set(authHeader).send({ slug: 'ops-entra', name: 'Ops Entra', metadataXml: idp.metadataXml(), allowIdpInitiated: false }).expect(201);
    const sp = { entityId: c.body.spEntityId, acsUrl: c.body.acsUrl };
    const browser = request.agent(g.app);
    const redirected = await browser.get('/admin/log').set('Accept', 'text/html').expect(302);
    const signIn = await browser.get(redirected.headers.location!).expect(200);
    const href = /href="(\/sso\/ops-entra\/login\?[^"]+)"/.exec(signIn.text)![1]!.replace(/&amp;/g, '&');
    const login = await browser.get(href).expect(302);
    const inResponseTo = authnRequestIdOf(login.headers.location!);
    const acs = await browser.post('/sso/ops-entra/acs').type('form').send(idp.postBody(sp, { inResponseTo, user: { upn: 'it@ops.example', email: 'it@ops.example', groups: [ADMIN_GROUP] } }));
    expect(acs.status).toBe(303);
    expect(acs.headers.location).toBe('/admin/log');
    const log = await browser.get('/admin/log').expect(200);
    expect(log.text).toContain('it@ops.example');
  });

  it('signs out with a CSRF-protected form, after which the console needs a sign-in again', async () => {
    const g = await open();
    const admin = await bootstrapAgent(g);
    const home = await admin.get('/admin').expect(200);
    expect(home.text).toContain('action="/admin/sign-out"');
    const out = await admin.post('/admin/sign-out').type('form').send({ _csrf: csrfOf(home.text) });
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/admin/sign-in?signedOut=1');
    expect((await admin.get(out.headers.location!).expect(200)).text).toContain('You are signed out.');
    await admin.get('/admin').set('Accept', 'text/html').expect(302);
  });

  it('answers a missing console page or record inside the console layout (JSON for scripts)', async () => {
    const g = await open();
    const admin = await bootstrapAgent(g);
    const page = await admin.get('/admin/no-such-page').set('Accept', 'text/html').expect(404);
    expect(page.text).toContain('Gatehouse <span class="brand-tag">Admin</span>');
    expect(page.text).toContain('There is nothing at this address');
    const tenant = await admin.get('/admin/tenants/nobody').set('Accept', 'text/html').expect(404);
    expect(tenant.text).toContain('Gatehouse <span class="brand-tag">Admin</span>');
    expect(tenant.text).toContain('<h1>Not found</h1>');
    const json = await admin.get('/admin/tenants/nobody').set('Accept', 'application/json').expect(404);
    expect(json.body.error.code).toBeDefined();
  });
});

describe('gatehouse admin bootstrap', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bootstrap-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('prints a one-time link to the console that the running server accepts once', async () => {
    const databaseUrl = `sqlite:${path.join(dir, 'gatehouse.db')}`;
    let out = '';
    const code = await runCli(['admin', 'bootstrap'], { env: { DATABASE_URL: databaseUrl, BASE_URL }, out: (t) => (out += t), err: (t) => (out += t) });
    expect(code).toBe(0);
    const url = /(http\S+\/admin\/bootstrap\?token=\S+)/.exec(out)![1]!;
    expect(out).toContain('Open this one-time link to the admin console');
    let json = '';
    await runCli(['--json', 'admin', 'bootstrap'], { env: { DATABASE_URL: databaseUrl, BASE_URL }, out: (t) => (json += t), err: () => undefined });
    expect(JSON.parse(json)).toMatchObject({ url: expect.stringContaining('/admin/bootstrap?token='), expiresAt: expect.any(String) });
    const expiresIn = new Date(JSON.parse(json).expiresAt).getTime() - Date.now();
    expect(expiresIn).toBeGreaterThan(14 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(15 * 60_000);

    const g = await open({ databaseUrl });
    const browser = request.agent(g.app);
    const target = new URL(url);
    const confirm = await browser.get(target.pathname + target.search).expect(200);
    await browser.post('/admin/bootstrap').type('form').send({ _csrf: csrfOf(confirm.text), token: target.searchParams.get('token')! }).expect(303);
    await browser.get('/admin').expect(200);
    await request(g.app).get(target.pathname + target.search).expect(410);
  });
});
