/**
 * SCIM credentials without HTTP: tokens are random and stored as a hash only, every presented secret is compared
 * through the constant-time secretsEqual (also for unknown OAuth clients), the default lifetime is one year, and a
 * refused OAuth request names the client it was for (so the refusal can be logged on its connection).
 */
import * as secrets from '../../src/common/secrets';
import { ACCESS_TOKEN_SECONDS, DEFAULT_TOKEN_DAYS, ScimCredentials } from '../../src/scim/credentials';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/ports';
import type { Connection } from '../../src/provisioning/types';
import { sampleIdp, sampleSettings } from '../store/contract';

jest.mock('../../src/common/secrets', () => {
  const actual = jest.requireActual<typeof import('../../src/common/secrets')>('../../src/common/secrets');
  return { ...actual, secretsEqual: jest.fn(actual.secretsEqual) };
});

const DAY = 86_400_000;
const equal = secrets.secretsEqual as jest.MockedFunction<typeof secrets.secretsEqual>;
let store: Store;
let connection: Connection;
let credentials: ScimCredentials;

beforeEach(async () => {
  equal.mockClear();
  store = await openStore('sqlite::memory:');
  const tenant = await store.tenants.create({ slug: 'contoso', name: 'Contoso', domains: [] });
  connection = await store.connections.create({ tenantId: tenant.id, slug: 'contoso-entra', name: 'Entra', spEntityId: 'https://sp', idp: sampleIdp(), settings: sampleSettings() });
  credentials = new ScimCredentials(store);
});

afterEach(async () => {
  jest.restoreAllMocks();
  await store.close();
});

describe('long-lived tokens', () => {
  it('are 256-bit random secrets, stored as their SHA-256 only, valid for a year by default', async () => {
    const create = jest.spyOn(store.scimTokens, 'create');
    const now = new Date('2025-03-01T00:00:00Z');
    const first = await credentials.createToken(connection, {}, now);
    const second = await credentials.createToken(connection, {}, now);
    expect(first.token).toMatch(/^gh_scim_[A-Za-z0-9_-]{43}$/);
    expect(second.token).not.toBe(first.token);
    expect(DEFAULT_TOKEN_DAYS).toBe(365);
    expect(Date.parse(first.expiresAt)).toBe(now.getTime() + 365 * DAY);
    const stored = create.mock.calls[0]![0];
    expect(stored.hash).toBe(secrets.hashToken(first.token));
    expect(JSON.stringify(create.mock.calls)).not.toContain(first.token);
    expect(first.token.startsWith(stored.prefix)).toBe(true);
  });

  it('authenticate compares the stored hash in constant time and refuses revoked and expired tokens', async () => {
    const { id, token } = await credentials.createToken(connection, { expiresInDays: 2 });
    const ok = await credentials.authenticate(token);
    expect(ok).toMatchObject({ connection: { id: connection.id }, tenant: { id: connection.tenantId } });
    expect(equal).toHaveBeenCalledWith(secrets.hashToken(token), secrets.hashToken(token));
    expect(await credentials.authenticate(undefined)).toEqual({ failure: 'missing' });
    expect(await credentials.authenticate(`${token}x`)).toEqual({ failure: 'unknown' });
    expect(await credentials.authenticate(token, new Date(Date.now() + 3 * DAY))).toMatchObject({ failure: 'expired', token: { id } });
    await credentials.revokeToken(connection.id, id);
    expect(await credentials.authenticate(token)).toMatchObject({ failure: 'revoked', token: { id } });
  });
});

describe('OAuth client credentials', () => {
  it('issues short-lived tokens; every refusal goes through the same constant-time comparison and names the client', async () => {
    const client = await credentials.createClient(connection);
    equal.mockClear();
    const issued = await credentials.issueAccessToken(client.clientId, client.clientSecret);
    expect(issued).toMatchObject({ expiresIn: ACCESS_TOKEN_SECONDS, client: { clientId: client.clientId, connectionId: connection.id } });
    expect(ACCESS_TOKEN_SECONDS).toBe(3600);
    expect(await credentials.issueAccessToken(client.clientId, 'wrong')).toEqual({
      refused: 'wrong_secret',
      client: { id: client.id, clientId: client.clientId, connectionId: connection.id, tenantId: connection.tenantId },
    });
    // An unknown client id still costs a comparison, so timing does not tell which client ids exist.
    expect(await credentials.issueAccessToken('gh_client_nope', 'x')).toEqual({ refused: 'unknown_client', client: null });
    expect(equal).toHaveBeenCalledTimes(3);
    await credentials.revokeClient(connection.id, client.id);
    expect(await credentials.issueAccessToken(client.clientId, client.clientSecret)).toMatchObject({ refused: 'revoked' });
    const access = (issued as { accessToken: string }).accessToken;
    expect(await credentials.authenticate(access)).toMatchObject({ failure: 'revoked' });
  });
});
