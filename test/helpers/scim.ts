/** A gateway with one tenant, one Entra connection and a SCIM token, and small request helpers for SCIM suites. */
import request from 'supertest';
import { TestIdp, type SpTarget } from './test-idp';
import { authHeader, createTestGateway, type TestGateway, type TestGatewayOptions } from './gateway';

export const SCIM_JSON = 'application/scim+json';
export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

export interface ScimSetup {
  gw: TestGateway;
  idp: TestIdp;
  sp: SpTarget;
  connectionId: string;
  tenantId: string;
  slug: string;
  token: string;
}

export async function setUpScim(
  settings: Record<string, unknown> = {},
  options: TestGatewayOptions & { tenant?: string; domains?: string[]; gw?: TestGateway } = {},
): Promise<ScimSetup> {
  const gw = options.gw ?? (await createTestGateway(options));
  const tenant = options.tenant ?? 'contoso';
  const slug = `${tenant}-entra`;
  const idp = new TestIdp();
  const tenantId = (await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: tenant, name: tenant, domains: options.domains ?? [] }).expect(201))
    .body.id as string;
  const c = (
    await request(gw.app)
      .post(`/api/tenants/${tenant}/connections`)
      .set(authHeader)
      .send({ slug, metadataXml: idp.metadataXml(), ...settings })
      .expect(201)
  ).body as { id: string; spEntityId: string; acsUrl: string };
  const token = (await request(gw.app).post(`/api/connections/${c.id}/scim-tokens`).set(authHeader).send({}).expect(201)).body.token as string;
  return { gw, idp, sp: { entityId: c.spEntityId, acsUrl: c.acsUrl }, connectionId: c.id, tenantId, slug, token };
}

/** SCIM request helpers bound to one app and token. */
export function scimClient(setup: Pick<ScimSetup, 'gw' | 'token'>) {
  const auth = { Authorization: `Bearer ${setup.token}` };
  const app = setup.gw.app;
  return {
    get: (path: string) => request(app).get(`/scim/v2${path}`).set(auth),
    post: (path: string, body: unknown) => request(app).post(`/scim/v2${path}`).set(auth).set('Content-Type', SCIM_JSON).send(JSON.stringify(body)),
    put: (path: string, body: unknown) => request(app).put(`/scim/v2${path}`).set(auth).set('Content-Type', SCIM_JSON).send(JSON.stringify(body)),
    patch: (path: string, operations: unknown[]) =>
      request(app)
        .patch(`/scim/v2${path}`)
        .set(auth)
        .set('Content-Type', SCIM_JSON)
        .send(JSON.stringify({ schemas: [PATCH_OP], Operations: operations })),
    delete: (path: string) => request(app).delete(`/scim/v2${path}`).set(auth),
  };
}

export function entraUser(userName: string, extra: Record<string, unknown> = {}) {
  return {
    schemas: [USER_SCHEMA, ENTERPRISE],
    externalId: userName.split('@')[0],
    userName,
    active: true,
    emails: [{ primary: true, type: 'work', value: userName }],
    meta: { resourceType: 'User' },
    name: { formatted: 'Given Family', familyName: 'Family', givenName: 'Given' },
    roles: [],
    ...extra,
  };
}
