/**
 * SCIM and SAML as one system: the shared matching rules (adoption of a JIT user, a GUID-named JIT group renamed by
 * SCIM, a SCIM user signing in through the real ACS), deprovisioning (sessions revoked at once, logins refused,
 * re-enabling), soft and hard delete, and tenant isolation of tokens.
 */
import request from 'supertest';
import { authHeader } from '../helpers/gateway';
import { entraUser, GROUP_SCHEMA, scimClient, setUpScim, type ScimSetup } from '../helpers/scim';
import type { ResponseOptions } from '../helpers/test-idp';

const ENG = '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d';
const ADELE = { upn: 'adele.vance@contoso.example', email: 'adele.vance@contoso.example', objectId: '9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b', groups: [ENG] };

let setup: ScimSetup;
let scim: ReturnType<typeof scimClient>;

afterEach(async () => {
  await setup?.gw.close();
});

async function start(settings: Record<string, unknown> = {}, domains: string[] = []) {
  setup = await setUpScim(settings, { domains });
  scim = scimClient(setup);
}

async function login(options: ResponseOptions = {}) {
  const agent = request.agent(setup.gw.app);
  const res = await agent.post(`/sso/${setup.slug}/acs`).set('Accept', 'application/json').type('form').send(setup.idp.postBody(setup.sp, options));
  return { agent, res };
}

const sessionsOf = (userId: string) =>
  (setup.gw.store as unknown as { db: { prepare(sql: string): { get(id: string): { n: number } } } }).db
    .prepare('SELECT count(*) AS n FROM sessions WHERE user_id = ?')
    .get(userId).n;

describe('one account per person, whichever channel came first', () => {
  beforeEach(() => start());

  it('a JIT user is found by userName and adopted by POST (201, same id); a second POST is 409 uniqueness', async () => {
    const { agent, res } = await login({ user: ADELE });
    expect(res.status).toBe(200);
    const me = (await agent.get('/api/me').expect(200)).body;

    const found = await scim.get(`/Users?filter=${encodeURIComponent('userName eq "ADELE.VANCE@contoso.example"')}`).expect(200);
    expect(found.body.Resources.map((r: { id: string }) => r.id)).toEqual([me.id]);
    expect(found.body.Resources[0]).toMatchObject({ userName: ADELE.upn, emails: [{ value: ADELE.email, type: 'work', primary: true }], active: true });

    const adopted = await scim.post('/Users', entraUser('Adele.Vance@contoso.example', { externalId: 'adelev' })).expect(201);
    expect(adopted.body.id).toBe(me.id);
    expect(adopted.body.externalId).toBe('adelev');
    expect((await setup.gw.store.users.listByTenant(setup.tenantId, { offset: 0, limit: 10 })).total).toBe(1);
    // The session survives adoption; the account now carries the SCIM values.
    expect((await agent.get('/api/me').expect(200)).body).toMatchObject({ id: me.id, fullName: 'Given Family' });

    const again = await scim.post('/Users', entraUser('adele.vance@contoso.example')).expect(409);
    expect(again.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '409', scimType: 'uniqueness' });
    const events = await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 50 });
    expect(events.find((e) => e.type === 'user_adopted')).toMatchObject({ subject: 'Adele.Vance@contoso.example', details: { userId: me.id, from: 'unowned' } });
  });

  it('a SCIM-created user signing in through the ACS lands on the same account', async () => {
    const created = await scim.post('/Users', entraUser('new.hire@contoso.example')).expect(201);
    const { agent, res } = await login({ user: { ...ADELE, upn: 'NEW.HIRE@contoso.example', email: 'new.hire@contoso.example', objectId: '11111111-2222-4333-8444-555555555555', groups: [] } });
    expect(res.status).toBe(200);
    expect((await agent.get('/api/me').expect(200)).body.id).toBe(created.body.id);
    expect((await setup.gw.store.users.listByTenant(setup.tenantId, { offset: 0, limit: 10 })).total).toBe(1);
  });

  it('a GUID-named JIT group is adopted by its externalId and renamed; the signed-in user sees the name', async () => {
    const { agent } = await login({ user: ADELE });
    const jitGroup = (await setup.gw.store.groups.findByExternalId(setup.tenantId, ENG))!;
    expect(jitGroup).toMatchObject({ displayName: ENG, nameResolved: false });
    // Entra first looks for the group by name: a GUID-named group is not "Engineering".
    expect((await scim.get(`/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "Engineering"')}`).expect(200)).body.totalResults).toBe(0);

    const me = (await agent.get('/api/me').expect(200)).body;
    const created = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: ENG, displayName: 'Engineering', members: [{ value: me.id }] }).expect(201);
    expect(created.body).toMatchObject({ id: jitGroup.id, externalId: ENG, displayName: 'Engineering', members: [{ value: me.id }] });
    expect(await setup.gw.store.groups.findById(jitGroup.id)).toMatchObject({ displayName: 'Engineering', nameResolved: true });
    expect((await agent.get('/api/me').expect(200)).body.groups).toEqual([expect.objectContaining({ id: jitGroup.id, displayName: 'Engineering' })]);

    const events = await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 50 });
    expect(events.find((e) => e.type === 'group_renamed')).toMatchObject({ subject: ENG, details: { from: ENG, to: 'Engineering' } });
    expect(events.find((e) => e.type === 'group_adopted')).toBeDefined();
    // The SAML membership and the SCIM one are kept apart: the next login's group sync does not remove SCIM's.
    await login({ user: { ...ADELE, groups: [] } });
    expect((await setup.gw.store.memberships.listByUser(me.id)).map((m) => m.source)).toEqual([`scim:${setup.connectionId}`]);
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: ENG, displayName: 'Again' }).expect(409);
  });

  it('matchBy email: the primary/work email is the username, and the SAML email claim finds the SCIM account', async () => {
    await setup.gw.close();
    await start({ matchBy: 'email' });
    const created = await scim
      .post('/Users', entraUser('upn.only@contoso.onmicrosoft.com', { emails: [{ type: 'work', value: 'Pat.Doe@contoso.example' }] }))
      .expect(201);
    expect(created.body.userName).toBe('upn.only@contoso.onmicrosoft.com');
    expect(await setup.gw.store.users.findById(created.body.id)).toMatchObject({ username: 'Pat.Doe@contoso.example' });
    expect((await scim.get(`/Users?filter=${encodeURIComponent('userName eq "UPN.ONLY@contoso.onmicrosoft.com"')}`).expect(200)).body.totalResults).toBe(1);
    const { agent } = await login({ user: { ...ADELE, upn: 'someone.else@contoso.example', email: 'pat.doe@contoso.example', groups: [] } });
    expect((await agent.get('/api/me').expect(200)).body.id).toBe(created.body.id);
    await scim.post('/Users', entraUser('x@contoso.example', { emails: [] })).expect(400);
  });

  it('owned domains are enforced for SCIM too', async () => {
    await setup.gw.close();
    await start({}, ['contoso.example']);
    await scim.post('/Users', entraUser('mallory@evil.example')).expect(400);
    await scim.post('/Users', entraUser('ok@contoso.example')).expect(201);
  });
});

