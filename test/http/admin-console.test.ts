/**
 * The admin console over HTTP: who gets in (bootstrap link, SAML admins, not others), CSRF on every form, and the
 * main flows (tenants, connection wizard with preview, group rename, log) with their effects in the store.
 */
import request from 'supertest';
import { BOOTSTRAP_TTL_MS, createBootstrapLink } from '../../src/admin/bootstrap';
import { authHeader, BASE_URL } from '../helpers/gateway';
import { TestIdp, type SpTarget } from '../helpers/test-idp';
import { ADMIN_GROUP, bootstrapAgent, createConsoleGateway, csrfOf, postForm, type ConsoleGateway } from './console-helpers';

const idp = new TestIdp();
let gw: ConsoleGateway;

beforeEach(async () => {
  gw = await createConsoleGateway();
});
afterEach(async () => {
  await gw.close();
});

async function gwTokens(connectionId: string) {
  return gw.store.scimTokens.listByConnection(connectionId);
}

async function tenantWithConnection(slug: string, connectionSlug: string): Promise<SpTarget> {
  await request(gw.app).post('/api/tenants').set(authHeader).send({ slug, name: slug }).expect(201);
  const c = await request(gw.app).post(`/api/tenants/${slug}/connections`).set(authHeader).send({ slug: connectionSlug, metadataXml: idp.metadataXml() }).expect(201);
  return { entityId: c.body.spEntityId, acsUrl: c.body.acsUrl };
}

/** A SAML session for a user with these groups, on the given connection. */
async function samlAgent(connectionSlug: string, sp: SpTarget, groups: string[], upn = 'adele.vance@contoso.example') {
  const agent = request.agent(gw.app);
  await agent.post(`/sso/${connectionSlug}/acs`).type('form').send(idp.postBody(sp, { user: { groups, upn, email: upn } })).expect(303);
  return agent;
}

describe('who may use the console', () => {
  it('sends a browser without a session to the sign-in page, and scripts get 401', async () => {
    const res = await request(gw.app).get('/admin/tenants').set('Accept', 'text/html').expect(302);
    expect(res.headers.location).toBe(`/admin/sign-in?returnTo=${encodeURIComponent('/admin/tenants')}`);
    await request(gw.app).get('/admin/log/events.json').expect(401);
    await request(gw.app).get('/admin').set('Accept', 'application/json').expect(401);
  });

  it('refuses a signed-in non-admin with 403 (other tenant, or admin tenant without the group)', async () => {
    const contoso = await tenantWithConnection('contoso', 'contoso-entra');
    const ops = await tenantWithConnection('ops', 'ops-entra');
    const outsider = await samlAgent('contoso-entra', contoso, [ADMIN_GROUP]);
    const res = await outsider.get('/admin').set('Accept', 'text/html').expect(403);
    expect(res.text).toContain('not an administrator');
    const colleague = await samlAgent('ops-entra', ops, ['99999999-0000-4000-8000-000000000000'], 'joe@ops.example');
    await colleague.get('/admin').set('Accept', 'text/html').expect(403);
  });

  it('lets members of ADMIN_GROUP in ADMIN_TENANT in after a SAML sign-in, by group id or by its name', async () => {
    const ops = await tenantWithConnection('ops', 'ops-entra');
    const agent = await samlAgent('ops-entra', ops, [ADMIN_GROUP], 'it@ops.example');
    await agent.get('/admin').expect(200);
    expect((await agent.get('/me').expect(200)).text).toContain('href="/admin"');

    await gw.close();
    gw = await createConsoleGateway({ adminTenant: 'ops', adminGroup: 'Gatehouse Admins' });
    const ops2 = await tenantWithConnection('ops', 'ops-entra');
    const named = await samlAgent('ops-entra', ops2, [ADMIN_GROUP], 'it@ops.example');
    await named.get('/admin').set('Accept', 'text/html').expect(403);
    await request(gw.app).post('/api/tenants/ops/groups/rename').set(authHeader).send({ names: { [ADMIN_GROUP]: 'Gatehouse Admins' } }).expect(200);
    await named.get('/admin').expect(200);
  });

  it('offers the admin tenant’s connections on the sign-in page, carrying returnTo', async () => {
    await tenantWithConnection('ops', 'ops-entra');
    const res = await request(gw.app).get('/admin/sign-in?returnTo=/admin/log').expect(200);
    expect(res.text).toContain(`href="/sso/ops-entra/login?returnTo=${encodeURIComponent('/admin/log')}"`);
  });

  it('the API key keeps working for /api, and does not open the console', async () => {
    await request(gw.app).get('/api/tenants').set(authHeader).expect(200);
    await request(gw.app).get('/admin').set(authHeader).set('Accept', 'text/html').expect(302);
  });
});

