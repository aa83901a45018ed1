/**
 * Microsoft Entra ID's provisioning service, replayed request by request against the real app (sqlite::memory:),
 * following the sequence Microsoft publishes for validating a SCIM endpoint: Test Connection, create user, get,
 * query by userName and by externalId, the multi-valued and single-valued PATCH updates, disable, delete; then
 * groups: create, query by displayName without members, rename, add and remove members, delete.
 */
import request from 'supertest';
import { authHeader } from '../helpers/gateway';
import { ENTERPRISE, entraUser, GROUP_SCHEMA, SCIM_JSON, scimClient, setUpScim, USER_SCHEMA, type ScimSetup } from '../helpers/scim';

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

describe('when a request is logged', () => {
  /** Holds every provisioning-log write until `open()`; the real store writes it then. */
  function gateLogWrites() {
    const events = setup.gw.store.events;
    const appendMany = events.appendMany.bind(events);
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const spy = jest.spyOn(events, 'appendMany').mockImplementation(async (entries) => {
      await gate;
      await appendMany(entries);
    });
    return { open, restore: () => spy.mockRestore() };
  }
  const settled = (promise: Promise<unknown>) => Promise.race([promise.then(() => true), new Promise((r) => setTimeout(() => r(false), 100))]);

  it('a change or a refusal is in the log before it is answered', async () => {
    const user = (await scim.post('/Users', entraUser('ordered@testuser.com')).expect(201)).body.id as string;
    const gate = gateLogWrites();
    try {
      const changed = scim.patch(`/Users/${user}`, [{ op: 'replace', path: 'displayName', value: 'Renamed' }]).then((res) => res);
      const refused = scim.get('/Users/00000000-0000-4000-8000-000000000000').then((res) => res);
      expect(await settled(changed)).toBe(false);
      expect(await settled(refused)).toBe(false);
      gate.open();
      expect((await changed).status).toBe(200);
      expect((await refused).status).toBe(404);
    } finally {
      gate.open();
      gate.restore();
    }
  });

  it('a successful read is answered first and logged right after its answer', async () => {
    await scim.post('/Users', entraUser('read@testuser.com')).expect(201);
    const before = (await log()).length;
    const gate = gateLogWrites();
    try {
      const res = await scim.get('/Users?filter=userName%20eq%20%22read@testuser.com%22');
      expect(res.status).toBe(200);
      expect((await log()).length).toBe(before);
      gate.open();
      await new Promise((r) => setTimeout(r, 20));
      const [entry] = await log();
      expect(entry).toMatchObject({ type: 'scim_request', outcome: 'success', details: { method: 'GET', status: 200 } });
    } finally {
      gate.open();
      gate.restore();
    }
  });

  it('without a held write, a read is in the log by the time its answer has arrived', async () => {
    await scim.get('/Users').expect(200);
    expect((await log())[0]).toMatchObject({ type: 'scim_request', details: { method: 'GET', path: '/scim/v2/Users', status: 200 } });
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
    // Member updates answer 204 No Content with the new version, as in Microsoft's examples.
    const added = await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ $ref: null, value: alice }, { $ref: null, value: bob }] }]).expect(204);
    expect(added.headers.etag).toBe('W/"3"');
    expect(added.text).toBe('');
    // Re-adding is a no-op (same version).
    expect((await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ value: alice }] }]).expect(204)).headers.etag).toBe('W/"3"');
    let group = (await scim.get(`/Groups/${gid}`).expect(200)).body;
    expect(group.displayName).toBe('1879db59updatedDisplayName');
    expect(group.members.map((m: { value: string }) => m.value).sort()).toEqual([alice, bob].sort());
    expect((await scim.get(`/Groups?filter=${encodeURIComponent(`members.value eq "${bob}"`)}`).expect(200)).body.totalResults).toBe(1);

    await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: 'members', value: [{ $ref: null, value: alice }] }]).expect(204);
    await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: `members[value eq "${bob}"]` }]).expect(204);
    // Removing an absent member is a no-op.
    await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: 'members', value: [{ value: bob }] }]).expect(204);
    group = (await scim.get(`/Groups/${gid}`).expect(200)).body;
    expect(group.members).toBeUndefined();

    // The user's groups reach the account (the /api/me groups come from memberships).
    await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ value: alice }] }]).expect(204);
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

