/**
 * The sign-in path end to end over HTTP: admin API -> SP-initiated and IdP-initiated login through the real ACS ->
 * session -> /api/me, /me, /auth/check -> logout. Refusals render an error and write nothing but a log entry.
 */
import request from 'supertest';
import { authnRequestIdOf, authnRequestOf, ENTRA_CLAIM, TestIdp, type SpTarget } from '../helpers/test-idp';
import { authHeader, createTestGateway, type TestGateway } from '../helpers/gateway';
import { SESSION_COOKIE } from '../../src/http/session';

const idp = new TestIdp();
let gw: TestGateway;
let sp: SpTarget;
let connectionId: string;

async function setUp(settings: Record<string, unknown> = {}, domains: string[] = []) {
  gw = await createTestGateway();
  await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso', domains }).expect(201);
  const res = await request(gw.app)
    .post('/api/tenants/contoso/connections')
    .set(authHeader)
    .send({ slug: 'contoso-entra', metadataXml: idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }), ...settings })
    .expect(201);
  sp = { entityId: res.body.spEntityId, acsUrl: res.body.acsUrl };
  connectionId = res.body.id;
}

function sessionCookieOf(res: request.Response): string | null {
  const cookies = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
  const c = cookies.find((v) => v.startsWith(`${SESSION_COOKIE}=`));
  return c ? c.split(';')[0]! : null;
}

async function counts() {
  const users = await gw.store.users.listByTenant((await gw.store.tenants.findBySlug('contoso'))!.id, { offset: 0, limit: 100 });
  const groups = await gw.store.groups.listByTenant((await gw.store.tenants.findBySlug('contoso'))!.id, { offset: 0, limit: 100 });
  return { users: users.total, groups: groups.total };
}

afterEach(async () => {
  await gw?.close();
});

describe('IdP-initiated sign-in', () => {
  beforeEach(() => setUp());

  it('creates the account, starts a session and redirects to a local RelayState', async () => {
    const agent = request.agent(gw.app);
    const res = await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { relayState: '/dashboard?x=1' }));
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/dashboard?x=1');
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(SESSION_COOKIE))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i); // http BASE_URL

    const me = await agent.get('/api/me').expect(200);
    expect(me.body).toMatchObject({
      username: 'adele.vance@contoso.example',
      email: 'adele.vance@contoso.example',
      givenName: 'Adele',
      familyName: 'Vance',
      fullName: 'Adele Vance',
      tenant: { slug: 'contoso' },
    });
    expect(me.body.groups.map((g: { externalId: string }) => g.externalId).sort()).toEqual(
      ['5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d', 'c3e1a7b9-2d4f-4a6c-8e0b-1f3d5a7c9e2b'].sort(),
    );
    expect(me.body.groups.every((g: { nameResolved: boolean }) => !g.nameResolved)).toBe(true);
    expect(await counts()).toEqual({ users: 1, groups: 2 });
  });

  it.each(['https://evil.example/', '//evil.example/', '/\\evil.example', 'javascript:alert(1)'])(
    'ignores the non-local RelayState %s and goes to /me',
    async (relayState) => {
      const res = await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { relayState }));
      expect(res.status).toBe(303);
      expect(res.headers.location).toBe('/me');
    },
  );

  it('answers JSON to API clients', async () => {
    const res = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send(idp.postBody(sp));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, returnTo: '/me' });
  });
});

