/**
 * The storage contract: every adapter runs this same suite (test/store/sqlite.test.ts, test/store/mongo.test.ts).
 * It checks the rules written in src/store/ports.ts and the values that come back, not just that calls succeed.
 *
 * One store is opened per describe block and shared by its tests, so every test makes its own tenant/connection
 * (unique slugs) and never depends on another test's data.
 */
import { randomUUID } from 'node:crypto';
import session, { type SessionData } from 'express-session';
import { ConflictError } from '../../src/common/errors';
import type { Connection, ConnectionSettings, Group, IdpDescriptor, Tenant, User } from '../../src/provisioning/types';
import type { NewEvent, NewUser, RevocableSessionStore, Store } from '../../src/store/ports';

export type OpenStore = () => Promise<Store>;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const inAMinute = () => new Date(Date.now() + 60_000);

export function sampleIdp(overrides: Partial<IdpDescriptor> = {}): IdpDescriptor {
  return {
    entityId: 'https://sts.windows.net/11111111-2222-3333-4444-555555555555/',
    ssoRedirectUrl: 'https://login.microsoftonline.com/x/saml2',
    ssoPostUrl: null,
    sloUrl: null,
    nameIdFormats: ['urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'],
    certs: [
      {
        pem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
        fingerprint: 'AB:CD:EF',
        // Non-zero milliseconds: the round-trip must keep them.
        notBefore: new Date('2024-01-02T03:04:05.678Z'),
        notAfter: new Date('2027-01-02T03:04:05.999Z'),
        subject: 'CN=Microsoft Azure Federated SSO Certificate',
      },
      {
        pem: '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----',
        fingerprint: '01:23:45',
        notBefore: new Date('2026-06-01T00:00:00.001Z'),
        notAfter: new Date('2029-06-01T00:00:00.002Z'),
        subject: 'CN=Next',
      },
    ],
    metadataSigned: false,
    source: { kind: 'url', url: 'https://login.microsoftonline.com/x/federationmetadata.xml' },
    importedAt: new Date('2025-05-06T07:08:09.123Z'),
    ...overrides,
  };
}

export function sampleSettings(overrides: Partial<ConnectionSettings> = {}): ConnectionSettings {
  return {
    matchBy: 'upn',
    allowIdpInitiated: false,
    wantAuthnResponseSigned: false,
    signAuthnRequests: true,
    allowSha1: false,
    jit: {
      enabled: true,
      updateOnLogin: true,
      groupsClaim: null,
      membershipMode: 'sync',
      requireAnyGroup: [],
      onlyGroups: ['a', 'b'],
      excludeGroups: [],
    },
    ...overrides,
  };
}

function newUser(tenantId: string, username: string, overrides: Partial<NewUser> = {}): NewUser {
  return {
    tenantId,
    username,
    usernameKey: username.normalize('NFC').trim().toLowerCase(),
    email: `${username.toLowerCase()}@contoso.example`,
    givenName: 'Ada',
    familyName: 'Lovelace',
    displayName: null,
    fullName: 'Ada Lovelace',
    active: true,
    ...overrides,
  };
}

function event(overrides: Partial<NewEvent> & Pick<NewEvent, 'at'>): NewEvent {
  return {
    tenantId: null,
    connectionId: null,
    channel: 'saml',
    type: 'login',
    outcome: 'success',
    subject: 'ada@contoso.example',
    reason: null,
    details: {},
    ...overrides,
  };
}

/** Promise wrappers over express-session's callback API. */
function sessionApi(store: RevocableSessionStore) {
  const call = <T>(fn: (cb: (error: unknown, value?: T) => void) => void) =>
    new Promise<T | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))));
  return {
    get: (sid: string) => call<SessionData | null>((cb) => store.get(sid, cb)),
    set: (sid: string, data: SessionData) => call<void>((cb) => store.set(sid, data, cb)),
    // express-session types touch's callback as () => void, but stores report errors through it.
    touch: (sid: string, data: SessionData) => call<void>((cb) => store.touch!(sid, data, (error?: unknown) => cb(error))),
    destroy: (sid: string) => call<void>((cb) => store.destroy(sid, cb)),
    length: () => call<number>((cb) => store.length!(cb)),
    clear: () => call<void>((cb) => store.clear!(cb)),
  };
}

function sessionData(expires: Date, userId?: string, extra: Record<string, unknown> = {}): SessionData {
  const cookie = new session.Cookie();
  cookie.httpOnly = true;
  cookie.sameSite = 'lax';
  cookie.expires = expires;
  return { cookie, ...(userId ? { passport: { user: userId } } : {}), ...extra } as SessionData;
}