describe('deprovisioning', () => {
  beforeEach(() => start());

  it('active false revokes every session at once and refuses new logins; active true re-enables', async () => {
    const first = await login({ user: ADELE });
    const second = await login({ user: ADELE });
    const me = (await first.agent.get('/api/me').expect(200)).body;
    await second.agent.get('/auth/check').expect(200);
    expect(sessionsOf(me.id)).toBe(2);

    await scim.patch(`/Users/${me.id}`, [{ op: 'Replace', path: 'active', value: false }]).expect(200);
    expect(sessionsOf(me.id)).toBe(0);
    await first.agent.get('/api/me').expect(401);
    await second.agent.get('/auth/check').expect(401);
    expect((await login({ user: ADELE })).res.status).toBe(403);

    await scim.patch(`/Users/${me.id}`, [{ op: 'Replace', path: 'active', value: 'True' }]).expect(200);
    const back = await login({ user: ADELE });
    expect(back.res.status).toBe(200);
    expect((await back.agent.get('/api/me').expect(200)).body.id).toBe(me.id);
    const types = (await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 50 })).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['user_disabled', 'user_enabled']));
  });

  it('soft delete (default): disabled, detached, kept for audit, sessions revoked; a later POST relinks it', async () => {
    const { agent } = await login({ user: ADELE });
    const created = await scim.post('/Users', entraUser(ADELE.upn)).expect(201);
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Team', members: [{ value: created.body.id }] }).expect(201);

    await scim.delete(`/Users/${created.body.id}`).expect(204);
    await agent.get('/api/me').expect(401);
    await scim.get(`/Users/${created.body.id}`).expect(404);
    expect((await scim.get(`/Users?filter=${encodeURIComponent(`userName eq "${ADELE.upn}"`)}`).expect(200)).body.totalResults).toBe(0);
    expect(await setup.gw.store.users.findById(created.body.id)).toMatchObject({ active: false, username: ADELE.upn });
    expect((await scim.get(`/Groups/${group.body.id}`).expect(200)).body.members).toBeUndefined();
    expect((await login({ user: ADELE })).res.status).toBe(403);

    const relinked = await scim.post('/Users', entraUser(ADELE.upn)).expect(201);
    expect(relinked.body.id).toBe(created.body.id);
    expect(relinked.body.active).toBe(true);
    expect((await login({ user: ADELE })).res.status).toBe(200);
  });

  it('hard delete removes the user and its memberships', async () => {
    await request(setup.gw.app).patch(`/api/connections/${setup.connectionId}`).set(authHeader).send({ scim: { deleteMode: 'hard' } }).expect(200);
    const { agent } = await login({ user: ADELE });
    const created = await scim.post('/Users', entraUser(ADELE.upn)).expect(201);
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Team', members: [{ value: created.body.id }] }).expect(201);
    await scim.delete(`/Users/${created.body.id}`).expect(204);
    expect(await setup.gw.store.users.findById(created.body.id)).toBeNull();
    expect(await setup.gw.store.memberships.listByUser(created.body.id)).toEqual([]);
    await agent.get('/api/me').expect(401);
    expect(sessionsOf(created.body.id)).toBe(0);
    const deleted = (await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 50 })).find((e) => e.type === 'user_deleted');
    expect(deleted?.details).toMatchObject({ mode: 'hard' });
  });

  it('groups follow the delete mode too', async () => {
    const soft = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: 'g-soft', displayName: 'Soft' }).expect(201);
    await scim.delete(`/Groups/${soft.body.id}`).expect(204);
    expect(await setup.gw.store.groups.findById(soft.body.id)).not.toBeNull();
    await scim.get(`/Groups/${soft.body.id}`).expect(404);
    // A later POST with the same externalId re-adopts it.
    expect((await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: 'g-soft', displayName: 'Soft 2' }).expect(201)).body.id).toBe(soft.body.id);

    await request(setup.gw.app).patch(`/api/connections/${setup.connectionId}`).set(authHeader).send({ scim: { deleteMode: 'hard' } }).expect(200);
    await scim.delete(`/Groups/${soft.body.id}`).expect(204);
    expect(await setup.gw.store.groups.findById(soft.body.id)).toBeNull();
  });
});

