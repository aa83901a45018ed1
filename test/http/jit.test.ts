/**
 * Who is who, through the real ACS: JIT users and groups, membership sync, UPN rename by object id, overage,
 * group filters, JIT off, update-on-login, match by email, tenant isolation, the rename pass reaching /api/me.
 */
import request from 'supertest';
import { ENTRA_CLAIM, TestIdp, type ResponseOptions, type SpTarget } from '../helpers/test-idp';
import { authHeader, createTestGateway, type TestGateway } from '../helpers/gateway';

const ENG = '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d';
const SALES = 'c3e1a7b9-2d4f-4a6c-8e0b-1f3d5a7c9e2b';
const OPS = '0a0b0c0d-1111-4222-8333-444455556666';
const ADELE = { upn: 'adele.vance@contoso.example', email: 'adele.vance@contoso.example', objectId: '9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b' };

const idp = new TestIdp();
let gw: TestGateway;
let sp: SpTarget;
let connectionId: string;
let tenantId: string;

async function setUp(settings: Record<string, unknown> = {}, domains: string[] = []) {
  gw = await createTestGateway();
  tenantId = (await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso', domains }).expect(201)).body.id;
  const c = (
    await request(gw.app)
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'contoso-entra', metadataXml: idp.metadataXml(), ...settings })
      .expect(201)
  ).body;
  sp = { entityId: c.spEntityId, acsUrl: c.acsUrl };
  connectionId = c.id;
}

afterEach(async () => {
  await gw?.close();
});

/** Signs in through the ACS and returns the agent (with its session) and the response. */
async function login(options: ResponseOptions = {}, target: SpTarget = sp, slug = 'contoso-entra') {
  const agent = request.agent(gw.app);
  const res = await agent.post(`/sso/${slug}/acs`).set('Accept', 'application/json').type('form').send(idp.postBody(target, options));
  return { agent, res };
}

async function me(options: ResponseOptions = {}) {
  const { agent, res } = await login(options);
  expect(res.status).toBe(200);
  return (await agent.get('/api/me').expect(200)).body as {
    id: string;
    username: string;
    email: string;
    fullName: string;
    givenName: string;
    groups: { externalId: string; displayName: string; nameResolved: boolean }[];
  };
}

const groupIds = (m: { groups: { externalId: string }[] }) => m.groups.map((g) => g.externalId).sort();
const users = async () => (await gw.store.users.listByTenant(tenantId, { offset: 0, limit: 100 })).items;
const groups = async () => (await gw.store.groups.listByTenant(tenantId, { offset: 0, limit: 100 })).items;
const events = async () => gw.store.events.list({ connectionId, limit: 100 });