/** A CSRF token for this agent's session (from the confirmation page of another, unused link). */
async function csrfFromAnotherLink(agent: request.Agent): Promise<string> {
  const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
  return csrfOf((await agent.get(new URL(url).pathname + new URL(url).search).expect(200)).text);
}

describe('bootstrap link', () => {
  it('works once: the second use of the same link is refused', async () => {
    const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
    const path = new URL(url).pathname + new URL(url).search;
    const token = new URL(url).searchParams.get('token')!;
    const first = request.agent(gw.app);
    const page = await first.get(path).expect(200);
    // Showing the confirmation page does not use the link (link previews must not burn it).
    await first.get(path).expect(200);
    await first.post('/admin/bootstrap').type('form').send({ _csrf: csrfOf(page.text), token }).expect(303);
    const home = await first.get('/admin').expect(200);
    expect(home.text).toContain('one-time link');

    const second = request.agent(gw.app);
    await second.get(path).expect(410);
    const reuse = await second.post('/admin/bootstrap').type('form').send({ _csrf: await csrfFromAnotherLink(second), token });
    expect(reuse.status).toBe(410);
    expect(reuse.text).toContain('This link no longer works');
    await second.get('/admin').set('Accept', 'text/html').expect(302);
  });

  it('expires: a link used after its lifetime (15 minutes by default) is refused', async () => {
    expect(BOOTSTRAP_TTL_MS).toBe(15 * 60_000);
    const { url, expiresAt } = await createBootstrapLink(gw.store.requestCache, BASE_URL, { now: new Date(Date.now() - BOOTSTRAP_TTL_MS - 1000) });
    expect(expiresAt.getTime()).toBeLessThan(Date.now());
    const agent = request.agent(gw.app);
    await agent.get(new URL(url).pathname + new URL(url).search).expect(410);
    await agent.post('/admin/bootstrap').type('form').send({ _csrf: await csrfFromAnotherLink(agent), token: new URL(url).searchParams.get('token')! }).expect(410);
  });

  it('stores only the hash of the token', async () => {
    const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
    const token = new URL(url).searchParams.get('token')!;
    expect(await gw.store.requestCache.get(`admin:bootstrap:${token}`)).toBeNull();
  });
});

describe('CSRF', () => {
  it('refuses an admin form POST without the token (403), or with another session’s token', async () => {
    const agent = await bootstrapAgent(gw);
    const res = await agent.post('/admin/tenants').type('form').set('Accept', 'text/html').send({ slug: 'contoso', name: 'Contoso' });
    expect(res.status).toBe(403);
    expect(res.text).toContain('csrf_failed');
    const other = await bootstrapAgent(gw);
    const foreign = csrfOf((await other.get('/admin/tenants').expect(200)).text);
    await agent.post('/admin/tenants').type('form').send({ _csrf: foreign, slug: 'contoso', name: 'Contoso' }).expect(403);
    expect(await gw.store.tenants.findBySlug('contoso')).toBeNull();

    const ok = await postForm(agent, '/admin/tenants', '/admin/tenants', { slug: 'contoso', name: 'Contoso', domains: 'contoso.example\nContoso.DE' });
    expect(ok.status).toBe(303);
    expect((await gw.store.tenants.findBySlug('contoso'))?.domains).toEqual(['contoso.example', 'contoso.de']);
  });

  it('protects the bootstrap form too', async () => {
    const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
    await request(gw.app).post('/admin/bootstrap').type('form').send({ token: new URL(url).searchParams.get('token')! }).expect(403);
    // The link is still usable: a refused POST did not consume it.
    await request(gw.app).get(new URL(url).pathname + new URL(url).search).expect(200);
  });
});