describe("Entra's PATCH dialect, stored and served back", () => {
  const INFO = 'urn:ietf:params:scim:schemas:extension:info:2.0:User';

  it('path-less Replace with dotted and URN keys, a bare manager id, "False", a filtered Add that creates then merges', async () => {
    const extension = { id: INFO, attributes: [{ name: 'info1', type: 'string' }, { name: 'info2', type: 'string' }] };
    await request(setup.gw.app).patch(`/api/connections/${setup.connectionId}`).set(authHeader).send({ scim: { extensions: [extension] } }).expect(200);
    const manager = (await scim.post('/Users', { schemas: [USER_SCHEMA], userName: 'boss@testuser.com' }).expect(201)).body.id as string;
    const created = (await scim.post('/Users', { schemas: [USER_SCHEMA], userName: 'pat@testuser.com', externalId: 'pat' }).expect(201)).body;
    expect(created.emails).toBeUndefined();

    const patched = await scim
      .patch(`/Users/${created.id}`, [
        // Add on a filtered entry that does not exist creates it; the next sub-attribute Add merges into it.
        { op: 'Add', path: 'emails[type eq "work"].value', value: 'Pat.Doe@testuser.com' },
        { op: 'Add', path: 'emails[type eq "work"].primary', value: 'True' },
        {
          op: 'Replace',
          value: {
            'name.givenName': 'Pat',
            'name.familyName': 'Doe',
            displayName: 'Pat Doe',
            active: 'False',
            [`${ENTERPRISE}:department`]: 'Engineering',
            [`${ENTERPRISE}:manager`]: manager,
            [`${INFO}:info1`]: 'one',
          },
        },
        { op: 'REPLACE', path: `${ENTERPRISE}:employeeNumber`, value: 'E-7' },
        { op: 'add', path: INFO, value: { info2: 'two' } },
      ])
      .expect(200);
    const expected = {
      id: created.id,
      externalId: 'pat',
      userName: 'pat@testuser.com',
      active: false,
      displayName: 'Pat Doe',
      name: { givenName: 'Pat', familyName: 'Doe' },
      emails: [{ type: 'work', value: 'Pat.Doe@testuser.com', primary: true }],
      [ENTERPRISE]: { department: 'Engineering', manager: { value: manager }, employeeNumber: 'E-7' },
      [INFO]: { info1: 'one', info2: 'two' },
    };
    expect(patched.body).toMatchObject(expected);
    expect(patched.body.schemas).toEqual([USER_SCHEMA, ENTERPRISE, INFO]);
    const stored = (await scim.get(`/Users/${created.id}`).expect(200)).body;
    expect(stored).toEqual(patched.body);
    // The account itself carries what sign-in and /api/me use.
    expect(await setup.gw.store.users.findById(created.id)).toMatchObject({
      email: 'Pat.Doe@testuser.com',
      givenName: 'Pat',
      familyName: 'Doe',
      displayName: 'Pat Doe',
      fullName: 'Pat Doe',
      active: false,
    });
    // And the stored values are what the filters find.
    for (const filter of [
      'emails[type eq "work"].value eq "pat.doe@TESTUSER.com"',
      `${ENTERPRISE}:employeeNumber eq "e-7"`,
      'name.familyName eq "DOE" and active eq "False"',
    ]) {
      expect((await scim.get(`/Users?filter=${encodeURIComponent(filter)}`).expect(200)).body.Resources.map((r: { id: string }) => r.id)).toEqual([created.id]);
    }

    // Unknown attributes and targets are 400 with nothing stored, even when earlier operations were valid.
    const refusals: [unknown[], string][] = [
      [[{ op: 'Replace', path: 'displayName', value: 'X' }, { op: 'Replace', path: `${INFO}:info9`, value: 'x' }], 'invalidPath'],
      [[{ op: 'Replace', value: { displayName: 'X', 'name.nickName9': 'x' } }], 'invalidPath'],
      [[{ op: 'Add', path: 'urn:ietf:params:scim:schemas:extension:nope:2.0:User:x', value: 'x' }], 'invalidPath'],
      [[{ op: 'Remove', path: 'emails[type eq "home"]' }], 'noTarget'],
      [[{ op: 'Replace', path: 'emails[type eq "home" or type eq "other"].value', value: 'x@testuser.com' }], 'noTarget'],
      [[{ op: 'Remove' }], 'noTarget'],
    ];
    for (const [operations, scimType] of refusals) {
      const res = await scim.patch(`/Users/${created.id}`, operations).expect(400);
      expect(res.body).toMatchObject({ status: '400', scimType });
    }
    expect((await scim.get(`/Users/${created.id}`).expect(200)).body).toEqual(stored);

    // Removing something absent is a no-op (same version); removing a filtered entry removes it.
    expect((await scim.patch(`/Users/${created.id}`, [{ op: 'Remove', path: 'nickName' }]).expect(200)).headers.etag).toBe(stored.meta.version);
    const removed = await scim.patch(`/Users/${created.id}`, [{ op: 'Remove', path: 'emails[type eq "work"]' }, { op: 'Remove', path: `${ENTERPRISE}:manager` }]).expect(200);
    expect(removed.body.emails).toBeUndefined();
    expect(removed.body[ENTERPRISE]).toEqual({ department: 'Engineering', employeeNumber: 'E-7' });
    expect((await setup.gw.store.users.findById(created.id))!.email).toBeNull();
  });

  it('a member Add/Remove reads only the members it names and answers 204; other group PATCHes answer the whole group', async () => {
    const users = await Promise.all(['m1', 'm2', 'm3'].map(async (n) => (await scim.post('/Users', entraUser(`${n}@testuser.com`)).expect(201)).body.id as string));
    const [m1, m2, m3] = users as [string, string, string];
    const gid = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Big', members: [{ value: m1 }, { value: m2 }] }).expect(201)).body.id as string;
    const wholeList = jest.spyOn(setup.gw.store.scimGroups, 'members');
    const named = jest.spyOn(setup.gw.store.scimGroups, 'membersAmong');
    try {
      const res = await scim
        .patch(`/Groups/${gid}`, [
          { op: 'Add', path: 'members', value: [{ value: m3 }, { value: m1 }] },
          { op: 'Remove', path: `members[value eq "${m2}"]` },
        ])
        .expect(204);
      expect(res.headers.etag).toBe('W/"2"');
      expect(wholeList).not.toHaveBeenCalled();
      expect(named).toHaveBeenCalledWith(gid, `scim:${setup.connectionId}`, [m3, m1, m2]);
      // A member that does not exist is still refused, and nothing changes.
      const refused = await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ value: 'no-such-user' }] }]).expect(400);
      expect(refused.body).toMatchObject({ scimType: 'invalidValue' });
      expect(wholeList).not.toHaveBeenCalled();
    } finally {
      wholeList.mockRestore();
      named.mockRestore();
    }
    const group = (await scim.get(`/Groups/${gid}`).expect(200)).body;
    expect(group.members.map((m: { value: string }) => m.value).sort()).toEqual([m1, m3].sort());
    expect(group.meta.version).toBe('W/"2"');
    const change = (await log()).find((e) => e.type === 'memberships_changed' && (e.details.removed as string[]).length > 0);
    expect(change?.details).toMatchObject({ groupId: gid, added: [m3], removed: [m2] });

    // A PATCH that also renames, or removes every member, answers the whole group.
    const mixed = await scim.patch(`/Groups/${gid}`, [{ op: 'Add', path: 'members', value: [{ value: m2 }] }, { op: 'Replace', path: 'displayName', value: 'Bigger' }]).expect(200);
    expect(mixed.body).toMatchObject({ displayName: 'Bigger', meta: { version: 'W/"3"' } });
    expect(mixed.body.members.map((m: { value: string }) => m.value).sort()).toEqual([m1, m2, m3].sort());
    const cleared = await scim.patch(`/Groups/${gid}`, [{ op: 'Remove', path: 'members' }]).expect(200);
    expect(cleared.body.members).toBeUndefined();
    expect((await scim.get(`/Groups/${gid}`).expect(200)).body.members).toBeUndefined();
  });

  it('PUT /Groups honours members: the list is replaced, the difference added and removed', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(async (n) => (await scim.post('/Users', entraUser(`${n}@testuser.com`)).expect(201)).body.id as string));
    const group = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Team', members: [{ value: a }, { value: b }] }).expect(201)).body;
    expect(group.members.map((m: { value: string }) => m.value).sort()).toEqual([a, b].sort());
    const put = await scim.put(`/Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName: 'Team 2', members: [{ value: b }, { value: c, $ref: null }] }).expect(200);
    expect(put.body.displayName).toBe('Team 2');
    expect(put.body.members.map((m: { value: string }) => m.value).sort()).toEqual([b, c].sort());
    expect((await setup.gw.store.memberships.listByUser(a)).map((m) => m.groupId)).toEqual([]);
    expect((await setup.gw.store.memberships.listByUser(c)).map((m) => m.groupId)).toEqual([group.id]);
    const changes = (await log()).filter((e) => e.type === 'memberships_changed').map((e) => e.details);
    expect(changes[0]).toMatchObject({ groupId: group.id, added: [c], removed: [a] });
    // A member this client cannot see is refused, and nothing changes.
    await scim.put(`/Groups/${group.id}`, { schemas: [GROUP_SCHEMA], displayName: 'Team 3', members: [{ value: 'no-such-user' }] }).expect(400);
    expect((await scim.get(`/Groups/${group.id}`).expect(200)).body).toEqual(put.body);
  });
});

describe('filters over HTTP', () => {
  const ids = async (path: string, filter: string) =>
    ((await scim.get(`${path}?filter=${encodeURIComponent(filter)}`).expect(200)).body.Resources as { id: string }[]).map((r) => r.id).sort();
  const pause = () => new Promise((resolve) => setTimeout(resolve, 15));

  it('gt/ge/lt/le on meta dates, not, and, or, and value paths on users and groups', async () => {
    const one = (await scim.post('/Users', entraUser('one@testuser.com', { emails: [{ type: 'home', value: 'one@home.example' }] })).expect(201)).body;
    await pause();
    const two = (await scim.post('/Users', entraUser('two@testuser.com')).expect(201)).body;
    await pause();
    const three = (await scim.post('/Users', entraUser('three@testuser.com')).expect(201)).body;
    const at = two.meta.created as string;
    expect(await ids('/Users', `meta.created gt "${at}"`)).toEqual([three.id]);
    expect(await ids('/Users', `meta.created ge "${at}"`)).toEqual([two.id, three.id].sort());
    expect(await ids('/Users', `meta.created lt "${at}"`)).toEqual([one.id]);
    expect(await ids('/Users', `meta.created le "${at}"`)).toEqual([one.id, two.id].sort());
    expect(await ids('/Users', `meta.created eq "${at}"`)).toEqual([two.id]);
    expect(await ids('/Users', `not (meta.created gt "${at}")`)).toEqual([one.id, two.id].sort());
    await pause();
    await scim.patch(`/Users/${one.id}`, [{ op: 'Replace', path: 'displayName', value: 'One' }]).expect(200);
    expect(await ids('/Users', `meta.lastModified gt "${three.meta.lastModified}"`)).toEqual([one.id]);
    expect(await ids('/Users', 'emails[type eq "work"]')).toEqual([two.id, three.id].sort());
    expect(await ids('/Users', 'emails[type eq "home"].value ew "@HOME.example" or userName sw "THR"')).toEqual([one.id, three.id].sort());
    expect(await ids('/Users', 'userName sw "t" and not (userName eq "two@testuser.com")')).toEqual([three.id]);

    const group = (await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'G', members: [{ value: two.id }] }).expect(201)).body;
    await scim.post('/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Empty' }).expect(201);
    expect(await ids('/Groups', `members[value eq "${two.id}"]`)).toEqual([group.id]);
    expect(await ids('/Groups', `members[value eq "${one.id}"]`)).toEqual([]);
    expect(await ids('/Groups', `meta.created le "${group.meta.created}" and members pr`)).toEqual([group.id]);
  });
});
