/**
 * Every way a SCIM request can be wrong, and the limits: the SCIM error schema (status as a string, scimType),
 * 401 for missing/unknown/expired/revoked tokens, 415, 413, 400s that store nothing, 404, 409, 412 on an ETag
 * mismatch, and 429 with Retry-After per token.
 */
import request from 'supertest';
import { hashToken } from '../../src/common/secrets';
import { FAILED_AUTH_PER_MINUTE } from '../../src/http/scim';
import { authHeader } from '../helpers/gateway';
import { entraUser, GROUP_SCHEMA, PATCH_OP, SCIM_JSON, scimClient, setUpScim, USER_SCHEMA, type ScimSetup } from '../helpers/scim';

let setup: ScimSetup;
let scim: ReturnType<typeof scimClient>;

beforeEach(async () => {
  setup = await setUpScim();
  scim = scimClient(setup);
});

afterEach(async () => {
  await setup?.gw.close();
});

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

function expectScimError(res: request.Response, status: number, scimType?: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/scim\+json/);
  expect(res.body).toMatchObject({ schemas: [ERROR_SCHEMA], status: String(status) });
  expect(res.body.scimType).toBe(scimType);
  expect(typeof res.body.detail).toBe('string');
  expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+/);
}

describe('authentication', () => {
  it('401 without a token, with an unknown one, and with a Basic header; WWW-Authenticate names Bearer', async () => {
    const missing = await request(setup.gw.app).get('/scim/v2/Users');
    expectScimError(missing, 401);
    expect(missing.headers['www-authenticate']).toMatch(/^Bearer/);
    expectScimError(await request(setup.gw.app).get('/scim/v2/Users').set('Authorization', 'Bearer gh_scim_unknown'), 401);
    expectScimError(await request(setup.gw.app).get('/scim/v2/Users').set('Authorization', `Basic ${Buffer.from(`x:${setup.token}`).toString('base64')}`), 401);
    // The admin API key is not a SCIM token.
    expectScimError(await request(setup.gw.app).get('/scim/v2/Users').set(authHeader), 401);
  });

  it('401 for an expired token', async () => {
    const secret = 'gh_scim_expired-token-for-the-test';
    await setup.gw.store.scimTokens.create({
      connectionId: setup.connectionId,
      tenantId: setup.tenantId,
      kind: 'token',
      hash: hashToken(secret),
      prefix: secret.slice(0, 14),
      clientId: null,
      expiresAt: new Date(Date.now() - 1000),
    });
    expectScimError(await scimClient({ gw: setup.gw, token: secret }).get('/Users'), 401);
    // Logged on the token's own connection, so its admin sees why the provisioning service fails.
    const [entry] = await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 1 });
    expect(entry).toMatchObject({ type: 'scim_request', outcome: 'refused', reason: '401', details: { status: 401, authFailure: 'expired' } });
    expect(JSON.stringify(entry)).not.toContain(secret);
  });

  it('an unknown token is logged on no connection', async () => {
    await request(setup.gw.app).get('/scim/v2/Users').set('Authorization', 'Bearer gh_scim_unknown').expect(401);
    const [entry] = await setup.gw.store.events.list({ channel: 'scim', limit: 1 });
    expect(entry).toMatchObject({ connectionId: null, tenantId: null, details: { status: 401, authFailure: 'unknown', tokenId: null } });
    expect(await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 5 })).toEqual([]);
  });

  it('401 once a token is revoked; the other tokens of the connection keep working', async () => {
    const second = (await request(setup.gw.app).post(`/api/connections/${setup.connectionId}/scim-tokens`).set(authHeader).send({ expiresInDays: 30 }).expect(201)).body;
    await scim.get('/Users').expect(200);
    const firstId = (await request(setup.gw.app).get(`/api/connections/${setup.connectionId}/scim-tokens`).set(authHeader).expect(200)).body.items.find(
      (t: { id: string }) => t.id !== second.id,
    ).id;
    await request(setup.gw.app).delete(`/api/connections/${setup.connectionId}/scim-tokens/${firstId}`).set(authHeader).expect(200);
    expectScimError(await scim.get('/Users'), 401);
    await scimClient({ gw: setup.gw, token: second.token }).get('/Users').expect(200);
    const refused = (await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 10 })).find((e) => e.details.status === 401);
    expect(refused).toMatchObject({ details: { authFailure: 'revoked', tokenId: firstId } });
  });

  it('failed authentications are limited per address: 429 beyond the limit, logged once; a valid token still works', async () => {
    const wrong = () => request(setup.gw.app).get('/scim/v2/Users').set('Authorization', 'Bearer gh_scim_wrong-token');
    for (let i = 0; i < FAILED_AUTH_PER_MINUTE; i++) expect((await wrong()).status).toBe(401);
    const limited = await wrong();
    expectScimError(limited, 429, 'tooMany');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    for (let i = 0; i < 5; i++) expectScimError(await wrong(), 429, 'tooMany');
    // Only failures count: the connection's own token, from the same address, is not refused.
    await scim.get('/Users').expect(200);
    const refused = (await setup.gw.store.events.list({ channel: 'scim', limit: 1000 })).filter((e) => e.details.tokenId === null);
    expect(refused.filter((e) => e.details.status === 401)).toHaveLength(FAILED_AUTH_PER_MINUTE);
    expect(refused.filter((e) => e.details.status === 429)).toHaveLength(1);
  });

  it('a deleted connection takes its tokens with it', async () => {
    await request(setup.gw.app).delete(`/api/connections/${setup.connectionId}`).set(authHeader).expect(204);
    expectScimError(await scim.get('/Users'), 401);
  });
});