describe('tokens select the tenant', () => {
  it("a token of one connection never reaches another tenant's data", async () => {
    setup = await setUpScim();
    const fabrikam = await setUpScim({}, { gw: setup.gw, tenant: 'fabrikam' });
    scim = scimClient(setup);
    const other = scimClient(fabrikam);
    const mine = await scim.post('/Users', entraUser('same@shared.example')).expect(201);
    const theirs = await other.post('/Users', entraUser('same@shared.example')).expect(201);
    expect(theirs.body.id).not.toBe(mine.body.id);
    await other.get(`/Users/${mine.body.id}`).expect(404);
    await other.patch(`/Users/${mine.body.id}`, [{ op: 'Replace', path: 'active', value: false }]).expect(404);
    await other.delete(`/Users/${mine.body.id}`).expect(404);
    expect((await other.get('/Users').expect(200)).body.Resources.map((r: { id: string }) => r.id)).toEqual([theirs.body.id]);
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Mine', members: [{ value: mine.body.id }] }).expect(201);
    await other.get(`/Groups/${group.body.id}`).expect(404);
    await other.patch(`/Groups/${group.body.id}`, [{ op: 'Replace', path: 'displayName', value: 'Taken' }]).expect(404);
    await other.put(`/Groups/${group.body.id}`, { schemas: [GROUP_SCHEMA], displayName: 'Taken' }).expect(404);
    await other.delete(`/Groups/${group.body.id}`).expect(404);
    // Filters never reach across either, not even by id.
    const none = async (path: string, filter: string) =>
      expect((await other.get(`${path}?filter=${encodeURIComponent(filter)}`).expect(200)).body.totalResults).toBe(0);
    await none('/Users', `id eq "${mine.body.id}"`);
    await none('/Users', `externalId eq "${mine.body.externalId}" and userName ne "same@shared.example"`);
    await none('/Groups', `members[value eq "${mine.body.id}"]`);
    await none('/Groups', 'displayName eq "Mine"');
    expect((await scim.get(`/Groups/${group.body.id}`).expect(200)).body).toMatchObject({ displayName: 'Mine', members: [{ value: mine.body.id }] });
    // Members must be users the client can see.
    await other.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'X', members: [{ value: mine.body.id }] }).expect(400);
    expect((await setup.gw.store.users.findById(mine.body.id))!.active).toBe(true);
  });

  it('another connection of the same tenant cannot take over a user this one owns', async () => {
    setup = await setUpScim();
    scim = scimClient(setup);
    const c2 = (
      await request(setup.gw.app).post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-okta', metadataXml: setup.idp.metadataXml() }).expect(201)
    ).body.id as string;
    const token2 = (await request(setup.gw.app).post(`/api/connections/${c2}/scim-tokens`).set(authHeader).send({}).expect(201)).body.token as string;
    const second = scimClient({ gw: setup.gw, token: token2 });
    const mine = await scim.post('/Users', entraUser('owned@contoso.example')).expect(201);
    expect((await second.post('/Users', entraUser('owned@contoso.example')).expect(409)).body.scimType).toBe('uniqueness');
    await second.get(`/Users/${mine.body.id}`).expect(404);
  });
});
