/**
 * What the SQLite store does for the SCIM hot path (a large initial sync): the account and its provisioning-log
 * events in one transaction (createWithLog), the token with its connection and tenant in one read
 * (findByHashWithContext), and time-ordered ids.
 */
import { ConflictError } from '../../src/common/errors';
import { hashToken } from '../../src/common/secrets';
import { normaliseKey } from '../../src/provisioning/normalise';
import { openStore } from '../../src/store';
import type { NewEvent, ScimUserState, Store } from '../../src/store/ports';
import { timeOrderedId } from '../../src/store/sqlite/ids';
import { sampleIdp, sampleSettings } from './contract';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('sqlite SCIM hot path', () => {
  let store: Store;
  let n = 0;
  beforeEach(async () => {
    store = await openStore('sqlite::memory:');
  });
  afterEach(async () => {
    await store.close();
  });

  async function setUp() {
    n += 1;
    const tenant = await store.tenants.create({ slug: `t${n}`, name: 'Contoso', domains: [] });
    const connection = await store.connections.create({
      tenantId: tenant.id,
      slug: `c${n}`,
      name: 'Entra',
      spEntityId: 'https://sp',
      idp: sampleIdp(),
      settings: sampleSettings(),
    });
    return { tenant, connection };
  }

  /** A live SCIM token for the connection (expires in a minute), stored with the hash of `secret`. */
  async function createToken(tenantId: string, connectionId: string, secret: string) {
    const hash = hashToken(secret);
    const token = await store.scimTokens.create({
      connectionId,
      tenantId,
      kind: 'token',
      hash,
      prefix: secret.slice(0, 11),
      clientId: null,
      expiresAt: new Date(Date.now() + 60_000),
    });
    return { token, hash };
  }

  const state = (userName: string): ScimUserState => ({
    externalId: null,
    userName,
    userNameKey: normaliseKey(userName),
    employeeNumber: null,
    emails: [{ value: userName, type: 'work', primary: true }],
    resource: { userName },
  });
  const newUser = (tenantId: string, username: string) => ({
    tenantId,
    username,
    usernameKey: normaliseKey(username),
    email: username,
    givenName: null,
    familyName: null,
    displayName: null,
    fullName: username,
    active: true,
  });
  const event = (tenantId: string, connectionId: string, type: string, subject: string): NewEvent => ({
    tenantId,
    connectionId,
    channel: 'scim',
    type,
    outcome: 'success',
    subject,
    reason: null,
    details: { subject },
    at: new Date(),
  });

  it('createWithLog stores the account and the events log() returns for it, in that order', async () => {
    const { tenant, connection } = await setUp();
    const record = await store.scimUsers.createWithLog!(connection.id, newUser(tenant.id, 'a@contoso.example'), state('a@contoso.example'), (created) => [
      event(tenant.id, connection.id, 'user_created', created.user.id),
      event(tenant.id, connection.id, 'scim_request', 'POST /scim/v2/Users'),
    ]);
    expect(record.user.id).toMatch(UUID_V7);
    expect(await store.scimUsers.load(record.user.id)).toEqual(record);
    const log = await store.events.list({ connectionId: connection.id, limit: 10 });
    expect(log.map((e) => [e.type, e.subject])).toEqual([
      ['scim_request', 'POST /scim/v2/Users'],
      ['user_created', record.user.id],
    ]);
    expect(log.every((e) => UUID_V7.test(e.id))).toBe(true);
  });

  it('createWithLog stores neither the account nor any event when log() or the event insert fails', async () => {
    const { tenant, connection } = await setUp();
    await expect(
      store.scimUsers.createWithLog!(connection.id, newUser(tenant.id, 'b@contoso.example'), state('b@contoso.example'), () => {
        throw new Error('log failed');
      }),
    ).rejects.toThrow('log failed');
    await expect(
      store.scimUsers.createWithLog!(connection.id, newUser(tenant.id, 'b@contoso.example'), state('b@contoso.example'), () => [
        event(tenant.id, connection.id, 'user_created', 'b'),
        // NOT NULL violation on the second insert: the first one and the account roll back with it.
        { ...event(tenant.id, connection.id, 'scim_request', 'b'), channel: null as unknown as 'scim' },
      ]),
      // Not toThrow(): the addon's SqliteError class may come from another test file's realm (see store/sqlite/database).
    ).rejects.toMatchObject({ code: 'SQLITE_CONSTRAINT_NOTNULL' });
    expect(await store.users.findByKey(tenant.id, normaliseKey('b@contoso.example'))).toBeNull();
    expect(await store.events.list({ connectionId: connection.id, limit: 10 })).toEqual([]);
    // And the next write goes through.
    const ok = await store.scimUsers.createWithLog!(connection.id, newUser(tenant.id, 'b@contoso.example'), state('b@contoso.example'), () => []);
    expect(ok.user.username).toBe('b@contoso.example');
  });

  it('createWithLog: a taken username is a ConflictError, and nothing is logged', async () => {
    const { tenant, connection } = await setUp();
    await store.scimUsers.create(connection.id, newUser(tenant.id, 'c@contoso.example'), state('c@contoso.example'));
    const log = jest.fn(() => [event(tenant.id, connection.id, 'user_created', 'c')]);
    await expect(
      store.scimUsers.createWithLog!(connection.id, newUser(tenant.id, 'C@contoso.example'), state('C@contoso.example'), log),
    ).rejects.toBeInstanceOf(ConflictError);
    expect(log).not.toHaveBeenCalled();
    expect(await store.events.list({ connectionId: connection.id, limit: 10 })).toEqual([]);
  });

  it('findByHashWithContext reads the token, its connection and its tenant as they are now', async () => {
    const { tenant, connection } = await setUp();
    const { token, hash } = await createToken(tenant.id, connection.id, 'gh_scim_hot_path');
    expect(await store.scimTokens.findByHashWithContext!(hashToken('other'))).toBeNull();
    expect(await store.scimTokens.findByHashWithContext!(hash)).toEqual({
      token: { ...token, hash },
      connection: await store.connections.findById(connection.id),
      tenant: await store.tenants.findById(tenant.id),
    });
    await store.scimTokens.revoke(token.id, new Date());
    expect((await store.scimTokens.findByHashWithContext!(hash))!.token.revokedAt).toBeInstanceOf(Date);
    await store.connections.delete(connection.id);
    // The token goes with its connection (ON DELETE CASCADE).
    expect(await store.scimTokens.findByHashWithContext!(hash)).toBeNull();
  });

  it('findByHashWithContext keeps the parsed connection only while its version is unchanged', async () => {
    const { tenant, connection } = await setUp();
    const { token, hash } = await createToken(tenant.id, connection.id, 'gh_scim_kept');
    const first = (await store.scimTokens.findByHashWithContext!(hash))!;
    const second = (await store.scimTokens.findByHashWithContext!(hash))!;
    expect(second.connection).toBe(first.connection);
    // Shared between requests, so it cannot be changed in place.
    expect(Object.isFrozen(first.connection!.settings)).toBe(true);
    const updated = await store.connections.update(connection.id, { name: 'Entra (renamed)', settings: { ...sampleSettings(), matchBy: 'email' } });
    const third = (await store.scimTokens.findByHashWithContext!(hash))!;
    expect(third.connection).toEqual(updated);
    expect(third.connection!.settings.matchBy).toBe('email');
    // The token is read every time: a revocation shows at once, the connection stays the kept one.
    await store.scimTokens.revoke(token.id, new Date());
    const fourth = (await store.scimTokens.findByHashWithContext!(hash))!;
    expect(fourth.token.revokedAt).toBeInstanceOf(Date);
    expect(fourth.connection).toBe(third.connection);
    expect(fourth.tenant).toEqual(await store.tenants.findById(tenant.id));
  });

  it('findByHashWithContext gives no tenant when the connection is not the token tenant’s', async () => {
    const { tenant, connection } = await setUp();
    const { tenant: otherTenant } = await setUp();
    const { hash } = await createToken(otherTenant.id, connection.id, 'gh_scim_cross');
    const context = await store.scimTokens.findByHashWithContext!(hash);
    expect(context!.connection!.tenantId).toBe(tenant.id);
    expect(context!.tenant).toBeNull();
  });
});

describe('timeOrderedId', () => {
  it('is a UUID version 7 that sorts by its millisecond', () => {
    const ids = new Set(Array.from({ length: 5000 }, () => timeOrderedId()));
    expect(ids.size).toBe(5000);
    for (const id of ids) expect(id).toMatch(UUID_V7);
    expect(timeOrderedId(Date.UTC(2030, 0, 1)) > timeOrderedId(Date.UTC(2029, 11, 31, 23, 59, 59, 999))).toBe(true);
    expect(timeOrderedId(0).startsWith('00000000-0000-7')).toBe(true);
  });
});
