/**
 * The admin API: authentication, tenants, connections from metadata (XML and URL with the SSRF guard), settings,
 * re-import, delete, listings, the rename pass, the match dry run. Every bad input changes nothing.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { TestIdp } from '../helpers/test-idp';
import { ADMIN_KEY, authHeader, BASE_URL, createTestGateway, fixture, type TestGateway } from '../helpers/gateway';

const idp = new TestIdp();
let gw: TestGateway;

beforeEach(async () => {
  gw = await createTestGateway();
});
afterEach(async () => {
  await gw.close();
});

const api = () => request(gw.app);

async function tenant(slug = 'contoso', domains: string[] = []) {
  return (await api().post('/api/tenants').set(authHeader).send({ slug, name: 'Contoso Ltd', domains }).expect(201)).body;
}

async function connection(extra: Record<string, unknown> = {}) {
  return (
    await api()
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'contoso-entra', metadataXml: idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }), ...extra })
      .expect(201)
  ).body;
}

describe('authentication', () => {
  it.each([
    ['no header', {}],
    ['a wrong key', { Authorization: 'Bearer wrong-key' }],
    ['the key in another scheme', { Authorization: `Basic ${ADMIN_KEY}` }],
    ['the key with a suffix', { Authorization: `Bearer ${ADMIN_KEY}x` }],
  ])('refuses %s with 401 and creates nothing', async (_name, headers) => {
    const res = await api().post('/api/tenants').set(headers).send({ slug: 'contoso', name: 'Contoso' });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(await gw.store.tenants.list()).toEqual([]);
  });
});

describe('tenants', () => {
  it('creates a tenant with normalised owned domains', async () => {
    const t = await tenant('contoso', ['@Contoso.COM', 'contoso.com', 'Fabrikam.example.']);
    expect(t).toMatchObject({ slug: 'contoso', name: 'Contoso Ltd', domains: ['contoso.com', 'fabrikam.example'] });
    expect((await api().get('/api/tenants/contoso').set(authHeader).expect(200)).body.id).toBe(t.id);
  });

  it('refuses a duplicate slug with 409', async () => {
    await tenant();
    const res = await api().post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Other' });
    expect(res.status).toBe(409);
    expect(res.body.error.code).toBe('conflict');
  });

  it.each([
    [{ name: 'No slug' }, 'slug'],
    [{ slug: 'Bad Slug!', name: 'x' }, 'slug'],
    [{ slug: 'ok', name: '' }, 'name'],
    [{ slug: 'ok', name: 'x', domains: ['not a domain'] }, 'domains.0'],
  ])('refuses %j with 400 naming %s', async (body, field) => {
    const res = await api().post('/api/tenants').set(authHeader).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toContain(field);
    expect(await gw.store.tenants.list()).toEqual([]);
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await api().post('/api/tenants').set(authHeader).set('Content-Type', 'application/json').send('{"slug":');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_json');
  });

  it('updates owned domains and 404s an unknown tenant', async () => {
    await tenant();
    const res = await api().patch('/api/tenants/contoso').set(authHeader).send({ domains: ['contoso.com'] }).expect(200);
    expect(res.body.domains).toEqual(['contoso.com']);
    await api().patch('/api/tenants/nope').set(authHeader).send({ name: 'x' }).expect(404);
  });
});

describe('connections', () => {
  beforeEach(() => tenant());

  it('creates a connection from Entra metadata and returns what the admin pastes into Entra', async () => {
    const c = await connection();
    expect(c).toMatchObject({
      slug: 'contoso-entra',
      spEntityId: `${BASE_URL}/sso/contoso-entra/metadata`,
      acsUrl: `${BASE_URL}/sso/contoso-entra/acs`,
      loginUrl: `${BASE_URL}/sso/contoso-entra/login`,
      metadataUrl: `${BASE_URL}/sso/contoso-entra/metadata`,
      logoutUrl: `${BASE_URL}/sso/contoso-entra/logout`,
      idp: { entityId: idp.entityId, ssoUrl: idp.ssoUrl, sloUrl: idp.sloUrl, metadataSigned: false },
      settings: { matchBy: 'upn', allowIdpInitiated: true, singleLogout: false, jit: { enabled: true, updateOnLogin: true, membershipMode: 'sync' } },
      version: 1,
    });
    expect(c.idp.certs).toHaveLength(2);
    for (const cert of c.idp.certs) {
      expect(cert.fingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      expect(Date.parse(cert.notAfter)).toBeGreaterThan(Date.now());
    }
    expect(JSON.stringify(c)).not.toMatch(/PRIVATE KEY/);
  });

  it.each([
    ['not XML', 'this is not xml'],
    ['SP metadata', () => fixture('metadata/sp.xml')],
    ['a DOCTYPE', '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><EntityDescriptor/>'],
  ])('refuses %s with a specific 400 and stores nothing', async (_name, xml) => {
    const metadataXml = typeof xml === 'function' ? xml() : xml;
    const res = await api().post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-entra', metadataXml });
    expect(res.status).toBe(400);
    expect(res.body.error.code).not.toBe('invalid_request');
    expect(res.body.error.message.length).toBeGreaterThan(20);
    const t = await gw.store.tenants.findBySlug('contoso');
    expect(await gw.store.connections.listByTenant(t!.id)).toEqual([]);
  });

  it('requires metadata, and only one source of it', async () => {
    const none = await api().post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'x' });
    expect(none.status).toBe(400);
    expect(none.body.error.code).toBe('metadata_required');
    const both = await api()
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'x', metadataXml: idp.metadataXml(), metadataUrl: 'https://idp.example/m.xml' });
    expect(both.status).toBe(400);
  });

  it('refuses unknown settings and a taken slug', async () => {
    const unknown = await api()
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'x', metadataXml: idp.metadataXml(), matchBy: 'phone' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toContain('matchBy');
    await connection();
    const taken = await api().post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-entra', metadataXml: idp.metadataXml() });
    expect(taken.status).toBe(409);
  });

  it('reads, updates (bumping the version), re-imports and deletes', async () => {
    const c = await connection();
    expect((await api().get(`/api/connections/${c.id}`).set(authHeader).expect(200)).body.slug).toBe('contoso-entra');
    const patched = await api()
      .patch(`/api/connections/${c.id}`)
      .set(authHeader)
      .send({ matchBy: 'email', jit: { enabled: false, requireAnyGroup: ['Engineering'] } })
      .expect(200);
    expect(patched.body.settings).toMatchObject({ matchBy: 'email', jit: { enabled: false, updateOnLogin: true, requireAnyGroup: ['Engineering'] } });
    expect(patched.body.version).toBe(2);

    const reimported = await api()
      .post(`/api/connections/${c.id}/metadata`)
      .set(authHeader)
      .send({ metadataXml: idp.metadataXml({ certs: ['idp-signing-2'] }) })
      .expect(200);
    expect(reimported.body.idp.certs).toHaveLength(1);
    expect(reimported.body.version).toBe(3);

    const bad = await api().post(`/api/connections/${c.id}/metadata`).set(authHeader).send({ metadataXml: 'nope' });
    expect(bad.status).toBe(400);
    expect((await api().get(`/api/connections/${c.id}`).set(authHeader).expect(200)).body.version).toBe(3);

    const slo = await api().patch(`/api/connections/${c.id}`).set(authHeader).send({ singleLogout: true }).expect(200);
    expect(slo.body.settings).toMatchObject({ singleLogout: true, matchBy: 'email' });
    const badSlo = await api().patch(`/api/connections/${c.id}`).set(authHeader).send({ singleLogout: 'yes' });
    expect(badSlo.status).toBe(400);
    expect(badSlo.body.error.message).toContain('singleLogout');
    await api().patch(`/api/connections/${c.id}`).set(authHeader).send({ singleLogout: false }).expect(200);

    await api().delete(`/api/connections/${c.id}`).set(authHeader).expect(204);
    await api().get(`/api/connections/${c.id}`).set(authHeader).expect(404);
  });

  it('refuses a metadata URL on a private address (SSRF guard) without fetching it', async () => {
    let hits = 0;
    const server: Server = createServer((_req, res) => {
      hits += 1;
      res.end(idp.metadataXml());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/metadata.xml`;
    try {
      const res = await api().post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-entra', metadataUrl: url });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('metadata_url_forbidden');
      expect(hits).toBe(0);

      // With the development setting, the same URL is fetched and the connection remembers where it came from.
      await gw.close();
      gw = await createTestGateway({ allowPrivateMetadataUrls: true });
      await tenant();
      const ok = await api().post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-entra', metadataUrl: url }).expect(201);
      expect(ok.body.idp.source).toEqual({ kind: 'url', url });
      expect(hits).toBe(1);
      // Re-import with no body fetches the same URL again.
      await api().post(`/api/connections/${ok.body.id}/metadata`).set(authHeader).send({}).expect(200);
      expect(hits).toBe(2);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('directory, rename pass, match, events', () => {
  it('lists users and groups, renames GUID groups in place, and explains matches', async () => {
    await tenant('contoso', ['contoso.example']);
    const c = await connection();
    const sp = { entityId: c.spEntityId, acsUrl: c.acsUrl };
    await api().post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);

    const users = (await api().get(`/api/connections/${c.id}/users`).set(authHeader).expect(200)).body;
    expect(users.total).toBe(1);
    const groups = (await api().get(`/api/connections/${c.id}/groups`).set(authHeader).expect(200)).body;
    expect(groups.total).toBe(2);
    const [g1] = groups.items;

    const renamed = await api()
      .post('/api/tenants/contoso/groups/rename')
      .set(authHeader)
      .send({ names: { [g1.externalId]: 'Engineering', 'ffffffff-0000-4000-8000-000000000000': 'Ghost' } })
      .expect(200);
    expect(renamed.body).toEqual({ renamed: [g1.externalId], unknown: ['ffffffff-0000-4000-8000-000000000000'] });
    // Idempotent, and nothing was created for the unknown id.
    await api().post('/api/tenants/contoso/groups/rename').set(authHeader).send({ names: { [g1.externalId]: 'Engineering' } }).expect(200);
    const after = (await api().get(`/api/connections/${c.id}/groups`).set(authHeader).expect(200)).body;
    expect(after.total).toBe(2);
    expect(after.items.find((g: { id: string }) => g.id === g1.id)).toMatchObject({ displayName: 'Engineering', nameResolved: true });

    const bad = await api().post('/api/tenants/contoso/groups/rename').set(authHeader).send({ names: { x: '' } });
    expect(bad.status).toBe(400);

    const existing = await api().post(`/api/connections/${c.id}/match`).set(authHeader).send({ username: 'ADELE.VANCE@contoso.example' }).expect(200);
    expect(existing.body).toMatchObject({ decision: 'use', via: 'key', userId: users.items[0].id });
    const fresh = await api().post(`/api/connections/${c.id}/match`).set(authHeader).send({ username: 'new.person@contoso.example' }).expect(200);
    expect(fresh.body).toMatchObject({ decision: 'create', username: 'new.person@contoso.example' });
    const foreign = await api().post(`/api/connections/${c.id}/match`).set(authHeader).send({ username: 'x@fabrikam.example' }).expect(200);
    expect(foreign.body).toMatchObject({ decision: 'refuse', reason: 'domain_not_owned' });

    const events = (await api().get(`/api/connections/${c.id}/events`).query({ limit: 3 }).set(authHeader).expect(200)).body;
    expect(events.items).toHaveLength(3);
    const times = events.items.map((e: { at: string }) => Date.parse(e.at));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const refusedOnly = (await api().get(`/api/connections/${c.id}/events`).query({ outcome: 'refused' }).set(authHeader).expect(200)).body;
    expect(refusedOnly.items).toEqual([]);
    await api().get(`/api/connections/${c.id}/events`).query({ outcome: 'maybe' }).set(authHeader).expect(400);
  });
});