export function runStoreContract(name: string, open: OpenStore): void {
  describe(`store contract: ${name}`, () => {
    let store: Store;

    beforeAll(async () => {
      store = await open();
    });

    afterAll(async () => {
      await store?.close();
    });

    async function makeTenant(domains: string[] = []): Promise<Tenant> {
      return store.tenants.create({ slug: unique('tenant'), name: 'Contoso', domains });
    }

    async function makeConnection(tenantId: string): Promise<Connection> {
      const slug = unique('conn');
      return store.connections.create({
        tenantId,
        slug,
        name: 'Entra ID',
        spEntityId: `https://gatehouse.test/sso/${slug}/metadata`,
        idp: sampleIdp(),
        settings: sampleSettings(),
      });
    }

    describe('tenants', () => {
      it('creates a tenant and finds it by id and slug, with the stored values', async () => {
        const slug = unique('contoso');
        const created = await store.tenants.create({ slug, name: 'Contoso Ltd', domains: ['contoso.com', 'contoso.de'] });
        expect(created).toEqual({
          id: expect.any(String),
          slug,
          name: 'Contoso Ltd',
          domains: ['contoso.com', 'contoso.de'],
          createdAt: expect.any(Date),
          updatedAt: expect.any(Date),
        });
        expect(created.createdAt.getTime()).toBe(created.updatedAt.getTime());
        expect(await store.tenants.findById(created.id)).toEqual(created);
        expect(await store.tenants.findBySlug(slug)).toEqual(created);
        expect(await store.tenants.findById(randomUUID())).toBeNull();
        expect(await store.tenants.findBySlug(unique('nobody'))).toBeNull();
      });

      it('refuses a duplicate slug with ConflictError', async () => {
        const tenant = await makeTenant();
        await expect(store.tenants.create({ slug: tenant.slug, name: 'Other', domains: [] })).rejects.toBeInstanceOf(ConflictError);
        // The original is untouched.
        expect((await store.tenants.findBySlug(tenant.slug))?.name).toBe('Contoso');
      });

      it('lists tenants and updates name and domains', async () => {
        const a = await makeTenant(['a.example']);
        const b = await makeTenant();
        const listed = await store.tenants.list();
        expect(listed.map((t) => t.id)).toEqual(expect.arrayContaining([a.id, b.id]));

        await sleep(2);
        const renamed = await store.tenants.update(a.id, { name: 'Renamed' });
        expect(renamed).toMatchObject({ id: a.id, slug: a.slug, name: 'Renamed', domains: ['a.example'] });
        expect(renamed!.updatedAt.getTime()).toBeGreaterThan(a.updatedAt.getTime());
        expect(renamed!.createdAt).toEqual(a.createdAt);

        const redomained = await store.tenants.update(a.id, { domains: ['x.example', 'y.example'] });
        expect(redomained).toMatchObject({ name: 'Renamed', domains: ['x.example', 'y.example'] });
        expect(await store.tenants.findById(a.id)).toEqual(redomained);

        expect(await store.tenants.update(randomUUID(), { name: 'Ghost' })).toBeNull();
      });

      it('finds the tenants owning a domain (several when they share it), by slug; none for an unknown domain', async () => {
        const domain = `${unique('hrd')}.example`;
        const b = await store.tenants.create({ slug: unique('zz-owner'), name: 'B', domains: ['other.example', domain] });
        const a = await store.tenants.create({ slug: unique('aa-owner'), name: 'A', domains: [domain] });
        await makeTenant([`sub.${domain}`]);
        expect((await store.tenants.findByDomain(domain)).map((t) => t.id)).toEqual([a.id, b.id]);
        expect(await store.tenants.findByDomain(`sub.${domain}`)).toHaveLength(1);
        expect(await store.tenants.findByDomain(unique('nobody'))).toEqual([]);
        // The owned list is matched exactly: a domain's suffix or prefix is a different domain.
        expect(await store.tenants.findByDomain(domain.slice(1))).toEqual([]);
        await store.tenants.update(a.id, { domains: [] });
        expect((await store.tenants.findByDomain(domain)).map((t) => t.id)).toEqual([b.id]);
      });
    });

    describe('connections', () => {
      it('creates at version 1 and round-trips idp (with Dates) and settings exactly', async () => {
        const tenant = await makeTenant();
        const connection = await makeConnection(tenant.id);
        expect(connection.version).toBe(1);
        expect(connection.tenantId).toBe(tenant.id);

        const found = await store.connections.findById(connection.id);
        expect(found).toEqual(connection);
        expect(found!.idp).toEqual(sampleIdp());
        expect(found!.idp.importedAt).toBeInstanceOf(Date);
        expect(found!.idp.importedAt.toISOString()).toBe('2025-05-06T07:08:09.123Z');
        expect(found!.idp.certs[0].notBefore).toBeInstanceOf(Date);
        expect(found!.idp.certs[0].notBefore.getTime()).toBe(Date.parse('2024-01-02T03:04:05.678Z'));
        expect(found!.idp.certs[1].notAfter.getTime()).toBe(Date.parse('2029-06-01T00:00:00.002Z'));
        expect(found!.settings).toEqual(sampleSettings());
        expect(await store.connections.findBySlug(connection.slug)).toEqual(connection);
        expect(await store.connections.findById(randomUUID())).toBeNull();
        expect(await store.connections.findBySlug(unique('nope'))).toBeNull();
      });

      it('refuses a duplicate slug with ConflictError, also from another tenant (slugs are global)', async () => {
        const tenant = await makeTenant();
        const other = await makeTenant();
        const connection = await makeConnection(tenant.id);
        await expect(
          store.connections.create({
            tenantId: other.id,
            slug: connection.slug,
            name: 'Copy',
            spEntityId: 'https://gatehouse.test/copy',
            idp: sampleIdp(),
            settings: sampleSettings(),
          }),
        ).rejects.toBeInstanceOf(ConflictError);
      });

      it('increments the version on every update and applies only the patched fields', async () => {
        const tenant = await makeTenant();
        const connection = await makeConnection(tenant.id);

        const renamed = await store.connections.update(connection.id, { name: 'Okta' });
        expect(renamed).toMatchObject({ version: 2, name: 'Okta', slug: connection.slug });
        expect(renamed!.settings).toEqual(connection.settings);
        expect(renamed!.idp).toEqual(connection.idp);

        const newSettings = sampleSettings({ matchBy: 'email', allowSha1: true });
        const resettled = await store.connections.update(connection.id, { settings: newSettings });
        expect(resettled).toMatchObject({ version: 3, name: 'Okta' });
        expect(resettled!.settings).toEqual(newSettings);

        const newIdp = sampleIdp({ entityId: 'https://idp.example/new', importedAt: new Date('2026-01-01T00:00:00.042Z'), certs: [] });
        const reimported = await store.connections.update(connection.id, { idp: newIdp });
        expect(reimported!.version).toBe(4);
        expect(reimported!.idp).toEqual(newIdp);
        expect(reimported!.idp.importedAt.getTime()).toBe(Date.parse('2026-01-01T00:00:00.042Z'));

        expect(await store.connections.findById(connection.id)).toEqual(reimported);
        expect(await store.connections.update(randomUUID(), { name: 'Ghost' })).toBeNull();
      });

      it('gives concurrent updates distinct versions', async () => {
        const tenant = await makeTenant();
        const connection = await makeConnection(tenant.id);
        const results = await Promise.all(
          Array.from({ length: 5 }, (_, i) => store.connections.update(connection.id, { name: `n${i}` })),
        );
        expect(results.map((c) => c!.version).sort()).toEqual([2, 3, 4, 5, 6]);
        expect((await store.connections.findById(connection.id))!.version).toBe(6);
      });

      it('lists the connections of one tenant only', async () => {
        const tenant = await makeTenant();
        const other = await makeTenant();
        const a = await makeConnection(tenant.id);
        const b = await makeConnection(tenant.id);
        await makeConnection(other.id);
        const listed = await store.connections.listByTenant(tenant.id);
        expect(listed.map((c) => c.id).sort()).toEqual([a.id, b.id].sort());
        expect(listed.find((c) => c.id === a.id)).toEqual(a);
      });

      it('deletes a connection with its identity links, and says whether it existed', async () => {
        const tenant = await makeTenant();
        const connection = await makeConnection(tenant.id);
        const keep = await makeConnection(tenant.id);
        const user = await store.users.create(newUser(tenant.id, unique('ada')));
        await store.identityLinks.link(connection.id, 'oid-1', user.id);
        await store.identityLinks.link(keep.id, 'oid-1', user.id);

        expect(await store.connections.delete(connection.id)).toBe(true);
        expect(await store.connections.findById(connection.id)).toBeNull();
        expect(await store.identityLinks.findBySubject(connection.id, 'oid-1')).toBeNull();
        const remaining = await store.identityLinks.listByUser(user.id);
        expect(remaining.map((l) => l.connectionId)).toEqual([keep.id]);
        expect(await store.users.findById(user.id)).not.toBeNull();

        expect(await store.connections.delete(connection.id)).toBe(false);
      });
    });

    describe('users', () => {
      it('creates a user and finds it by id and by (tenant, key), with every stored value', async () => {
        const tenant = await makeTenant();
        const lastLoginAt = new Date('2025-03-04T05:06:07.089Z');
        const input = newUser(tenant.id, unique('Ada.Lovelace'), { displayName: 'Ada L.', lastLoginAt });
        const user = await store.users.create(input);
        expect(user).toEqual({
          id: expect.any(String),
          tenantId: tenant.id,
          username: input.username,
          usernameKey: input.usernameKey,
          email: input.email,
          givenName: 'Ada',
          familyName: 'Lovelace',
          displayName: 'Ada L.',
          fullName: 'Ada Lovelace',
          active: true,
          createdAt: expect.any(Date),
          updatedAt: expect.any(Date),
          lastLoginAt,
        });
        expect(await store.users.findById(user.id)).toEqual(user);
        expect(await store.users.findByKey(tenant.id, input.usernameKey)).toEqual(user);
        expect(await store.users.findByKey(tenant.id, input.username.toUpperCase())).toBeNull();
        expect(await store.users.findById(randomUUID())).toBeNull();
      });

      it('stores nulls and a missing lastLoginAt as null', async () => {
        const tenant = await makeTenant();
        const user = await store.users.create(
          newUser(tenant.id, unique('bare'), { email: null, givenName: null, familyName: null, displayName: null, active: false }),
        );
        const found = await store.users.findById(user.id);
        expect(found).toMatchObject({ email: null, givenName: null, familyName: null, displayName: null, active: false, lastLoginAt: null });
      });

      it('refuses a duplicate (tenant, usernameKey) with ConflictError but allows the same key in another tenant', async () => {
        const tenant = await makeTenant();
        const other = await makeTenant();
        const name = unique('grace');
        await store.users.create(newUser(tenant.id, name));
        await expect(store.users.create(newUser(tenant.id, name.toUpperCase(), { usernameKey: name }))).rejects.toBeInstanceOf(ConflictError);
        const elsewhere = await store.users.create(newUser(other.id, name));
        expect(elsewhere.tenantId).toBe(other.id);
        expect((await store.users.findByKey(other.id, name))?.id).toBe(elsewhere.id);
      });

      it('updates fields, refuses a colliding usernameKey with ConflictError and leaves the user unchanged', async () => {
        const tenant = await makeTenant();
        const ada = await store.users.create(newUser(tenant.id, unique('ada')));
        const bob = await store.users.create(newUser(tenant.id, unique('bob')));

        await sleep(2);
        const loginAt = new Date('2025-09-10T11:12:13.014Z');
        const updated = await store.users.update(ada.id, {
          username: 'Ada.Byron',
          usernameKey: `${ada.usernameKey}-byron`,
          email: null,
          displayName: 'Countess',
          active: false,
          lastLoginAt: loginAt,
        });
        expect(updated).toMatchObject({
          id: ada.id,
          username: 'Ada.Byron',
          usernameKey: `${ada.usernameKey}-byron`,
          email: null,
          givenName: 'Ada',
          displayName: 'Countess',
          active: false,
          lastLoginAt: loginAt,
        });
        expect(updated!.updatedAt.getTime()).toBeGreaterThan(ada.updatedAt.getTime());
        expect(updated!.createdAt).toEqual(ada.createdAt);
        expect(await store.users.findById(ada.id)).toEqual(updated);
        expect(await store.users.findByKey(tenant.id, ada.usernameKey)).toBeNull();

        await expect(store.users.update(bob.id, { usernameKey: updated!.usernameKey })).rejects.toBeInstanceOf(ConflictError);
        expect(await store.users.findById(bob.id)).toEqual(bob);

        const cleared = await store.users.update(ada.id, { lastLoginAt: null });
        expect(cleared!.lastLoginAt).toBeNull();
        expect(await store.users.update(randomUUID(), { active: false })).toBeNull();
      });

      it('allows updating a user to a key that exists only in another tenant', async () => {
        const tenant = await makeTenant();
        const other = await makeTenant();
        const key = unique('shared');
        await store.users.create(newUser(other.id, key));
        const mine = await store.users.create(newUser(tenant.id, unique('mine')));
        const updated = await store.users.update(mine.id, { username: key, usernameKey: key });
        expect(updated!.usernameKey).toBe(key);
      });

      it('pages the users of a tenant in a stable order with the total', async () => {
        const tenant = await makeTenant();
        const other = await makeTenant();
        const created: User[] = [];
        for (let i = 0; i < 5; i++) created.push(await store.users.create(newUser(tenant.id, unique(`u${i}`))));
        await store.users.create(newUser(other.id, unique('elsewhere')));

        const first = await store.users.listByTenant(tenant.id, { offset: 0, limit: 2 });
        const second = await store.users.listByTenant(tenant.id, { offset: 2, limit: 2 });
        const third = await store.users.listByTenant(tenant.id, { offset: 4, limit: 2 });
        expect([first.total, second.total, third.total]).toEqual([5, 5, 5]);
        expect([first.items.length, second.items.length, third.items.length]).toEqual([2, 2, 1]);
        const ids = [...first.items, ...second.items, ...third.items].map((u) => u.id);
        expect(new Set(ids).size).toBe(5);
        expect(ids.sort()).toEqual(created.map((u) => u.id).sort());
        const all = await store.users.listByTenant(tenant.id, { offset: 0, limit: 10 });
        expect(all.items.map((u) => u.id)).toEqual([...first.items, ...second.items, ...third.items].map((u) => u.id));
        expect(all.items.find((u) => u.id === created[0].id)).toEqual(created[0]);
        expect(await store.users.listByTenant(tenant.id, { offset: 10, limit: 10 })).toEqual({ items: [], total: 5 });
      });
    });

    describe('identity links', () => {
      it('links a subject, finds it, and returns the existing link (with its own userId) when linked again', async () => {
        const tenant = await makeTenant();
        const connection = await makeConnection(tenant.id);
        const ada = await store.users.create(newUser(tenant.id, unique('ada')));
        const bob = await store.users.create(newUser(tenant.id, unique('bob')));

        const link = await store.identityLinks.link(connection.id, 'object-id-1', ada.id);
        expect(link).toEqual({ connectionId: connection.id, subject: 'object-id-1', userId: ada.id, createdAt: expect.any(Date) });
        expect(await store.identityLinks.findBySubject(connection.id, 'object-id-1')).toEqual(link);

        const again = await store.identityLinks.link(connection.id, 'object-id-1', bob.id);
        expect(again).toEqual(link);
        expect(again.userId).toBe(ada.id);
        expect(await store.identityLinks.listByUser(bob.id)).toEqual([]);
        expect(await store.identityLinks.findBySubject(connection.id, 'object-id-2')).toBeNull();
      });

      it('keeps subjects per connection and lists the links of a user', async () => {
        const tenant = await makeTenant();
        const one = await makeConnection(tenant.id);
        const two = await makeConnection(tenant.id);
        const ada = await store.users.create(newUser(tenant.id, unique('ada')));
        const bob = await store.users.create(newUser(tenant.id, unique('bob')));
        await store.identityLinks.link(one.id, 'same-subject', ada.id);
        const onTwo = await store.identityLinks.link(two.id, 'same-subject', bob.id);
        expect(onTwo.userId).toBe(bob.id);
        await store.identityLinks.link(two.id, 'ada-on-two', ada.id);

        const adaLinks = await store.identityLinks.listByUser(ada.id);
        expect(adaLinks.map((l) => `${l.connectionId}/${l.subject}`).sort()).toEqual(
          [`${one.id}/same-subject`, `${two.id}/ada-on-two`].sort(),
        );
      });

      it('gives concurrent links of one subject a single winner', async () => {
        const tenant = await makeTenant();
        const connection = await makeConnection(tenant.id);
        const users = await Promise.all([0, 1, 2, 3].map((i) => store.users.create(newUser(tenant.id, unique(`racer${i}`)))));
        const links = await Promise.all(users.map((u) => store.identityLinks.link(connection.id, 'racy', u.id)));
        expect(new Set(links.map((l) => l.userId)).size).toBe(1);
      });
    });

    describe('groups', () => {
      it('ensure creates once and never overwrites the name of an existing group', async () => {
        const tenant = await makeTenant();
        const externalId = randomUUID();
        const group = await store.groups.ensure(tenant.id, externalId, { displayName: externalId, nameResolved: false });
        expect(group).toEqual({
          id: expect.any(String),
          tenantId: tenant.id,
          externalId,
          displayName: externalId,
          nameResolved: false,
          createdAt: expect.any(Date),
          updatedAt: expect.any(Date),
        });
        const again = await store.groups.ensure(tenant.id, externalId, { displayName: 'Finance', nameResolved: true });
        expect(again).toEqual(group);
        expect(await store.groups.findById(group.id)).toEqual(group);
        expect(await store.groups.findByExternalId(tenant.id, externalId)).toEqual(group);
        expect(await store.groups.findByExternalId(tenant.id, randomUUID())).toBeNull();
        expect(await store.groups.findById(randomUUID())).toBeNull();
      });

      it('ensure is safe under concurrency: ten racing calls yield one group', async () => {
        const tenant = await makeTenant();
        const externalId = randomUUID();
        const results = await Promise.all(
          Array.from({ length: 10 }, (_, i) => store.groups.ensure(tenant.id, externalId, { displayName: `g${i}`, nameResolved: true })),
        );
        expect(new Set(results.map((g) => g.id)).size).toBe(1);
        expect(results.every((g) => g.displayName === results[0].displayName)).toBe(true);
        const page = await store.groups.listByTenant(tenant.id, { offset: 0, limit: 50 });
        expect(page.total).toBe(1);
      });

      it('keeps external ids per tenant', async () => {
        const a = await makeTenant();
        const b = await makeTenant();
        const externalId = randomUUID();
        const inA = await store.groups.ensure(a.id, externalId, { displayName: 'A', nameResolved: true });
        const inB = await store.groups.ensure(b.id, externalId, { displayName: 'B', nameResolved: true });
        expect(inA.id).not.toBe(inB.id);
        expect(inB).toMatchObject({ tenantId: b.id, displayName: 'B' });
      });

      it('rename sets the display name and marks it resolved', async () => {
        const tenant = await makeTenant();
        const externalId = randomUUID();
        const group = await store.groups.ensure(tenant.id, externalId, { displayName: externalId, nameResolved: false });
        await sleep(2);
        const renamed = await store.groups.rename(group.id, 'Engineering');
        expect(renamed).toMatchObject({ id: group.id, externalId, displayName: 'Engineering', nameResolved: true });
        expect(renamed!.updatedAt.getTime()).toBeGreaterThan(group.updatedAt.getTime());
        expect(await store.groups.findById(group.id)).toEqual(renamed);
        expect(await store.groups.rename(randomUUID(), 'Ghost')).toBeNull();
      });

      it('finds groups by ids (ignoring unknown ones) and pages them per tenant', async () => {
        const tenant = await makeTenant();
        const groups: Group[] = [];
        for (const name of ['Charlie', 'Alpha', 'Bravo']) {
          groups.push(await store.groups.ensure(tenant.id, randomUUID(), { displayName: name, nameResolved: true }));
        }
        const found = await store.groups.findByIds([groups[0].id, groups[2].id, randomUUID()]);
        expect(found.map((g) => g.id).sort()).toEqual([groups[0].id, groups[2].id].sort());
        expect(found.find((g) => g.id === groups[0].id)).toEqual(groups[0]);
        expect(await store.groups.findByIds([])).toEqual([]);

        const first = await store.groups.listByTenant(tenant.id, { offset: 0, limit: 2 });
        const rest = await store.groups.listByTenant(tenant.id, { offset: 2, limit: 2 });
        expect(first.total).toBe(3);
        expect(first.items).toHaveLength(2);
        expect(rest.items).toHaveLength(1);
        expect([...first.items, ...rest.items].map((g) => g.id).sort()).toEqual(groups.map((g) => g.id).sort());
      });
    });

    describe('batched writes (one atomic call per login)', () => {
      it('ensureMany creates the missing groups in order, reports which, and never renames existing ones', async () => {
        const tenant = await makeTenant();
        const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
        const existing = await store.groups.ensure(tenant.id, a, { displayName: 'Engineering', nameResolved: true });
        const result = await store.groups.ensureMany(tenant.id, [
          { externalId: b, displayName: b, nameResolved: false },
          { externalId: a, displayName: a, nameResolved: false },
          { externalId: c, displayName: 'Ops', nameResolved: true },
        ]);
        expect(result.groups.map((g) => g.externalId)).toEqual([b, a, c]);
        expect(result.created.sort()).toEqual([b, c].sort());
        expect(result.groups[1]).toEqual(existing);
        expect(result.groups[0]).toMatchObject({ displayName: b, nameResolved: false, tenantId: tenant.id });
        expect(await store.groups.ensureMany(tenant.id, [])).toEqual({ groups: [], created: [] });
        // Idempotent: a second call creates nothing.
        expect((await store.groups.ensureMany(tenant.id, [{ externalId: c, displayName: 'x', nameResolved: false }])).created).toEqual([]);
        const found = await store.groups.findByExternalIds(tenant.id, [a, c, randomUUID()]);
        expect(found.map((g) => g.externalId).sort()).toEqual([a, c].sort());
        // Never across tenants.
        const other = await makeTenant();
        expect(await store.groups.findByExternalIds(other.id, [a, b, c])).toEqual([]);
      });

      it('ensureMany under concurrency yields one group per external id', async () => {
        const tenant = await makeTenant();
        const ids = [randomUUID(), randomUUID(), randomUUID()];
        const items = ids.map((externalId) => ({ externalId, displayName: externalId, nameResolved: false }));
        const results = await Promise.all(Array.from({ length: 5 }, () => store.groups.ensureMany(tenant.id, items)));
        for (const r of results) expect(r.groups.map((g) => g.id)).toEqual(results[0]!.groups.map((g) => g.id));
        expect(results.flatMap((r) => r.created).sort()).toEqual([...ids].sort());
      });

      it('syncSource makes one source equal the list (sync) or only adds (append), leaving other sources alone', async () => {
        const tenant = await makeTenant();
        const user = await store.users.create(newUser(tenant.id, unique('sync')));
        const [g1, g2, g3] = await Promise.all(
          ['One', 'Two', 'Three'].map((n) => store.groups.ensure(tenant.id, randomUUID(), { displayName: n, nameResolved: true })),
        );
        await store.memberships.add(user.id, g3!.id, 'scim:other');
        expect(await store.memberships.syncSource(user.id, 'saml:c', [g1!.id, g2!.id], 'sync')).toEqual({ added: [g1!.id, g2!.id], removed: [] });
        expect(await store.memberships.syncSource(user.id, 'saml:c', [g2!.id, g3!.id], 'sync')).toEqual({ added: [g3!.id], removed: [g1!.id] });
        expect(await store.memberships.syncSource(user.id, 'saml:c', [g1!.id], 'append')).toEqual({ added: [g1!.id], removed: [] });
        const bySource = (await store.memberships.listByUser(user.id)).map((m) => `${m.source}:${m.groupId}`).sort();
        expect(bySource).toEqual([`saml:c:${g1!.id}`, `saml:c:${g2!.id}`, `saml:c:${g3!.id}`, `scim:other:${g3!.id}`].sort());
        expect(await store.memberships.syncSource(user.id, 'saml:c', [], 'sync')).toEqual({
          added: [],
          removed: expect.arrayContaining([g1!.id, g2!.id, g3!.id]),
        });
        expect((await store.memberships.listByUser(user.id)).map((m) => m.source)).toEqual(['scim:other']);
      });

      it('appendMany writes every event in order', async () => {
        const tenant = await makeTenant();
        const connectionId = randomUUID();
        const at = new Date();
        await store.events.appendMany(
          ['first', 'second', 'third'].map((type) => ({
            tenantId: tenant.id,
            connectionId,
            channel: 'saml' as const,
            type,
            outcome: 'success' as const,
            subject: 'ada',
            reason: null,
            details: { type },
            at,
          })),
        );
        await store.events.appendMany([]);
        const listed = await store.events.list({ connectionId, limit: 10 });
        expect(listed.map((e) => e.type)).toEqual(['third', 'second', 'first']);
        expect(listed[0]).toMatchObject({ tenantId: tenant.id, details: { type: 'third' }, at });
      });
    });

    describe('memberships', () => {
      it('adds idempotently per source, lists with sources, and removes idempotently', async () => {
        const tenant = await makeTenant();
        const user = await store.users.create(newUser(tenant.id, unique('ada')));
        const g1 = await store.groups.ensure(tenant.id, randomUUID(), { displayName: 'One', nameResolved: true });
        const g2 = await store.groups.ensure(tenant.id, randomUUID(), { displayName: 'Two', nameResolved: true });

        expect(await store.memberships.add(user.id, g1.id, 'saml:c1')).toBe(true);
        expect(await store.memberships.add(user.id, g1.id, 'saml:c1')).toBe(false);
        expect(await store.memberships.add(user.id, g1.id, 'scim:c1')).toBe(true);
        expect(await store.memberships.add(user.id, g2.id, 'saml:c1')).toBe(true);

        const listed = await store.memberships.listByUser(user.id);
        expect(listed).toHaveLength(3);
        expect(listed.map((m) => `${m.groupId}/${m.source}`).sort()).toEqual(
          [`${g1.id}/saml:c1`, `${g1.id}/scim:c1`, `${g2.id}/saml:c1`].sort(),
        );
        for (const m of listed) {
          expect(m.userId).toBe(user.id);
          expect(m.createdAt).toBeInstanceOf(Date);
        }

        expect(await store.memberships.remove(user.id, g1.id, 'saml:c1')).toBe(true);
        expect(await store.memberships.remove(user.id, g1.id, 'saml:c1')).toBe(false);
        const after = await store.memberships.listByUser(user.id);
        expect(after.map((m) => `${m.groupId}/${m.source}`).sort()).toEqual([`${g1.id}/scim:c1`, `${g2.id}/saml:c1`].sort());
        expect(await store.memberships.listByUser(randomUUID())).toEqual([]);
      });

      it('concurrent adds of one membership: exactly one reports it new', async () => {
        const tenant = await makeTenant();
        const user = await store.users.create(newUser(tenant.id, unique('ada')));
        const group = await store.groups.ensure(tenant.id, randomUUID(), { displayName: 'G', nameResolved: true });
        const results = await Promise.all(Array.from({ length: 8 }, () => store.memberships.add(user.id, group.id, 'saml:x')));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await store.memberships.listByUser(user.id)).toHaveLength(1);
      });
    });

    describe('events', () => {
      it('appends an event and returns it with an id and its details', async () => {
        const at = new Date('2025-06-07T08:09:10.111Z');
        const details = { attributes: ['mail', 'upn'], nested: { count: 2, ok: true, none: null }, empty: {} };
        const appended = await store.events.append(
          event({ tenantId: randomUUID(), connectionId: randomUUID(), at, type: 'user_created', reason: 'jit', details }),
        );
        expect(appended).toMatchObject({ id: expect.any(String), type: 'user_created', reason: 'jit', at, details });
        const [listed] = await store.events.list({ connectionId: appended.connectionId!, limit: 10 });
        expect(listed).toEqual(appended);
        expect(listed.at.getTime()).toBe(at.getTime());
      });

      it('lists newest first with filters, a limit and `before` paging', async () => {
        const tenantId = randomUUID();
        const connectionId = randomUUID();
        const otherConnection = randomUUID();
        const base = Date.parse('2025-01-01T00:00:00.000Z');
        const t = (minutes: number) => new Date(base + minutes * 60_000);
        await store.events.append(event({ tenantId, connectionId, at: t(1), type: 'login' }));
        await store.events.append(event({ tenantId, connectionId, at: t(3), type: 'login', outcome: 'refused', reason: 'audience_mismatch' }));
        await store.events.append(event({ tenantId, connectionId, at: t(2), channel: 'scim', type: 'user_updated' }));
        await store.events.append(event({ tenantId, connectionId: otherConnection, at: t(4), type: 'login' }));
        await store.events.append(event({ tenantId: null, connectionId: null, at: t(5), channel: 'admin', type: 'tenant_created' }));

        const byConnection = await store.events.list({ connectionId, limit: 10 });
        expect(byConnection.map((e) => e.at.getTime())).toEqual([t(3), t(2), t(1)].map((d) => d.getTime()));

        const byTenant = await store.events.list({ tenantId, limit: 10 });
        expect(byTenant.map((e) => e.at)).toEqual([t(4), t(3), t(2), t(1)]);

        expect((await store.events.list({ connectionId, channel: 'scim', limit: 10 })).map((e) => e.type)).toEqual(['user_updated']);
        const refused = await store.events.list({ tenantId, outcome: 'refused', limit: 10 });
        expect(refused).toHaveLength(1);
        expect(refused[0]).toMatchObject({ reason: 'audience_mismatch', at: t(3) });

        const page1 = await store.events.list({ tenantId, limit: 2 });
        expect(page1.map((e) => e.at)).toEqual([t(4), t(3)]);
        const page2 = await store.events.list({ tenantId, limit: 2, before: page1[page1.length - 1].at });
        expect(page2.map((e) => e.at)).toEqual([t(2), t(1)]);
        expect(await store.events.list({ tenantId, limit: 2, before: t(1) })).toEqual([]);

        const adminOnly = await store.events.list({ channel: 'admin', before: t(6), limit: 50 });
        expect(adminOnly.some((e) => e.type === 'tenant_created' && e.tenantId === null && e.connectionId === null)).toBe(true);
      });

      it('deleteOlderThan removes only older events and counts them', async () => {
        const connectionId = randomUUID();
        // Dates far in the past, so no other test's events fall before the cutoff.
        await store.events.append(event({ connectionId, at: new Date('2001-01-01T00:00:00.000Z') }));
        await store.events.append(event({ connectionId, at: new Date('2001-06-01T00:00:00.000Z') }));
        await store.events.append(event({ connectionId, at: new Date('2002-01-01T00:00:00.000Z') }));
        expect(await store.events.deleteOlderThan(new Date('2002-01-01T00:00:00.000Z'))).toBe(2);
        const left = await store.events.list({ connectionId, limit: 10 });
        expect(left.map((e) => e.at.toISOString())).toEqual(['2002-01-01T00:00:00.000Z']);
        expect(await store.events.deleteOlderThan(new Date('2002-01-01T00:00:00.000Z'))).toBe(0);
      });
    });

    describe('replay cache', () => {
      it('is true for the first claim and false for every later one while unexpired', async () => {
        const key = unique('conn:assertion');
        expect(await store.replayCache.claim(key, inAMinute())).toBe(true);
        expect(await store.replayCache.claim(key, inAMinute())).toBe(false);
        expect(await store.replayCache.claim(key, new Date(Date.now() + 3_600_000))).toBe(false);
        expect(await store.replayCache.claim(unique('other'), inAMinute())).toBe(true);
      });

      it('gives exactly one of 20 concurrent claims', async () => {
        const key = unique('race');
        const results = await Promise.all(Array.from({ length: 20 }, () => store.replayCache.claim(key, inAMinute())));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('lets an expired key be claimed again (also before any purge), once', async () => {
        const key = unique('short');
        expect(await store.replayCache.claim(key, new Date(Date.now() + 40))).toBe(true);
        expect(await store.replayCache.claim(key, inAMinute())).toBe(false);
        await sleep(80);
        const again = await Promise.all(Array.from({ length: 5 }, () => store.replayCache.claim(key, inAMinute())));
        expect(again.filter(Boolean)).toHaveLength(1);
        expect(await store.replayCache.claim(key, inAMinute())).toBe(false);
      });

      it('purgeExpired removes expired keys only', async () => {
        const expired = unique('old');
        const live = unique('live');
        await store.replayCache.claim(expired, new Date(Date.now() - 1000));
        await store.replayCache.claim(live, inAMinute());
        expect(await store.replayCache.purgeExpired()).toBeGreaterThanOrEqual(1);
        expect(await store.replayCache.claim(live, inAMinute())).toBe(false);
        expect(await store.replayCache.claim(expired, inAMinute())).toBe(true);
      });
    });

    describe('request cache', () => {
      it('puts, gets, overwrites and deletes values', async () => {
        const key = unique('req');
        expect(await store.requestCache.get(key)).toBeNull();
        await store.requestCache.put(key, '{"returnTo":"/a"}', inAMinute());
        expect(await store.requestCache.get(key)).toBe('{"returnTo":"/a"}');
        expect(await store.requestCache.get(key)).toBe('{"returnTo":"/a"}');
        await store.requestCache.put(key, '{"returnTo":"/b"}', inAMinute());
        expect(await store.requestCache.get(key)).toBe('{"returnTo":"/b"}');
        await store.requestCache.delete(key);
        expect(await store.requestCache.get(key)).toBeNull();
        await expect(store.requestCache.delete(key)).resolves.toBeUndefined();
      });

      it('take reads and deletes; of concurrent takes exactly one gets the value', async () => {
        const key = unique('req');
        await store.requestCache.put(key, 'state-1', inAMinute());
        expect(await store.requestCache.take(key)).toBe('state-1');
        expect(await store.requestCache.take(key)).toBeNull();
        expect(await store.requestCache.get(key)).toBeNull();

        const raced = unique('req');
        await store.requestCache.put(raced, 'state-2', inAMinute());
        const results = await Promise.all(Array.from({ length: 10 }, () => store.requestCache.take(raced)));
        expect(results.filter((v) => v !== null)).toEqual(['state-2']);
      });

      it('reads expired entries as absent, for get and take, and purges them', async () => {
        const key = unique('req');
        await store.requestCache.put(key, 'soon-gone', new Date(Date.now() + 40));
        expect(await store.requestCache.get(key)).toBe('soon-gone');
        await sleep(80);
        expect(await store.requestCache.get(key)).toBeNull();
        expect(await store.requestCache.take(key)).toBeNull();

        const stale = unique('req');
        await store.requestCache.put(stale, 'stale', new Date(Date.now() - 1000));
        const live = unique('req');
        await store.requestCache.put(live, 'live', inAMinute());
        expect(await store.requestCache.purgeExpired()).toBeGreaterThanOrEqual(1);
        expect(await store.requestCache.get(live)).toBe('live');
        // A put over an expired key revives it with the new value.
        await store.requestCache.put(stale, 'fresh', inAMinute());
        expect(await store.requestCache.get(stale)).toBe('fresh');
      });
    });

    describe('session store', () => {
      let sessions: RevocableSessionStore;
      let api: ReturnType<typeof sessionApi>;

      beforeAll(() => {
        sessions = store.createSessionStore({ ttlSeconds: 3600 });
        api = sessionApi(sessions);
      });

      it('sets, gets and destroys a session, keeping its data', async () => {
        const sid = unique('sid');
        const expires = new Date(Date.now() + 600_000);
        await api.set(sid, sessionData(expires, 'user-1', { authenticatedAt: 1_700_000_000_123, connectionId: 'c-1' }));
        const got = await api.get(sid);
        expect(got).toMatchObject({ passport: { user: 'user-1' }, authenticatedAt: 1_700_000_000_123, connectionId: 'c-1' });
        expect(new Date(got!.cookie.expires!).getTime()).toBe(expires.getTime());
        await api.destroy(sid);
        expect(await api.get(sid)).toBeFalsy();
      });

      it('reads an expired session as absent', async () => {
        const sid = unique('sid');
        await api.set(sid, sessionData(new Date(Date.now() - 1000), 'user-2'));
        expect(await api.get(sid)).toBeFalsy();
      });

      it('touch extends the expiry of a live session', async () => {
        const sid = unique('sid');
        await api.set(sid, sessionData(new Date(Date.now() + 150), 'user-3'));
        await api.touch(sid, sessionData(new Date(Date.now() + 600_000), 'user-3'));
        await sleep(250);
        expect(await api.get(sid)).toMatchObject({ passport: { user: 'user-3' } });
      });

      it('destroyByUser removes every session of one user only', async () => {
        const user = unique('user');
        const other = unique('user');
        const expires = new Date(Date.now() + 600_000);
        const [a, b, c, anonymous] = [unique('sid'), unique('sid'), unique('sid'), unique('sid')];
        await api.set(a, sessionData(expires, user));
        await api.set(b, sessionData(expires, user));
        await api.set(c, sessionData(expires, other));
        await api.set(anonymous, sessionData(expires));
        expect(await sessions.destroyByUser(user)).toBe(2);
        expect(await api.get(a)).toBeFalsy();
        expect(await api.get(b)).toBeFalsy();
        expect(await api.get(c)).toMatchObject({ passport: { user: other } });
        expect(await api.get(anonymous)).toBeTruthy();
        expect(await sessions.destroyByUser(user)).toBe(0);
      });

      it('destroyByUser with a connection removes only the sessions that connection started', async () => {
        const user = unique('user');
        const expires = new Date(Date.now() + 600_000);
        const [viaA, viaA2, viaB, noConnection, otherUserViaA] = [unique('sid'), unique('sid'), unique('sid'), unique('sid'), unique('sid')];
        await api.set(viaA, sessionData(expires, user, { connectionId: 'conn-a' }));
        await api.set(viaA2, sessionData(expires, user, { connectionId: 'conn-a' }));
        await api.set(viaB, sessionData(expires, user, { connectionId: 'conn-b' }));
        await api.set(noConnection, sessionData(expires, user));
        await api.set(otherUserViaA, sessionData(expires, unique('user'), { connectionId: 'conn-a' }));
        expect(await sessions.destroyByUser(user, { connectionId: 'conn-a' })).toBe(2);
        expect(await api.get(viaA)).toBeFalsy();
        expect(await api.get(viaA2)).toBeFalsy();
        expect(await api.get(viaB)).toMatchObject({ connectionId: 'conn-b' });
        expect(await api.get(noConnection)).toBeTruthy();
        expect(await api.get(otherUserViaA)).toBeTruthy();
        expect(await sessions.destroyByUser(user, { connectionId: 'conn-a' })).toBe(0);
      });

      it('counts live sessions, purges expired ones and clears', async () => {
        await api.clear();
        expect(await api.length()).toBe(0);
        await api.set(unique('sid'), sessionData(new Date(Date.now() + 600_000), 'u'));
        await api.set(unique('sid'), sessionData(new Date(Date.now() + 600_000), 'v'));
        await api.set(unique('sid'), sessionData(new Date(Date.now() - 1000), 'w'));
        expect(await sessions.purgeExpired()).toBe(1);
        expect(await api.length()).toBe(2);
        await api.clear();
        expect(await api.length()).toBe(0);
      });
    });

    describe('lifecycle', () => {
      it('ping resolves while open and close makes it fail', async () => {
        const own = await open();
        await expect(own.ping()).resolves.toBeUndefined();
        await own.close();
        await expect(own.ping()).rejects.toThrow();
      });
    });
  });
}
