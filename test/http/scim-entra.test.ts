/**
 * Microsoft Entra ID's provisioning service, replayed request by request against the real app (sqlite::memory:),
 * following the sequence Microsoft publishes for validating a SCIM endpoint: Test Connection, create user, get,
 * query by userName and by externalId, the multi-valued and single-valued PATCH updates, disable, delete; then
 * groups: create, query by displayName without members, rename, add and remove members, delete.
 */
import request from 'supertest';
import { authHeader } from '../helpers/gateway';
import { entraUser, GROUP_SCHEMA, SCIM_JSON, scimClient, setUpScim, USER_SCHEMA, type ScimSetup } from '../helpers/scim';

let setup: ScimSetup;
let scim: ReturnType<typeof scimClient>;

beforeEach(async () => {
  setup = await setUpScim();
  scim = scimClient(setup);
});

afterEach(async () => {
  await setup?.gw.close();
});

const log = async () => setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 500 });

describe('Entra user provisioning sequence', () => {
  it('runs Test Connection, create, get, queries, PATCHes, disable and delete', async () => {
    // 1. Test Connection: a random GUID as userName, 200 with an empty list.
    const test = await scim.get('/Users?filter=userName eq "ab6490ee-1e48-479e-a20b-2d77186b5dd1"').expect(200);
    expect(test.headers['content-type']).toMatch(/^application\/scim\+json/);
    expect(test.body).toEqual({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 0,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });

    // 2. Create.
    const body = entraUser('Test_User_ab6490ee@testuser.com', { externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef' });
    const created = await scim.post('/Users', body).expect(201);
    const id = created.body.id as string;
    expect(created.headers.location).toBe(`http://gatehouse.test/scim/v2/Users/${id}`);
    expect(created.headers.etag).toBe('W/"1"');
    expect(created.body).toMatchObject({
      schemas: expect.arrayContaining([USER_SCHEMA]),
      id,
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_ab6490ee@testuser.com',
      active: true,
      name: { givenName: 'Given', familyName: 'Family', formatted: 'Given Family' },
      emails: [{ primary: true, type: 'work', value: 'Test_User_ab6490ee@testuser.com' }],
      meta: { resourceType: 'User', location: `http://gatehouse.test/scim/v2/Users/${id}`, version: 'W/"1"' },
    });
    expect(Date.parse(created.body.meta.created)).not.toBeNaN();
    // The account is one Gatehouse account with the SCIM values.
    expect(await setup.gw.store.users.findById(id)).toMatchObject({ username: 'Test_User_ab6490ee@testuser.com', fullName: 'Given Family', active: true });

    // 3. Get by id.
    const got = await scim.get(`/Users/${id}`).expect(200);
    expect(got.body).toEqual(created.body);
    expect(got.headers.etag).toBe('W/"1"');

    // 4. Query by userName (any case) and by externalId.
    const byName = await scim.get(`/Users?filter=${encodeURIComponent('userName eq "test_user_AB6490EE@testuser.com"')}`).expect(200);
    expect(byName.body).toMatchObject({ totalResults: 1, Resources: [{ id }] });
    const byExternal = await scim.get(`/Users?filter=${encodeURIComponent('externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"')}`).expect(200);
    expect(byExternal.body.Resources.map((r: { id: string }) => r.id)).toEqual([id]);

    // 5. Multi-valued and single-valued attribute updates, in Entra's dialect (capitalised ops).
    const multi = await scim
      .patch(`/Users/${id}`, [
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@testuser.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ])
      .expect(200);
    expect(multi.body.emails).toEqual([{ primary: true, type: 'work', value: 'updatedEmail@testuser.com' }]);
    expect(multi.body.name.familyName).toBe('updatedFamilyName');
    expect(multi.body.meta.version).toBe('W/"2"');
    const single = await scim.patch(`/Users/${id}`, [{ op: 'Replace', path: 'userName', value: '5b50642d@testuser.com' }]).expect(200);
    expect(single.body.userName).toBe('5b50642d@testuser.com');
    expect(await setup.gw.store.users.findById(id)).toMatchObject({ username: '5b50642d@testuser.com', email: 'updatedEmail@testuser.com', familyName: 'updatedFamilyName' });
    // The renamed user is found under its new name only.
    expect((await scim.get('/Users?filter=userName eq "5b50642d@testuser.com"').expect(200)).body.totalResults).toBe(1);
    expect((await scim.get('/Users?filter=userName eq "Test_User_ab6490ee@testuser.com"').expect(200)).body.totalResults).toBe(0);

    // 6. Disable (Entra sends the boolean as a string); the user is still returned by GET and by filter.
    const disabled = await scim.patch(`/Users/${id}`, [{ op: 'Replace', path: 'active', value: 'False' }]).expect(200);
    expect(disabled.body.active).toBe(false);
    expect((await scim.get(`/Users/${id}`).expect(200)).body.active).toBe(false);
    expect((await scim.get('/Users?filter=userName eq "5b50642d@testuser.com"').expect(200)).body.Resources[0].active).toBe(false);

    // 7. Delete.
    await scim.delete(`/Users/${id}`).expect(204);
    await scim.get(`/Users/${id}`).expect(404);

    const types = (await log()).map((e) => e.type).reverse();
    expect(types.filter((t) => t !== 'scim_request')).toEqual(['user_created', 'user_updated', 'user_updated', 'user_disabled', 'user_deleted']);
    expect(types.filter((t) => t === 'scim_request').length).toBe(14);
  });

  it('logs every request without the token or the body', async () => {
    await scim.post('/Users', entraUser('secret.person@testuser.com')).expect(201);
    await request(setup.gw.app).get('/scim/v2/Users').set('Authorization', 'Bearer nope').expect(401);
    const events = await setup.gw.store.events.list({ channel: 'scim', limit: 50 });
    const requests = events.filter((e) => e.type === 'scim_request');
    expect(requests.map((e) => ({ status: e.details.status, method: e.details.method, path: e.details.path, outcome: e.outcome }))).toEqual([
      { status: 401, method: 'GET', path: '/scim/v2/Users', outcome: 'refused' },
      { status: 201, method: 'POST', path: '/scim/v2/Users', outcome: 'success' },
    ]);
    expect(typeof requests[1]!.details.durationMs).toBe('number');
    expect(requests[1]!.details.tokenId).toEqual(expect.any(String));
    expect(requests[0]!.connectionId).toBeNull();
    const text = JSON.stringify(events);
    expect(text).not.toContain(setup.token);
    expect(text).not.toContain('Given Family');
  });
});

describe('Entra group provisioning sequence', () => {
  it('creates, queries without members, renames, adds and removes members, deletes', async () => {
    const alice = (await scim.post('/Users', entraUser('alice@testuser.com')).expect(201)).body.id as string;
    const bob = (await scim.post('/Users', entraUser('bob@testuser.com')).expect(201)).body.id as string;

    // Entra sends a second, non-URN schema URI; it is ignored.
    const created = await scim
      .post('/Groups', {
        schemas: [GROUP_SCHEMA, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'displayName',
        meta: { resourceType: 'Group' },
      })
      .expect(201);
    const gid = created.body.id as string;
    expect(created.headers.location).toBe(`http://gatehouse.test/scim/v2/Groups/${gid}`);
    expect(created.body).toMatchObject({ schemas: [GROUP_SCHEMA], externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', displayName: 'displayName' });
    expect(created.body.members).toBeUndefined();

    const got = await scim.get(`/Groups/${gid}?excludedAttributes=members`).expect(200);
    expect(got.body).toMatchObject({ id: gid, displayName: 'displayName', meta: { resourceType: 'Group', version: 'W/"1"' } });
    const query = await scim.get(`/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "DISPLAYNAME"')}`).expect(200);
    expect(query.body).toMatchObject({ totalResults: 1, Resources: [{ id: gid, displayName: 'displayName' }] });

    await scim.patch(`/Groups/${gid}`, [{ op: 'Replace', path: 'displayName', value: '1879db59updatedDisplayName' }]).expect(200);
    await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ $ref: null, value: alice }, { $ref: null, value: bob }] }]).expect(200);
    // Re-adding is a no-op.
    await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ value: alice }] }]).expect(200);
    let group = (await scim.get(`/Groups/${gid}`).expect(200)).body;
    expect(group.displayName).toBe('1879db59updatedDisplayName');
    expect(group.members.map((m: { value: string }) => m.value).sort()).toEqual([alice, bob].sort());
    expect((await scim.get(`/Groups?filter=${encodeURIComponent(`members.value eq "${bob}"`)}`).expect(200)).body.totalResults).toBe(1);

    await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: alice }] }]).expect(200);
    await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: `members[value eq "${bob}"]` }]).expect(200);
    // Removing an absent member is a no-op.
    await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: 'members', value: [{ value: bob }] }]).expect(200);
    group = (await scim.get(`/Groups/${gid}`).expect(200)).body;
    expect(group.members).toBeUndefined();

    // The user's groups reach the account (the /api/me groups come from memberships).
    await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ value: alice }] }]).expect(200);
    expect((await setup.gw.store.memberships.listByUser(alice)).map((m) => m.groupId)).toEqual([gid]);

    await scim.delete(`/Groups/${gid}`).expect(204);
    await scim.get(`/Groups/${gid}`).expect(404);
    const types = (await log()).map((e) => e.type).filter((t) => t.startsWith('group') || t === 'memberships_changed').reverse();
    expect(types).toEqual(['group_created', 'group_renamed', 'memberships_changed', 'memberships_changed', 'memberships_changed', 'memberships_changed', 'group_deleted']);
  });

  it('lists with startIndex/count paging, attributes and excludedAttributes', async () => {
    for (const name of ['a', 'b', 'c']) await scim.post('/Users', entraUser(`${name}@testuser.com`)).expect(201);
    const page = await scim.get('/Users?startIndex=2&count=1&attributes=userName').expect(200);
    expect(page.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1 });
    expect(Object.keys(page.body.Resources[0]).sort()).toEqual(['id', 'meta', 'schemas', 'userName']);
    expect(page.body.Resources[0].userName).toBe('b@testuser.com');
    const without = await scim.get('/Users?excludedAttributes=emails,name').expect(200);
    expect(without.body.Resources[0].emails).toBeUndefined();
    expect(without.body.Resources[0].userName).toBeDefined();
    expect((await scim.get('/Users?count=0').expect(200)).body).toMatchObject({ totalResults: 3, Resources: [] });
  });

  it('serves the discovery documents with the connection\'s custom extension', async () => {
    const extension = { id: 'urn:ietf:params:scim:schemas:extension:info:2.0:User', attributes: [{ name: 'info1', type: 'string' }, { name: 'info2', type: 'string' }] };
    await request(setup.gw.app).patch(`/api/connections/${setup.connectionId}`).set(authHeader).send({ scim: { extensions: [extension] } }).expect(200);
    const spc = await scim.get('/ServiceProviderConfig').expect(200);
    expect(spc.body).toMatchObject({ patch: { supported: true }, filter: { supported: true }, etag: { supported: true } });
    expect(spc.body.authenticationSchemes.map((s: { type: string }) => s.type)).toEqual(['oauthbearertoken', 'oauth2']);
    const types = await scim.get('/ResourceTypes').expect(200);
    expect(types.body.Resources.find((t: { id: string }) => t.id === 'User').schemaExtensions.map((e: { schema: string }) => e.schema)).toEqual([
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
      extension.id,
    ]);
    await scim.get('/ResourceTypes/Group').expect(200);
    await scim.get('/ResourceTypes/Nope').expect(404);
    const schemas = await scim.get('/Schemas').expect(200);
    expect(schemas.body.Resources.map((s: { id: string }) => s.id)).toContain(extension.id);
    const one = await scim.get(`/Schemas/${extension.id}`).expect(200);
    expect(one.body.attributes.map((a: { name: string }) => a.name)).toEqual(['info1', 'info2']);
    await scim.get('/Schemas/urn:nope:nope').expect(404);

    // Stored, returned, and updatable like any attribute.
    const created = await scim.post('/Users', { ...entraUser('x@testuser.com'), schemas: [USER_SCHEMA, extension.id], [extension.id]: { info1: 'one' } }).expect(201);
    expect(created.body[extension.id]).toEqual({ info1: 'one' });
    expect(created.body.schemas).toContain(extension.id);
    const patched = await scim.patch(`/Users/${created.body.id}`, [{ op: 'Add', path: `${extension.id}:info2`, value: 'two' }]).expect(200);
    expect(patched.body[extension.id]).toEqual({ info1: 'one', info2: 'two' });
    expect((await scim.get(`/Users/${created.body.id}`).expect(200)).body[extension.id]).toEqual({ info1: 'one', info2: 'two' });
    // An attribute the extension does not declare is refused, and nothing is stored.
    await scim.patch(`/Users/${created.body.id}`, [{ op: 'Add', path: `${extension.id}:info3`, value: 'x' }]).expect(400);
    expect((await scim.get(`/Users/${created.body.id}`).expect(200)).body.meta.version).toBe(patched.body.meta.version);
    // A bad declaration is refused by the admin API.
    await request(setup.gw.app)
      .patch(`/api/connections/${setup.connectionId}`)
      .set(authHeader)
      .send({ scim: { extensions: [{ id: 'not-a-urn', attributes: [] }] } })
      .expect(400);
    expect(SCIM_JSON).toBe('application/scim+json');
  });
});