describe('JIT users and groups', () => {
  beforeEach(() => setUp());

  it('creates the user and GUID-named groups on first login, and logs each decision', async () => {
    const m = await me({ user: { ...ADELE, groups: [ENG, SALES] } });
    expect(m).toMatchObject({ username: ADELE.upn, email: ADELE.email, fullName: 'Adele Vance' });
    expect(groupIds(m)).toEqual([ENG, SALES].sort());
    expect(m.groups.every((g) => !g.nameResolved && g.displayName === g.externalId)).toBe(true);
    const log = await events();
    expect(log.map((e) => e.type)).toEqual(['login', 'memberships_changed', 'groups_created', 'user_created']);
    expect(log.find((e) => e.type === 'groups_created')!.details.groups).toEqual(
      expect.arrayContaining([expect.objectContaining({ externalId: ENG }), expect.objectContaining({ externalId: SALES })]),
    );
    expect(log.find((e) => e.type === 'memberships_changed')!.details).toMatchObject({ added: [ENG, SALES], removed: [] });
    expect(log.every((e) => e.channel === 'saml' && e.subject === ADELE.upn)).toBe(true);
  });

  it('syncs memberships from this connection on the next login and leaves other sources alone', async () => {
    const first = await me({ user: { ...ADELE, groups: [ENG, SALES] } });
    // A membership another channel (e.g. SCIM) brought must survive the SAML sync.
    const ops = await gw.store.groups.ensure(tenantId, OPS, { displayName: 'Operations', nameResolved: true });
    await gw.store.memberships.add(first.id, ops.id, 'scim:other');

    const second = await me({ user: { ...ADELE, groups: [SALES] } });
    expect(second.id).toBe(first.id);
    expect(groupIds(second)).toEqual([OPS, SALES].sort());
    expect((await events()).find((e) => e.type === 'memberships_changed')!.details).toMatchObject({ added: [], removed: [ENG] });
    // Groups themselves are never deleted by a login.
    expect(await groups()).toHaveLength(3);
  });

  it('follows a UPN rename by the pinned object id instead of creating a second account', async () => {
    const first = await me({ user: ADELE });
    const renamed = await me({ user: { ...ADELE, upn: 'adele.smith@contoso.example', email: 'adele.smith@contoso.example' } });
    expect(renamed.id).toBe(first.id);
    expect(renamed.username).toBe('adele.smith@contoso.example');
    expect(await users()).toHaveLength(1);
    expect((await events()).find((e) => e.type === 'user_updated')?.details).toMatchObject({ changed: expect.arrayContaining(['username', 'email']) });
  });

  it('matches an existing account by normalised UPN and pins the object id (case and Unicode folding)', async () => {
    const first = await me({ user: { ...ADELE, upn: 'ÄDELE@contoso.example', objectId: '00000000-0000-4000-8000-000000000001' } });
    // Same person, other spelling, and the IdP id is new to us: matched by key, then linked.
    const second = await me({ user: { ...ADELE, upn: 'ädele@Contoso.example', objectId: '00000000-0000-4000-8000-000000000002' } });
    expect(second.id).toBe(first.id);
    expect(await users()).toHaveLength(1);
  });

  it('keeps memberships unchanged on a groups overage and logs it', async () => {
    const first = await me({ user: { ...ADELE, groups: [ENG, SALES] } });
    const overage = await me({
      user: ADELE,
      attributes: {
        [ENTRA_CLAIM.name]: [ADELE.upn],
        [ENTRA_CLAIM.email]: [ADELE.email],
        [ENTRA_CLAIM.objectId]: [ADELE.objectId],
        [ENTRA_CLAIM.groupsLink]: [`https://graph.microsoft.com/v1.0/users/${ADELE.objectId}/getMemberObjects`],
      },
    });
    expect(overage.id).toBe(first.id);
    expect(groupIds(overage)).toEqual([ENG, SALES].sort());
    expect((await events()).find((e) => e.type === 'groups_overage')).toMatchObject({ outcome: 'info', reason: 'groups_overage' });
  });

  it('updates names on login, and stops doing so when updateOnLogin is off', async () => {
    await me({ user: ADELE });
    const updated = await me({ user: { ...ADELE, givenName: 'Adèle', displayName: 'Adèle Vance' } });
    expect(updated.fullName).toBe('Adèle Vance');
    await request(gw.app).patch(`/api/connections/${connectionId}`).set(authHeader).send({ jit: { updateOnLogin: false } }).expect(200);
    const kept = await me({ user: { ...ADELE, givenName: 'Someone', surname: 'Else' } });
    expect(kept.fullName).toBe('Adèle Vance');
  });

  it('uses the username as the full name when both names are blank', async () => {
    const m = await me({
      attributes: { [ENTRA_CLAIM.name]: ['plain@contoso.example'], [ENTRA_CLAIM.objectId]: ['00000000-0000-4000-8000-0000000000aa'] },
      nameId: 'plain@contoso.example',
    });
    expect(m.fullName).toBe('plain@contoso.example');
  });

  it('creates exactly one account when the same person signs in twice at once', async () => {
    const results = await Promise.all([login({ user: ADELE }), login({ user: ADELE })]);
    for (const r of results) expect(r.res.status).toBe(200);
    expect(await users()).toHaveLength(1);
    expect(await groups()).toHaveLength(2);
  });

  it('shows a renamed group by its real name in /api/me and /auth/check', async () => {
    await me({ user: { ...ADELE, groups: [ENG] } });
    await request(gw.app).post('/api/tenants/contoso/groups/rename').set(authHeader).send({ names: { [ENG]: 'Engineering' } }).expect(200);
    const { agent } = await login({ user: { ...ADELE, groups: [ENG] } });
    const after = (await agent.get('/api/me').expect(200)).body;
    expect(after.groups).toEqual([expect.objectContaining({ externalId: ENG, displayName: 'Engineering', nameResolved: true })]);
    expect((await agent.get('/auth/check').expect(200)).headers['x-gatehouse-groups']).toBe('Engineering');
    // A later login (still carrying the GUID) does not rename it back or duplicate it.
    expect(await groups()).toHaveLength(1);
  });
});

describe('membership mode append', () => {
  beforeEach(() => setUp({ jit: { membershipMode: 'append' } }));
  it('adds claimed groups and removes none', async () => {
    await me({ user: { ...ADELE, groups: [ENG] } });
    const second = await me({ user: { ...ADELE, groups: [SALES] } });
    expect(groupIds(second)).toEqual([ENG, SALES].sort());
  });
});

