/**
 * SCIM authentication reads the token on every request, while the store keeps the parsed connection for as long as
 * its version is unchanged: a connection change, a revoked token or a deleted connection is seen by the very next
 * request.
 */
import request from 'supertest';
import { authHeader } from '../helpers/gateway';
import { entraUser, scimClient, setUpScim, type ScimSetup } from '../helpers/scim';

let setup: ScimSetup;
let scim: ReturnType<typeof scimClient>;

beforeEach(async () => {
  setup = await setUpScim();
  scim = scimClient(setup);
  // The connection is parsed and kept by the first request.
  await scim.get('/Users').expect(200);
});
afterEach(async () => {
  await setup?.gw.close();
});

const patchConnection = (body: Record<string, unknown>) =>
  request(setup.gw.app).patch(`/api/connections/${setup.connectionId}`).set(authHeader).send(body).expect(200);

describe('SCIM authentication with a kept connection', () => {
  it('a connection change is seen by the very next SCIM request', async () => {
    const soft = await scim.post('/Users', entraUser('soft@contoso.example')).expect(201);
    await scim.delete(`/Users/${soft.body.id}`).expect(204);
    expect(await setup.gw.store.users.findById(soft.body.id)).not.toBeNull();

    const hard = await scim.post('/Users', entraUser('hard@contoso.example')).expect(201);
    await patchConnection({ scim: { deleteMode: 'hard' } });
    await scim.delete(`/Users/${hard.body.id}`).expect(204);
    expect(await setup.gw.store.users.findById(hard.body.id)).toBeNull();

    const extension = {
      id: 'urn:ietf:params:scim:schemas:extension:info:2.0:User',
      attributes: [{ name: 'costCenter', type: 'string' }],
    };
    await patchConnection({ scim: { extensions: [extension] } });
    const schemas = (await scim.get('/Schemas').expect(200)).body.Resources.map((s: { id: string }) => s.id);
    expect(schemas).toContain(extension.id);
    await patchConnection({ scim: { extensions: [] } });
    await scim.get(`/Schemas/${extension.id}`).expect(404);
  });

  it('a revoked token is refused by the very next request', async () => {
    const [token] = await setup.gw.store.scimTokens.listByConnection(setup.connectionId);
    await scim.get('/Users').expect(200);
    await request(setup.gw.app).delete(`/api/connections/${setup.connectionId}/scim-tokens/${token!.id}`).set(authHeader).expect(200);
    await scim.get('/Users').expect(401);
  });

  it('an expired token is refused by the very next request', async () => {
    const [token] = await setup.gw.store.scimTokens.listByConnection(setup.connectionId);
    await setup.gw.store.scimTokens.extend(token!.id, new Date(Date.now() - 1000));
    await scim.get('/Users').expect(401);
  });

  it('a deleted connection ends its tokens at once', async () => {
    await request(setup.gw.app).delete(`/api/connections/${setup.connectionId}`).set(authHeader).expect((res) => expect(res.status).toBeLessThan(300));
    await scim.get('/Users').expect(401);
  });
});