describe('bad input changes nothing', () => {
  it('bad JSON is 400 invalidSyntax', async () => {
    const res = await request(setup.gw.app).post('/scim/v2/Users').set('Authorization', `Bearer ${setup.token}`).set('Content-Type', SCIM_JSON).send('{"userName": ');
    expectScimError(res, 400, 'invalidSyntax');
  });

  it('a bad filter is 400 invalidFilter (syntax, unknown attribute, wrong operator)', async () => {
    expectScimError(await scim.get(`/Users?filter=${encodeURIComponent('userName eq')}`), 400, 'invalidFilter');
    expectScimError(await scim.get(`/Users?filter=${encodeURIComponent('password eq "x"')}`), 400, 'invalidFilter');
    expectScimError(await scim.get(`/Users?filter=${encodeURIComponent('active gt true')}`), 400, 'invalidFilter');
    expectScimError(await scim.get(`/Groups?filter=${encodeURIComponent('userName eq "x"')}`), 400, 'invalidFilter');
    expectScimError(await scim.get('/Users?count=abc'), 400, 'invalidValue');
  });

  it('missing userName or schemas is 400 and creates nothing', async () => {
    const { userName: _u, ...noUserName } = entraUser('x@testuser.com');
    expectScimError(await scim.post('/Users', noUserName), 400, 'invalidValue');
    expectScimError(await scim.post('/Users', { ...entraUser('x@testuser.com'), schemas: ['urn:nope'] }), 400, 'invalidSyntax');
    expectScimError(await scim.post('/Users', [entraUser('x@testuser.com')]), 400, 'invalidSyntax');
    expectScimError(await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'] }), 400, 'invalidValue');
    expect((await setup.gw.store.users.listByTenant(setup.tenantId, { offset: 0, limit: 5 })).total).toBe(0);
  });

  it('a bad PATCH is 400 and stores nothing (unknown attribute, bad op, bad value, remove without path)', async () => {
    const user = (await scim.post('/Users', entraUser('p@testuser.com')).expect(201)).body;
    expectScimError(await scim.patch(`/Users/${user.id}`, [{ op: 'Replace', path: 'displayName', value: 'Changed' }, { op: 'Replace', path: 'shoeSize', value: 44 }]), 400, 'invalidPath');
    expectScimError(await scim.patch(`/Users/${user.id}`, [{ op: 'Frobnicate', path: 'displayName', value: 'x' }]), 400, 'invalidSyntax');
    expectScimError(await scim.patch(`/Users/${user.id}`, [{ op: 'Replace', path: 'active', value: 'maybe' }]), 400, 'invalidValue');
    expectScimError(await scim.patch(`/Users/${user.id}`, [{ op: 'Remove' }]), 400, 'noTarget');
    expectScimError(await scim.patch(`/Users/${user.id}`, [{ op: 'Remove', path: 'userName' }]), 400, 'mutability');
    const bare = await request(setup.gw.app)
      .patch(`/scim/v2/Users/${user.id}`)
      .set('Authorization', `Bearer ${setup.token}`)
      .set('Content-Type', SCIM_JSON)
      .send(JSON.stringify({ Operations: [{ op: 'replace', path: 'displayName', value: 'x' }] }));
    expectScimError(bare, 400, 'invalidSyntax');
    const after = (await scim.get(`/Users/${user.id}`).expect(200)).body;
    expect(after.meta.version).toBe(user.meta.version);
    expect(after.displayName).toBeUndefined();
    expect((await setup.gw.store.users.findById(user.id))!.displayName).toBeNull();
  });

  it('a wrong content type is 415; application/json is accepted', async () => {
    const res = await request(setup.gw.app)
      .post('/scim/v2/Users')
      .set('Authorization', `Bearer ${setup.token}`)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify(entraUser('t@testuser.com')));
    expectScimError(res, 415);
    const form = await request(setup.gw.app).post('/scim/v2/Users').set('Authorization', `Bearer ${setup.token}`).type('form').send({ userName: 'x' });
    expectScimError(form, 415);
    const json = await request(setup.gw.app).post('/scim/v2/Users').set('Authorization', `Bearer ${setup.token}`).set('Content-Type', 'application/json').send(entraUser('j@testuser.com'));
    expect(json.status).toBe(201);
    expect(json.headers['content-type']).toMatch(/^application\/scim\+json/);
  });

  it('a body over 1 MB is 413', async () => {
    const huge = { ...entraUser('big@testuser.com'), displayName: 'x'.repeat(1_100_000) };
    expectScimError(await scim.post('/Users', huge), 413);
    expect((await setup.gw.store.users.listByTenant(setup.tenantId, { offset: 0, limit: 5 })).total).toBe(0);
  });

  it('unknown ids are 404, unknown endpoints too; a duplicate POST is 409 uniqueness', async () => {
    expectScimError(await scim.get('/Users/00000000-0000-4000-8000-000000000000'), 404);
    expectScimError(await scim.patch('/Groups/nope', [{ op: 'add', path: 'members', value: [{ value: 'x' }] }]), 404);
    expectScimError(await scim.get('/Bulk'), 404);
    await scim.post('/Users', entraUser('dup@testuser.com')).expect(201);
    expectScimError(await scim.post('/Users', entraUser('DUP@testuser.com')), 409, 'uniqueness');
    await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'G', externalId: 'e1' }).expect(201);
    expectScimError(await scim.post('/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'H', externalId: 'e1' }), 409, 'uniqueness');
  });

  it('routes as Express did: paths case-insensitively, a trailing slash, HEAD as GET; a bad path encoding is 400', async () => {
    const created = (await scim.post('/Users', entraUser('route@testuser.com')).expect(201)).body;
    expect((await scim.get(`/users/${created.id}/`).expect(200)).body.userName).toBe('route@testuser.com');
    expect((await scim.get('/USERS?filter=userName%20eq%20%22route@testuser.com%22').expect(200)).body.totalResults).toBe(1);
    const head = await request(setup.gw.app).head(`/scim/v2/Users/${created.id}`).set('Authorization', `Bearer ${setup.token}`);
    expect(head.status).toBe(200);
    expectScimError(await scim.get('/Users/%E0%A4%A'), 400);
    expectScimError(await scim.delete('/Users'), 404);
  });

  it('only /scim/v2 and /scim/oauth/token are SCIM: other /scim paths get the gateway 404, a GET of the token endpoint 405', async () => {
    const other = await request(setup.gw.app).get('/scim/v1/Users').set('Authorization', `Bearer ${setup.token}`);
    expect(other.status).toBe(404);
    expect(other.headers['content-type']).not.toMatch(/scim\+json/);
    const get = await request(setup.gw.app).get('/scim/oauth/token');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    expect(get.body).toMatchObject({ error: 'invalid_request' });
  });

  it('a PATCH that renames onto a taken userName is 409 and keeps the old name', async () => {
    await scim.post('/Users', entraUser('one@testuser.com')).expect(201);
    const two = (await scim.post('/Users', entraUser('two@testuser.com')).expect(201)).body;
    expectScimError(await scim.patch(`/Users/${two.id}`, [{ op: 'replace', path: 'userName', value: 'ONE@testuser.com' }]), 409, 'uniqueness');
    expect((await scim.get(`/Users/${two.id}`).expect(200)).body.userName).toBe('two@testuser.com');
  });
});