describe('group filters', () => {
  it('requireAnyGroup admits members and refuses others, creating nothing on refusal', async () => {
    await setUp({ jit: { requireAnyGroup: [ENG] } });
    const refused = await login({ user: { ...ADELE, groups: [SALES] } });
    expect(refused.res.status).toBe(403);
    expect(refused.res.body.error.code).toBe('not_in_required_group');
    expect(await users()).toEqual([]);
    expect(await groups()).toEqual([]);
    expect((await events()).find((e) => e.outcome === 'refused')).toMatchObject({ type: 'login', reason: 'not_in_required_group' });

    expect((await login({ user: { ...ADELE, groups: [ENG, SALES] } })).res.status).toBe(200);
    expect(await users()).toHaveLength(1);
  });

  it('requireAnyGroup matches a group by its resolved name', async () => {
    await setUp({ jit: { requireAnyGroup: ['Engineering'] } });
    await gw.store.groups.ensure(tenantId, ENG, { displayName: 'Engineering', nameResolved: true });
    expect((await login({ user: { ...ADELE, groups: [ENG] } })).res.status).toBe(200);
    expect((await login({ user: { ...ADELE, objectId: '00000000-0000-4000-8000-0000000000bb', upn: 'x@contoso.example', groups: [SALES] } })).res.status).toBe(403);
  });

  it('onlyGroups creates and syncs only the listed groups', async () => {
    await setUp({ jit: { onlyGroups: [ENG] } });
    const m = await me({ user: { ...ADELE, groups: [ENG, SALES, OPS] } });
    expect(groupIds(m)).toEqual([ENG]);
    expect((await groups()).map((g) => g.externalId)).toEqual([ENG]);
    expect((await events()).find((e) => e.type === 'groups_ignored')?.details).toEqual({ groups: [SALES, OPS] });
  });

  it('excludeGroups never creates or syncs the listed groups', async () => {
    await setUp({ jit: { excludeGroups: [SALES] } });
    const m = await me({ user: { ...ADELE, groups: [ENG, SALES] } });
    expect(groupIds(m)).toEqual([ENG]);
    expect((await groups()).map((g) => g.externalId)).toEqual([ENG]);
  });
});

describe('JIT off, match by email, domains and tenants', () => {
  it('with JIT off refuses unknown people and admits existing accounts', async () => {
    await setUp();
    await me({ user: ADELE });
    await request(gw.app).patch(`/api/connections/${connectionId}`).set(authHeader).send({ jit: { enabled: false } }).expect(200);
    expect((await login({ user: ADELE })).res.status).toBe(200);
    const stranger = await login({ user: { upn: 'new@contoso.example', email: 'new@contoso.example', objectId: '00000000-0000-4000-8000-0000000000cc' } });
    expect(stranger.res.status).toBe(403);
    expect(stranger.res.body.error.code).toBe('jit_disabled');
    expect(await users()).toHaveLength(1);
  });

  it('matches by the email claim when the connection says so', async () => {
    await setUp({ matchBy: 'email' });
    const m = await me({ user: { ...ADELE, upn: 'adele@contoso.onmicrosoft.example', email: 'Adele.Vance@contoso.example' } });
    expect(m.username).toBe('Adele.Vance@contoso.example');
    const refused = await login({ attributes: { [ENTRA_CLAIM.name]: ['noemail@contoso.example'] } });
    expect(refused.res.status).toBe(403);
    expect(refused.res.body.error.code).toBe('missing_username');
  });

  it('refuses an email outside the owned domains even when the UPN is inside', async () => {
    await setUp({}, ['contoso.example']);
    const r = await login({ user: { ...ADELE, email: 'adele@gmail.example' } });
    expect(r.res.status).toBe(403);
    expect(r.res.body.error.code).toBe('domain_not_owned');
    expect(await users()).toEqual([]);
  });

  it('never links across tenants: the same person in two tenants is two accounts', async () => {
    await setUp();
    const a = await me({ user: ADELE });
    const fabrikam = (await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'fabrikam', name: 'Fabrikam' }).expect(201)).body;
    const c2 = (
      await request(gw.app)
        .post('/api/tenants/fabrikam/connections')
        .set(authHeader)
        .send({ slug: 'fabrikam-entra', metadataXml: idp.metadataXml() })
        .expect(201)
    ).body;
    const { agent, res } = await login({ user: ADELE }, { entityId: c2.spEntityId, acsUrl: c2.acsUrl }, 'fabrikam-entra');
    expect(res.status).toBe(200);
    const b = (await agent.get('/api/me').expect(200)).body;
    expect(b.id).not.toBe(a.id);
    expect(b.tenant.slug).toBe('fabrikam');
    expect((await gw.store.users.listByTenant(fabrikam.id, { offset: 0, limit: 10 })).total).toBe(1);
    expect(await users()).toHaveLength(1);
  });
});