describe('SP-initiated sign-in', () => {
  beforeEach(() => setUp({ allowIdpInitiated: false }));

  it('redirects to the IdP with an AuthnRequest, and the answer lands on the requested local page', async () => {
    const agent = request.agent(gw.app);
    const login = await agent.get('/sso/contoso-entra/login').query({ returnTo: '/reports/42' }).expect(302);
    const location = new URL(login.headers.location!);
    expect(`${location.origin}${location.pathname}`).toBe(idp.ssoUrl);
    const authnRequest = authnRequestOf(login.headers.location!);
    const requestId = authnRequestIdOf(login.headers.location!);
    expect(authnRequest).toContain(`AssertionConsumerServiceURL="${sp.acsUrl}"`);
    // The pre-login step sets no cookie: the ACS is a cross-site POST that would not carry it anyway.
    expect(sessionCookieOf(login)).toBeNull();

    const res = await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { inResponseTo: requestId }));
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/reports/42');
    await agent.get('/api/me').expect(200);
  });

  it('never carries a non-local returnTo through the IdP round trip', async () => {
    const login = await request(gw.app).get('/sso/contoso-entra/login').query({ returnTo: 'https://evil.example/' }).expect(302);
    const requestId = authnRequestIdOf(login.headers.location!);
    const res = await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { inResponseTo: requestId }));
    expect(res.headers.location).toBe('/me');
  });

  it('refuses an unsolicited response with a reason page and writes only a log entry', async () => {
    const res = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'text/html').type('form').send(idp.postBody(sp));
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.text).toContain('unsolicited_response');
    const reference = /data-testid="reference">([0-9A-F]{8})</.exec(res.text)?.[1];
    expect(reference).toBeDefined();
    expect(sessionCookieOf(res)).toBeNull();
    expect(await counts()).toEqual({ users: 0, groups: 0 });
    const events = await gw.store.events.list({ connectionId, limit: 10 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'login', outcome: 'refused', reason: 'unsolicited_response', channel: 'saml', details: { reference } });
    expect(JSON.stringify(events[0])).not.toContain(idp.postBody(sp).SAMLResponse.slice(0, 40));
  });
});

describe('ACS refusals over HTTP', () => {
  beforeEach(() => setUp());

  it('answers a refused assertion with a JSON error carrying the reason code', async () => {
    const res = await request(gw.app)
      .post('/sso/contoso-entra/acs')
      .set('Accept', 'application/json')
      .type('form')
      .send(idp.postBody(sp, { audience: 'https://someone-else.example/' }));
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'audience_mismatch' });
    expect(res.body.error.reference).toMatch(/^[0-9A-F]{8}$/);
    expect(await counts()).toEqual({ users: 0, groups: 0 });
  });

  it('refuses a replayed response over HTTP', async () => {
    const body = idp.postBody(sp);
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(body).expect(303);
    const again = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send(body);
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('replayed');
  });

  it('refuses an oversized body with 413 before parsing it', async () => {
    const res = await request(gw.app)
      .post('/sso/contoso-entra/acs')
      .set('Accept', 'application/json')
      .type('form')
      .send({ SAMLResponse: 'A'.repeat(600 * 1024) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('refuses an empty POST and an unknown connection', async () => {
    const empty = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send({});
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('missing_response');
    const unknown = await request(gw.app).post('/sso/nope/acs').set('Accept', 'application/json').type('form').send(idp.postBody(sp));
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('unknown_connection');
  });

  it('refuses a user outside the tenant domains, creating nothing', async () => {
    await gw.close();
    await setUp({}, ['fabrikam.example']);
    const res = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send(idp.postBody(sp));
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('domain_not_owned');
    expect(await counts()).toEqual({ users: 0, groups: 0 });
  });
});

describe('sessions', () => {
  beforeEach(() => setUp());

  it('issues a new session id at login (no fixation) and destroys the session at logout', async () => {
    const agent = request.agent(gw.app);
    const first = await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    const before = sessionCookieOf(first)!;
    expect(before).toBeTruthy();
    // A second login in the same browser (e.g. another user) must not keep the old session id.
    const second = await agent
      .post('/sso/contoso-entra/acs')
      .type('form')
      .send(idp.postBody(sp, { user: { upn: 'lee.gu@contoso.example', email: 'lee.gu@contoso.example', objectId: '11111111-2222-4333-8444-555555555555' } }))
      .expect(303);
    const after = sessionCookieOf(second)!;
    expect(after).toBeTruthy();
    expect(after).not.toBe(before);
    expect((await agent.get('/api/me').expect(200)).body.username).toBe('lee.gu@contoso.example');
    // The pre-login id no longer authenticates.
    await request(gw.app).get('/api/me').set('Cookie', before).expect(401);

    await agent.post('/logout').set('Accept', 'application/json').expect(204);
    await agent.get('/api/me').expect(401);
    await request(gw.app).get('/api/me').set('Cookie', after).expect(401);
  });

  it('ends the session of a disabled account on its next request', async () => {
    const agent = request.agent(gw.app);
    await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    const me = (await agent.get('/api/me').expect(200)).body;
    await request(gw.app).patch(`/api/connections/${connectionId}/users/${me.id}`).set(authHeader).send({ active: false }).expect(200);
    await agent.get('/api/me').expect(401);
    await agent.get('/auth/check').expect(401);
    // And the disabled account cannot sign in again.
    const again = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send(idp.postBody(sp));
    expect(again.status).toBe(403);
    expect(again.body.error.code).toBe('user_disabled');
  });

  it('expires a session after the absolute lifetime', async () => {
    await gw.close();
    gw = await createTestGateway({ sessionAbsoluteMs: 1 });
    await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso' }).expect(201);
    const conn = await request(gw.app)
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'contoso-entra', metadataXml: idp.metadataXml() })
      .expect(201);
    const agent = request.agent(gw.app);
    await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody({ entityId: conn.body.spEntityId, acsUrl: conn.body.acsUrl })).expect(303);
    await new Promise((r) => setTimeout(r, 5));
    await agent.get('/api/me').expect(401);
  });

  it('marks the cookie Secure when BASE_URL is https', async () => {
    await gw.close();
    gw = await createTestGateway({ baseUrl: 'https://gatehouse.test', trustProxy: 1 });
    await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso' }).expect(201);
    const conn = await request(gw.app)
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'contoso-entra', metadataXml: idp.metadataXml() })
      .expect(201);
    const res = await request(gw.app)
      .post('/sso/contoso-entra/acs')
      .set('X-Forwarded-Proto', 'https')
      .type('form')
      .send(idp.postBody({ entityId: conn.body.spEntityId, acsUrl: conn.body.acsUrl }))
      .expect(303);
    const cookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith(SESSION_COOKIE))!;
    expect(cookie).toMatch(/;\s*Secure/i);
  });
});