describe('console flows', () => {
  it('connection wizard: values for Entra, a metadata preview that stores nothing, then save', async () => {
    const agent = await bootstrapAgent(gw);
    await postForm(agent, '/admin/tenants', '/admin/tenants', { slug: 'contoso', name: 'Contoso' }).then((r) => expect(r.status).toBe(303));
    const step1 = await agent.get('/admin/tenants/contoso/connections/new').expect(200);
    expect(step1.text).toContain(`value="${BASE_URL}/sso/contoso-entra/metadata"`);
    expect(step1.text).toContain(`value="${BASE_URL}/sso/contoso-entra/acs"`);
    expect(step1.text).toContain(`value="${BASE_URL}/sso/contoso-entra/login"`);
    const spMetadata = await agent.get('/admin/tenants/contoso/connections/new/sp-metadata.xml?slug=contoso-entra').expect(200);
    expect(spMetadata.text).toContain(`entityID="${BASE_URL}/sso/contoso-entra/metadata"`);

    const metadataXml = idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'], sign: true });
    const preview = await postForm(agent, '/admin/tenants/contoso/connections/new/metadata?slug=contoso-entra', '/admin/tenants/contoso/connections/new/metadata', {
      slug: 'contoso-entra',
      name: 'Contoso Entra',
      metadataXml,
    });
    expect(preview.status).toBe(200);
    expect(preview.text).toContain(idp.entityId);
    expect(preview.text).toContain('signed and verified');
    expect(preview.text.match(/data-testid="cert-fingerprint"/g)).toHaveLength(2);
    expect(await gw.store.connections.findBySlug('contoso-entra')).toBeNull();

    const bad = await postForm(agent, '/admin/tenants/contoso/connections/new/metadata', '/admin/tenants/contoso/connections/new/metadata', { slug: 'contoso-entra', metadataXml: '<nope/>' });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('That metadata could not be used');

    const saved = await agent.post('/admin/tenants/contoso/connections').type('form').send({ _csrf: csrfOf(preview.text), slug: 'contoso-entra', name: 'Contoso Entra', metadataXml });
    expect(saved.status).toBe(303);
    const connection = (await gw.store.connections.findBySlug('contoso-entra'))!;
    expect(connection.idp.certs).toHaveLength(2);
    expect(saved.headers.location).toBe(`/admin/connections/${connection.id}/settings`);

    const settings = await postForm(agent, saved.headers.location!, `/admin/connections/${connection.id}/settings`, {
      name: 'Contoso Entra',
      matchBy: 'email',
      jitEnabled: 'on',
      membershipMode: 'append',
      requireAnyGroupExtra: 'Engineering\n0d7c7f4e-1c3b-4e86-9f53-0e9f5b1a6c11',
    });
    expect(settings.status).toBe(303);
    const updated = (await gw.store.connections.findById(connection.id))!;
    expect(updated.settings).toMatchObject({ matchBy: 'email', allowIdpInitiated: false, jit: { enabled: true, updateOnLogin: false, membershipMode: 'append', requireAnyGroup: ['Engineering', '0d7c7f4e-1c3b-4e86-9f53-0e9f5b1a6c11'] } });
  });

  it('renames a GUID-named group inline and many from a CSV', async () => {
    const sp = await tenantWithConnection('contoso', 'contoso-entra');
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    const agent = await bootstrapAgent(gw);
    const page = await agent.get('/admin/tenants/contoso/groups').expect(200);
    expect(page.text).toContain('name unknown');
    const tenant = (await gw.store.tenants.findBySlug('contoso'))!;
    const [first, second] = (await gw.store.groups.listByTenant(tenant.id, { offset: 0, limit: 10 })).items;
    await agent.post(`/admin/tenants/contoso/groups/${first!.id}/rename`).type('form').send({ _csrf: csrfOf(page.text), name: 'Engineering' }).expect(303);
    expect((await gw.store.groups.findById(first!.id))).toMatchObject({ displayName: 'Engineering', nameResolved: true });
    await agent.post('/admin/tenants/contoso/groups/rename-csv').type('form').send({ _csrf: csrfOf(page.text), csv: `id,name\n${second!.externalId},Sales\n` }).expect(303);
    expect((await gw.store.groups.findById(second!.id))?.displayName).toBe('Sales');
    const search = await agent.get('/admin/tenants/contoso/groups?q=sal').expect(200);
    expect(search.text).toContain('<strong>Sales</strong>');
    expect(search.text).not.toContain('<strong>Engineering</strong>');
  });

  it('users: search by username prefix or name, a user page, disable', async () => {
    const sp = await tenantWithConnection('contoso', 'contoso-entra');
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    const agent = await bootstrapAgent(gw);
    expect((await agent.get('/admin/tenants/contoso/users?q=ADELE').expect(200)).text).toContain('adele.vance@contoso.example');
    expect((await agent.get('/admin/tenants/contoso/users?q=vance').expect(200)).text).toContain('Adele Vance');
    expect((await agent.get('/admin/tenants/contoso/users?q=zed').expect(200)).text).toContain('No user matches');
    const tenant = (await gw.store.tenants.findBySlug('contoso'))!;
    const [user] = (await gw.store.users.listByTenant(tenant.id, { offset: 0, limit: 1 })).items;
    const page = await agent.get(`/admin/tenants/contoso/users/${user!.id}`).expect(200);
    expect(page.text).toContain('SAML sign-in');
    expect(page.text).toContain('9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b'); // the pinned Entra object id
    await agent.post(`/admin/tenants/contoso/users/${user!.id}/active`).type('form').send({ _csrf: csrfOf(page.text), active: 'false' }).expect(303);
    expect((await gw.store.users.findById(user!.id))?.active).toBe(false);
  });

  it('log: filters and the live-tail endpoint returns only newer entries', async () => {
    const sp = await tenantWithConnection('contoso', 'contoso-entra');
    const agent = await bootstrapAgent(gw);
    const start = new Date(Date.now() - 1000).toISOString();
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { now: new Date(Date.now() - 7_200_000) })).expect(400);
    const refused = await agent.get('/admin/log?outcome=refused').expect(200);
    expect(refused.text).toContain('expired');
    expect(refused.text).not.toContain('user created');
    const byUser = await agent.get(`/admin/log?user=${encodeURIComponent('adele.vance@contoso.example')}&channel=saml`).expect(200);
    expect(byUser.text).toContain('user created');
    const tail = await agent.get(`/admin/log/events.json?connection=contoso-entra&after=${encodeURIComponent(start)}`).expect(200);
    expect(tail.body.count).toBeGreaterThanOrEqual(3);
    const none = await agent.get(`/admin/log/events.json?after=${encodeURIComponent(tail.body.newest)}`).expect(200);
    expect(none.body.count).toBe(0);
  });

  it('SCIM: tenant URL, a token shown once, extend, revoke, and a dashboard banner when one expires soon', async () => {
    await tenantWithConnection('contoso', 'contoso-entra');
    const connection = (await gw.store.connections.findBySlug('contoso-entra'))!;
    const agent = await bootstrapAgent(gw);
    const page = await agent.get(`/admin/connections/${connection.id}/scim`).expect(200);
    expect(page.text).toContain(`value="${BASE_URL}/scim/v2"`);
    expect(page.text).toContain('No token yet');
    const once = /name="once" value="([^"]+)"/.exec(page.text)![1]!;
    const created = await agent.post(`/admin/connections/${connection.id}/scim/tokens`).type('form').send({ _csrf: csrfOf(page.text), once, expiresInDays: '20' }).expect(200);
    // Sending the same form again (a reload) creates nothing and shows no secret.
    await agent.post(`/admin/connections/${connection.id}/scim/tokens`).type('form').send({ _csrf: csrfOf(page.text), once, expiresInDays: '20' }).expect(303);
    expect(await gwTokens(connection.id)).toHaveLength(1);
    const token = /id="newToken" type="text" readonly value="([^"]+)"/.exec(created.text)?.[1];
    expect(token).toBeDefined();
    const again = await agent.get(`/admin/connections/${connection.id}/scim`).expect(200);
    expect(again.text).not.toContain(token!);
    // The token works on the SCIM endpoint.
    await request(gw.app).get('/scim/v2/Users').set('Authorization', `Bearer ${token}`).expect(200);
    expect((await agent.get('/admin').expect(200)).text).toContain('data-testid="scim-token-alert"');

    const [view] = await gwTokens(connection.id);
    await agent.post(`/admin/connections/${connection.id}/scim/tokens/${view!.id}/extend`).type('form').send({ _csrf: csrfOf(again.text), expiresInDays: '365' }).expect(303);
    expect((await agent.get('/admin').expect(200)).text).not.toContain('data-testid="scim-token-alert"');
    await agent.post(`/admin/connections/${connection.id}/scim/tokens/${view!.id}/revoke`).type('form').send({ _csrf: csrfOf(again.text) }).expect(303);
    await request(gw.app).get('/scim/v2/Users').set('Authorization', `Bearer ${token}`).expect(401);
  });

  it('dashboard shows the SP certificate expiry and an empty state', async () => {
    const agent = await bootstrapAgent(gw);
    const res = await agent.get('/admin').expect(200);
    expect(res.text).toContain('SP certificate expires');
    expect(res.text).toContain('No identity provider connected yet');
  });
});