describe('ETags', () => {
  it('If-Match is honoured on PUT, PATCH and DELETE (412 on mismatch, nothing changed)', async () => {
    const user = await scim.post('/Users', entraUser('e@testuser.com')).expect(201);
    const id = user.body.id as string;
    const etag = user.headers.etag as string;
    const auth = { Authorization: `Bearer ${setup.token}`, 'Content-Type': SCIM_JSON };
    const patchBody = JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'replace', path: 'displayName', value: 'E' }] });

    expectScimError(await request(setup.gw.app).patch(`/scim/v2/Users/${id}`).set(auth).set('If-Match', 'W/"99"').send(patchBody), 412);
    expectScimError(
      await request(setup.gw.app).put(`/scim/v2/Users/${id}`).set(auth).set('If-Match', 'W/"99"').send(JSON.stringify(entraUser('e@testuser.com', { displayName: 'P' }))),
      412,
    );
    expectScimError(await request(setup.gw.app).delete(`/scim/v2/Users/${id}`).set(auth).set('If-Match', '"99"'), 412);
    expect((await scim.get(`/Users/${id}`).expect(200)).body.meta.version).toBe(etag);

    const patched = await request(setup.gw.app).patch(`/scim/v2/Users/${id}`).set(auth).set('If-Match', etag).send(patchBody).expect(200);
    expect(patched.headers.etag).toBe('W/"2"');
    expect(patched.body.displayName).toBe('E');
    // The old ETag is stale now.
    expectScimError(await request(setup.gw.app).delete(`/scim/v2/Users/${id}`).set(auth).set('If-Match', etag), 412);
    const put = await request(setup.gw.app)
      .put(`/scim/v2/Users/${id}`)
      .set(auth)
      .set('If-Match', '*')
      .send(JSON.stringify({ schemas: [USER_SCHEMA], userName: 'e@testuser.com', displayName: 'Replaced' }))
      .expect(200);
    expect(put.body).toMatchObject({ displayName: 'Replaced', active: true });
    expect(put.body.emails).toBeUndefined();
    await request(setup.gw.app).delete(`/scim/v2/Users/${id}`).set(auth).set('If-Match', put.headers.etag).expect(204);
  });

  it('If-Match on Groups: PUT, PATCH and DELETE answer 412 on a stale version and change nothing', async () => {
    const alice = (await scim.post('/Users', entraUser('alice@testuser.com')).expect(201)).body.id as string;
    const group = await scim.post('/Groups', { schemas: [GROUP_SCHEMA], externalId: 'g-1', displayName: 'G' }).expect(201);
    const id = group.body.id as string;
    expect(group.headers.etag).toBe('W/"1"');
    const auth = { Authorization: `Bearer ${setup.token}`, 'Content-Type': SCIM_JSON };
    const addAlice = JSON.stringify({ schemas: [PATCH_OP], Operations: [{ op: 'Add', path: 'members', value: [{ value: alice }] }] });
    const put = (displayName: string) => JSON.stringify({ schemas: [GROUP_SCHEMA], externalId: 'g-1', displayName, members: [{ value: alice }] });

    expectScimError(await request(setup.gw.app).patch(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', 'W/"7"').send(addAlice), 412);
    expectScimError(await request(setup.gw.app).put(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', '"7"').send(put('P')), 412);
    expectScimError(await request(setup.gw.app).delete(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', 'W/"7", W/"8"'), 412);
    const unchanged = await scim.get(`/Groups/${id}`).expect(200);
    expect(unchanged.body).toMatchObject({ displayName: 'G', meta: { version: 'W/"1"' } });
    expect(unchanged.body.members).toBeUndefined();

    const patched = await request(setup.gw.app).patch(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', 'W/"3", W/"1"').send(addAlice).expect(204);
    expect(patched.headers.etag).toBe('W/"2"');
    expect((await scim.get(`/Groups/${id}`).expect(200)).body.members).toEqual([expect.objectContaining({ value: alice })]);
    expectScimError(await request(setup.gw.app).put(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', 'W/"1"').send(put('Stale')), 412);
    const replaced = await request(setup.gw.app).put(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', patched.headers.etag).send(put('Renamed')).expect(200);
    expect(replaced.headers.etag).toBe('W/"3"');
    expectScimError(await request(setup.gw.app).delete(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', patched.headers.etag), 412);
    expect((await scim.get(`/Groups/${id}`).expect(200)).body.displayName).toBe('Renamed');
    await request(setup.gw.app).delete(`/scim/v2/Groups/${id}`).set(auth).set('If-Match', replaced.headers.etag).expect(204);
    await scim.get(`/Groups/${id}`).expect(404);
  });

  it('the ETag header is only ever a resource version: lists, discovery documents and errors carry none', async () => {
    const user = await scim.post('/Users', entraUser('tag@testuser.com')).expect(201);
    expect(user.headers.etag).toBe('W/"1"');
    expect((await scim.get(`/Users/${user.body.id}?attributes=userName`).expect(200)).headers.etag).toBe('W/"1"');
    for (const res of [
      await scim.get('/Users?filter=userName eq "tag@testuser.com"').expect(200),
      await scim.get('/Groups').expect(200),
      await scim.get('/ServiceProviderConfig').expect(200),
      await scim.get('/Users/00000000-0000-4000-8000-000000000000').expect(404),
      await request(setup.gw.app).get('/scim/v2/Users').expect(401),
    ]) {
      expect(res.headers.etag).toBeUndefined();
      expect(res.headers['content-type']).toBe('application/scim+json; charset=utf-8');
      expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
    }
  });

  it('a PATCH that changes nothing keeps the version', async () => {
    const user = await scim.post('/Users', entraUser('same@testuser.com')).expect(201);
    const res = await scim.patch(`/Users/${user.body.id}`, [{ op: 'replace', path: 'active', value: 'True' }]).expect(200);
    expect(res.headers.etag).toBe(user.headers.etag);
  });
});

describe('rate limit per token', () => {
  it('429 with Retry-After once a token exceeds its limit; another token is unaffected', async () => {
    await setup.gw.close();
    setup = await setUpScim({}, { scimRateLimitPerMinute: 3 });
    scim = scimClient(setup);
    const other = (await request(setup.gw.app).post(`/api/connections/${setup.connectionId}/scim-tokens`).set(authHeader).send({}).expect(201)).body.token;
    for (let i = 0; i < 3; i++) await scim.get('/Users').expect(200);
    const limited = await scim.get('/Users');
    expectScimError(limited, 429, 'tooMany');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await scimClient({ gw: setup.gw, token: other }).get('/Users').expect(200);
  });

  it('answers with the IETF draft-8 RateLimit headers, the partition key a hash of the credential', async () => {
    await setup.gw.close();
    setup = await setUpScim({}, { scimRateLimitPerMinute: 3 });
    scim = scimClient(setup);
    const first = await scim.get('/Users').expect(200);
    expect(first.headers['ratelimit']).toMatch(/^"3-in-1min"; r=2; t=(59|60)$/);
    const policy = /^"3-in-1min"; q=3; w=60; pk=:([A-Za-z0-9+/=]+):$/.exec(first.headers['ratelimit-policy']);
    expect(policy).not.toBeNull();
    expect((await scim.get('/Users').expect(200)).headers['ratelimit']).toMatch(/^"3-in-1min"; r=1; t=\d+$/);
    expect((await scim.get('/Users').expect(200)).headers['ratelimit-policy']).toBe(first.headers['ratelimit-policy']);
    const limited = await scim.get('/Users');
    expectScimError(limited, 429, 'tooMany');
    expect(limited.headers['ratelimit']).toMatch(/^"3-in-1min"; r=0; t=\d+$/);
    expect(limited.headers['ratelimit-policy']).toBe(first.headers['ratelimit-policy']);
    // Another token is another partition.
    const other = (await request(setup.gw.app).post(`/api/connections/${setup.connectionId}/scim-tokens`).set(authHeader).send({}).expect(201)).body.token;
    const theirs = await scimClient({ gw: setup.gw, token: other }).get('/Users').expect(200);
    expect(theirs.headers['ratelimit-policy']).toMatch(/^"3-in-1min"; q=3; w=60; pk=:[A-Za-z0-9+/=]+:$/);
    expect(theirs.headers['ratelimit-policy']).not.toBe(first.headers['ratelimit-policy']);
  });

  it('an OAuth client has one budget, however many access tokens it obtains', async () => {
    await setup.gw.close();
    setup = await setUpScim({}, { scimRateLimitPerMinute: 3 });
    const client = (await request(setup.gw.app).post(`/api/connections/${setup.connectionId}/scim-clients`).set(authHeader).expect(201)).body;
    const accessToken = async () =>
      (
        await request(setup.gw.app)
          .post('/scim/oauth/token')
          .type('form')
          .send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret })
          .expect(200)
      ).body.access_token as string;
    const first = scimClient({ gw: setup.gw, token: await accessToken() });
    for (let i = 0; i < 3; i++) await first.get('/Users').expect(200);
    expectScimError(await first.get('/Users'), 429, 'tooMany');
    const limited = await scimClient({ gw: setup.gw, token: await accessToken() }).get('/Users');
    expectScimError(limited, 429, 'tooMany');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    // The connection's secret token has its own budget.
    await scimClient(setup).get('/Users').expect(200);
  });
});