describe('/me, /auth/check', () => {
  beforeEach(() => setUp());

  it('forward-auth answers 401 without a session and 200 with identity headers with one', async () => {
    await request(gw.app).get('/auth/check').expect(401);
    const agent = request.agent(gw.app);
    await agent
      .post('/sso/contoso-entra/acs')
      .type('form')
      .send(
        idp.postBody(sp, {
          extraAttributes: { [ENTRA_CLAIM.groups]: ['Ingénierie, Paris'], [ENTRA_CLAIM.givenName]: ['Adèle'] },
        }),
      )
      .expect(303);
    const res = await agent.get('/auth/check').expect(200);
    expect(res.headers['x-gatehouse-user']).toBe('adele.vance@contoso.example');
    expect(res.headers['x-gatehouse-email']).toBe('adele.vance@contoso.example');
    expect(res.headers['x-gatehouse-tenant']).toBe('contoso');
    expect(decodeURIComponent(res.headers['x-gatehouse-name']!)).toBe('Adèle Vance');
    expect(res.headers['x-gatehouse-groups']).toBe('Ing%C3%A9nierie%2C Paris');
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('renders /me for a signed-in user and a signed-out page otherwise', async () => {
    const out = await request(gw.app).get('/me').expect(401);
    expect(out.text).toContain('You are not signed in');
    const agent = request.agent(gw.app);
    await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    const page = await agent.get('/me').expect(200);
    expect(page.text).toContain('Adele Vance');
    expect(page.text).toContain('5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d');
    expect(page.text).toContain('action="/logout"');
    expect(page.headers['content-security-policy']).toMatch(/script-src 'self'/);
  });
});

describe('SP metadata', () => {
  beforeEach(() => setUp());

  it('publishes the entity ID, ACS and signing certificate', async () => {
    const res = await request(gw.app).get('/sso/contoso-entra/metadata').expect(200);
    expect(res.headers['content-type']).toMatch(/application\/samlmetadata\+xml/);
    expect(res.text).toContain(`entityID="${sp.entityId}"`);
    expect(res.text).toContain(`Location="${sp.acsUrl}"`);
    expect(res.text).toContain('X509Certificate');
    await request(gw.app).get('/sso/unknown/metadata').expect(404);
  });
});

describe('health', () => {
  beforeEach(() => setUp());
  it('answers /healthz and /readyz', async () => {
    expect((await request(gw.app).get('/healthz').expect(200)).body).toEqual({ status: 'ok' });
    expect((await request(gw.app).get('/readyz').expect(200)).body).toEqual({ status: 'ready', store: 'sqlite' });
  });
  it('answers /readyz with 503 when the store is gone', async () => {
    await gw.store.close();
    const res = await request(gw.app).get('/readyz').expect(503);
    expect(res.body.error.code).toBe('store_unavailable');
  });
});
