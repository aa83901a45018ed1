/**
 * The SCIM storage contract (run by test/store/sqlite.test.ts, and by mongo.test.ts where MONGODB_URI is set):
 * scope and ownership rules, optimistic versions, soft and hard delete, group members, tokens and OAuth clients,
 * and the filter translation: every filter of scim-fixtures.ts runs in the database and must find exactly the
 * expected ids, which must also be what matchesQuery (the reference semantics) says about the served resources.
 */
import { randomUUID } from 'node:crypto';
import { ConflictError } from '../../src/common/errors';
import { scimGroupResource, scimScopeOf, scimUserResource } from '../../src/provisioning/scim';
import { normaliseKey } from '../../src/provisioning/normalise';
import type { Connection, Tenant } from '../../src/provisioning/types';
import { matchesQuery, parseGroupFilter, parseUserFilter } from '../../src/scim/query';
import { ScimSchemaRegistry } from '../../src/scim/schemas';
import type { ScimScope, ScimUserState, Store } from '../../src/store/ports';
import { sampleIdp, sampleSettings } from './contract';
import {
  GROUP_FILTERS,
  GROUP_FIXTURES,
  GROUPS_IN_SCOPE,
  newUserOf,
  stateOf,
  USER_FILTERS,
  USER_FIXTURES,
  USERS_IN_SCOPE,
} from './scim-fixtures';

type OpenStore = () => Promise<Store>;
const unique = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;
const BASE = 'https://gatehouse.test/scim/v2';
const registry = ScimSchemaRegistry.standard();

export function runScimContract(name: string, open: OpenStore): void {
  describe(`scim store contract: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    async function setUp(matchBy: 'upn' | 'email' = 'upn'): Promise<{ tenant: Tenant; connection: Connection; other: Connection; scope: ScimScope }> {
      const tenant = await store.tenants.create({ slug: unique('t'), name: 'Contoso', domains: [] });
      const make = (settings = sampleSettings({ matchBy })) =>
        store.connections.create({ tenantId: tenant.id, slug: unique('c'), name: 'Entra', spEntityId: 'https://sp', idp: sampleIdp(), settings });
      const connection = await make();
      const other = await make();
      return { tenant, connection, other, scope: scimScopeOf(tenant, connection) };
    }

    function state(userName: string, extra: Partial<ScimUserState> = {}): ScimUserState {
      return { externalId: null, userName, userNameKey: normaliseKey(userName), employeeNumber: null, emails: [], resource: { userName }, ...extra };
    }

    function newUser(tenantId: string, username: string, extra: Record<string, unknown> = {}) {
      return {
        tenantId,
        username,
        usernameKey: normaliseKey(username),
        email: null,
        givenName: null,
        familyName: null,
        displayName: null,
        fullName: username,
        active: true,
        ...extra,
      };
    }

    describe('filters run in the database and agree with matchesQuery', () => {
      let ids: Map<string, string>;
      let groupIds: Map<string, string>;
      let ctx: Awaited<ReturnType<typeof setUp>>;

      beforeAll(async () => {
        ctx = await setUp();
        ids = new Map();
        groupIds = new Map();
        for (const fixture of USER_FIXTURES) {
          const input = newUserOf(ctx.tenant.id, fixture);
          const ownerId = fixture.owner === 'other' ? ctx.other.id : ctx.connection.id;
          const record = fixture.owner === null ? null : await store.scimUsers.create(ownerId, input, stateOf(fixture));
          const id = record ? record.user.id : (await store.users.create(input)).id;
          if (fixture.detached) expect(await store.scimUsers.detach(ctx.connection.id, id, record!.version)).toBe(true);
          ids.set(fixture.key, id);
        }
        for (const fixture of GROUP_FIXTURES) {
          const members = fixture.members.map((key) => ids.get(key)!);
          let id: string;
          if (fixture.owner === null) {
            id = (await store.groups.ensure(ctx.tenant.id, fixture.externalId!, { displayName: fixture.displayName, nameResolved: false })).id;
            for (const key of fixture.samlMembers ?? []) await store.memberships.add(ids.get(key)!, id, `saml:${ctx.connection.id}`);
          } else {
            const owner = fixture.owner === 'other' ? ctx.other.id : ctx.connection.id;
            const record = await store.scimGroups.create(owner, ctx.tenant.id, { displayName: fixture.displayName, externalId: fixture.externalId }, members);
            id = record.group.id;
            if (fixture.detached) expect(await store.scimGroups.detach(ctx.connection.id, id, record.version)).toBe(true);
          }
          groupIds.set(fixture.key, id);
        }
      });

      const keysOf = (found: string[], map: Map<string, string>) => {
        const byId = new Map([...map].map(([key, id]) => [id, key]));
        return found.map((id) => byId.get(id) ?? id).sort();
      };
      const substitute = (filter: string) => filter.replace(/\$(\w+)/g, (_m, key: string) => ids.get(key)!);

      it('the scope holds unowned and own accounts, not another client\'s or detached ones', async () => {
        const all = await store.scimUsers.query(ctx.scope, null, { offset: 0, limit: 100 });
        expect(keysOf(all.items.map((r) => r.user.id), ids)).toEqual([...USERS_IN_SCOPE].sort());
        expect(all.total).toBe(USERS_IN_SCOPE.length);
        expect(await store.scimUsers.find(ctx.scope, ids.get('other')!)).toBeNull();
        expect(await store.scimUsers.find(ctx.scope, ids.get('gone')!)).toBeNull();
        expect((await store.scimUsers.load(ids.get('gone')!))?.detached).toBe(true);
        const groups = await store.scimGroups.query(ctx.scope, null, { offset: 0, limit: 100 });
        expect(keysOf(groups.items.map((r) => r.group.id), groupIds)).toEqual([...GROUPS_IN_SCOPE].sort());
      });

      it.each(USER_FILTERS)('users: $filter', async ({ filter, expect: expected }) => {
        const query = parseUserFilter(substitute(filter));
        const page = await store.scimUsers.query(ctx.scope, query, { offset: 0, limit: 100 });
        const found = keysOf(page.items.map((r) => r.user.id), ids);
        expect(found).toEqual([...expected].sort());
        expect(page.total).toBe(expected.length);
        const all = await store.scimUsers.query(ctx.scope, null, { offset: 0, limit: 100 });
        const reference = all.items
          .filter((record) => matchesQuery(query, scimUserResource(record, { matchBy: 'upn', baseUrl: BASE, registry })))
          .map((r) => r.user.id);
        expect(keysOf(reference, ids)).toEqual(found);
      });

      it.each(GROUP_FILTERS)('groups: $filter', async ({ filter, expect: expected }) => {
        const query = parseGroupFilter(substitute(filter));
        const page = await store.scimGroups.query(ctx.scope, query, { offset: 0, limit: 100 });
        const found = keysOf(page.items.map((r) => r.group.id), groupIds);
        expect(found).toEqual([...expected].sort());
        const all = await store.scimGroups.query(ctx.scope, null, { offset: 0, limit: 100 });
        const members = await store.scimGroups.members(all.items.map((r) => r.group.id), `scim:${ctx.connection.id}`);
        const reference = all.items
          .filter((record) => matchesQuery(query, scimGroupResource(record, members.get(record.group.id), BASE)))
          .map((r) => r.group.id);
        expect(keysOf(reference, groupIds)).toEqual(found);
      });

      it('pages in creation order with the total of all matches', async () => {
        const query = parseUserFilter('userName ew "@contoso.example"');
        const first = await store.scimUsers.query(ctx.scope, query, { offset: 0, limit: 2 });
        const second = await store.scimUsers.query(ctx.scope, query, { offset: 2, limit: 2 });
        const all = await store.scimUsers.query(ctx.scope, query, { offset: 0, limit: 100 });
        expect(first.total).toBe(USERS_IN_SCOPE.length);
        expect([...first.items, ...second.items].map((r) => r.user.id)).toEqual(all.items.slice(0, 4).map((r) => r.user.id));
        expect((await store.scimUsers.query(ctx.scope, query, { offset: 0, limit: 0 })).items).toEqual([]);
      });

      it('every page reports the total of all matches: full, last, past the end, count only, none', async () => {
        const query = parseUserFilter('userName ew "@contoso.example"');
        const n = USERS_IN_SCOPE.length;
        const page = (offset: number, limit: number) => store.scimUsers.query(ctx.scope, query, { offset, limit });
        expect(await page(0, 1)).toMatchObject({ total: n, items: [expect.anything()] });
        expect((await page(n - 1, 5)).items).toHaveLength(1);
        expect((await page(n - 1, 5)).total).toBe(n);
        expect(await page(n, 5)).toEqual({ items: [], total: n });
        expect(await page(n + 10, 5)).toEqual({ items: [], total: n });
        expect(await page(0, 0)).toEqual({ items: [], total: n });
        expect(await page(0, n)).toMatchObject({ total: n });
        expect(await store.scimUsers.query(ctx.scope, parseUserFilter('userName eq "nobody@contoso.example"'), { offset: 0, limit: 5 })).toEqual({ items: [], total: 0 });
        expect(await store.scimUsers.query(ctx.scope, parseUserFilter('userName eq "nobody@contoso.example"'), { offset: 3, limit: 5 })).toEqual({ items: [], total: 0 });
      });

      it('a value that looks like SQL or an operator is just a value', async () => {
        for (const text of [`x' OR '1'='1`, '{"$ne": null}', '%', '_']) {
          const page = await store.scimUsers.query(ctx.scope, parseUserFilter(`displayName eq ${JSON.stringify(text)}`), { offset: 0, limit: 10 });
          expect(page.total).toBe(0);
        }
      });
    });

    it('dates: gt, ge, lt, le, eq, ne and not compare instants on meta.created and meta.lastModified, in the database', async () => {
      const { tenant, connection, scope } = await setUp();
      const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
      const a = await store.scimUsers.create(connection.id, newUser(tenant.id, 'a@contoso.example'), state('a@contoso.example'));
      await pause();
      const b = await store.users.create(newUser(tenant.id, 'b@contoso.example'));
      await pause();
      const c = await store.scimUsers.create(connection.id, newUser(tenant.id, 'c@contoso.example'), state('c@contoso.example'));
      const users = async (filter: string) =>
        (await store.scimUsers.query(scope, parseUserFilter(filter), { offset: 0, limit: 10 })).items.map((r) => r.user.id).sort();
      const sorted = (...list: string[]) => [...list].sort();
      const at = b.createdAt.toISOString();
      expect(await users(`meta.created gt "${at}"`)).toEqual([c.user.id]);
      expect(await users(`meta.created ge "${at}"`)).toEqual(sorted(b.id, c.user.id));
      expect(await users(`meta.created lt "${at}"`)).toEqual([a.user.id]);
      expect(await users(`meta.created le "${at}"`)).toEqual(sorted(a.user.id, b.id));
      expect(await users(`meta.created eq "${at}"`)).toEqual([b.id]);
      expect(await users(`meta.created ne "${at}"`)).toEqual(sorted(a.user.id, c.user.id));
      expect(await users(`not (meta.created gt "${at}")`)).toEqual(sorted(a.user.id, b.id));
      // The same instant written with an offset is the same instant.
      const offset = new Date(b.createdAt.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
      expect(await users(`meta.created eq "${offset}"`)).toEqual([b.id]);

      await pause();
      const saved = (await store.scimUsers.save(connection.id, a.user.id, { displayName: 'A' }, state('a@contoso.example'), a.version))!;
      expect(saved.user.updatedAt.getTime()).toBeGreaterThan(c.user.updatedAt.getTime());
      const modified = c.user.updatedAt.toISOString();
      expect(await users(`meta.lastModified gt "${modified}"`)).toEqual([a.user.id]);
      expect(await users(`meta.lastModified le "${modified}"`)).toEqual(sorted(b.id, c.user.id));
      expect(await users(`meta.lastModified ge "${modified}" and meta.created lt "${at}"`)).toEqual([a.user.id]);

      const g1 = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'G1', externalId: null }, []);
      await pause();
      const g2 = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'G2', externalId: null }, []);
      const groups = async (filter: string) =>
        (await store.scimGroups.query(scope, parseGroupFilter(filter), { offset: 0, limit: 10 })).items.map((r) => r.group.id).sort();
      expect(await groups(`meta.created gt "${g1.group.createdAt.toISOString()}"`)).toEqual([g2.group.id]);
      expect(await groups(`meta.created ge "${g1.group.createdAt.toISOString()}"`)).toEqual(sorted(g1.group.id, g2.group.id));
      expect(await groups(`meta.lastModified lt "${g2.group.updatedAt.toISOString()}"`)).toEqual([g1.group.id]);
      expect(await groups(`meta.lastModified le "${g2.group.updatedAt.toISOString()}"`)).toEqual(sorted(g1.group.id, g2.group.id));
    });

    it('matchBy email: userName compares the SCIM userName of owned accounts and the username of the others', async () => {
      const { tenant, connection, scope } = await setUp('email');
      expect(scope.userNameKey).toBe('scim');
      const jit = await store.users.create(newUser(tenant.id, 'jit@contoso.example'));
      const scim = await store.scimUsers.create(connection.id, newUser(tenant.id, 'mail@contoso.example'), state('UPN@contoso.example'));
      const find = async (filter: string) =>
        (await store.scimUsers.query(scope, parseUserFilter(filter), { offset: 0, limit: 10 })).items.map((r) => r.user.id);
      expect(await find('userName eq "upn@CONTOSO.example"')).toEqual([scim.user.id]);
      expect(await find('userName eq "mail@contoso.example"')).toEqual([]);
      expect(await find('userName eq "jit@contoso.example"')).toEqual([jit.id]);
    });

    it('save adopts an unowned account at its version, refuses a stale version and another client', async () => {
      const { tenant, connection, other, scope } = await setUp();
      const jit = await store.users.create(newUser(tenant.id, 'ada@contoso.example'));
      const loaded = (await store.scimUsers.load(jit.id))!;
      expect(loaded).toMatchObject({ version: 1, scim: null, detached: false });
      expect(await store.scimUsers.save(connection.id, jit.id, { displayName: 'Ada' }, state('ada@contoso.example'), 7)).toBeNull();
      const saved = await store.scimUsers.save(
        connection.id,
        jit.id,
        { displayName: 'Ada L' },
        state('ada@contoso.example', { externalId: 'ada', emails: [{ value: 'Ada@X.example', type: 'work', primary: true }] }),
        1,
      );
      expect(saved).toMatchObject({ version: 2, scim: { connectionId: connection.id, externalId: 'ada' } });
      expect(saved!.user.displayName).toBe('Ada L');
      expect(saved!.user.updatedAt.getTime()).toBeGreaterThanOrEqual(jit.updatedAt.getTime());
      // Another client cannot take it over; this one can update it again at the new version.
      expect(await store.scimUsers.save(other.id, jit.id, {}, state('ada@contoso.example'), 2)).toBeNull();
      expect(await store.scimUsers.find(scimScopeOf(tenant, other), jit.id)).toBeNull();
      expect((await store.scimUsers.save(connection.id, jit.id, { active: false }, state('ada@contoso.example'), 2))!.user.active).toBe(false);
      // Every account update bumps the version (the SCIM ETag), also a SAML login's.
      await store.users.update(jit.id, { lastLoginAt: new Date() });
      expect((await store.scimUsers.find(scope, jit.id))!.version).toBe(4);
    });

    it('create refuses a taken username key; save refuses a rename onto one', async () => {
      const { tenant, connection } = await setUp();
      await store.users.create(newUser(tenant.id, 'taken@contoso.example'));
      await expect(store.scimUsers.create(connection.id, newUser(tenant.id, 'TAKEN@contoso.example'), state('TAKEN@contoso.example'))).rejects.toBeInstanceOf(
        ConflictError,
      );
      const mine = await store.scimUsers.create(connection.id, newUser(tenant.id, 'mine@contoso.example'), state('mine@contoso.example'));
      await expect(
        store.scimUsers.save(connection.id, mine.user.id, { username: 'taken@contoso.example', usernameKey: 'taken@contoso.example' }, state('taken@contoso.example'), mine.version),
      ).rejects.toBeInstanceOf(ConflictError);
      expect((await store.scimUsers.load(mine.user.id))!.user.username).toBe('mine@contoso.example');
    });

    it('detach disables, hides and drops only this client\'s memberships; a save relinks; remove deletes', async () => {
      const { tenant, connection, scope } = await setUp();
      const user = await store.scimUsers.create(connection.id, newUser(tenant.id, 'leaver@contoso.example'), state('leaver@contoso.example', { externalId: 'l' }));
      const group = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'G', externalId: null }, [user.user.id]);
      const saml = await store.groups.ensure(tenant.id, unique('saml'), { displayName: 'S', nameResolved: true });
      await store.memberships.add(user.user.id, saml.id, `saml:${connection.id}`);

      expect(await store.scimUsers.detach(connection.id, user.user.id, 99)).toBe(false);
      expect(await store.scimUsers.detach(connection.id, user.user.id, user.version)).toBe(true);
      const detached = (await store.scimUsers.load(user.user.id))!;
      expect(detached).toMatchObject({ detached: true, scim: null });
      expect(detached.user.active).toBe(false);
      expect(await store.scimUsers.find(scope, user.user.id)).toBeNull();
      expect((await store.memberships.listByUser(user.user.id)).map((m) => m.source)).toEqual([`saml:${connection.id}`]);
      expect((await store.scimGroups.members([group.group.id], `scim:${connection.id}`)).get(group.group.id)).toBeUndefined();

      const relinked = await store.scimUsers.save(connection.id, user.user.id, { active: true }, state('leaver@contoso.example'), detached.version);
      expect(relinked).toMatchObject({ detached: false, scim: { connectionId: connection.id } });
      expect(await store.scimUsers.find(scope, user.user.id)).not.toBeNull();

      expect(await store.scimUsers.remove(connection.id, user.user.id, relinked!.version)).toBe(true);
      expect(await store.users.findById(user.user.id)).toBeNull();
      expect(await store.memberships.listByUser(user.user.id)).toEqual([]);
    });

    it('deleting a connection releases what its client owned and removes its tokens and clients', async () => {
      const { tenant, connection, other } = await setUp();
      const user = await store.scimUsers.create(connection.id, newUser(tenant.id, 'r@contoso.example'), state('r@contoso.example', { externalId: 'r-ext', employeeNumber: '42' }));
      const group = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'R', externalId: 'r-group' }, [user.user.id]);
      const hash = `h-${randomUUID()}`;
      await store.scimTokens.create({ connectionId: connection.id, tenantId: tenant.id, kind: 'token', hash, prefix: 'p', clientId: null, expiresAt: new Date(Date.now() + 60_000) });
      const clientId = unique('client');
      await store.scimClients.create({ connectionId: connection.id, tenantId: tenant.id, clientId, secretHash: 'x' });
      await store.connections.delete(connection.id);

      const otherScope = scimScopeOf(tenant, other);
      expect(await store.scimUsers.find(otherScope, user.user.id)).toMatchObject({ scim: null });
      expect(await store.scimGroups.find(otherScope, group.group.id)).toMatchObject({ scim: null });
      // Leftover SCIM values of a released account match no filter (its served resource has none).
      for (const filter of ['externalId eq "r-ext"', 'externalId pr', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42"']) {
        expect((await store.scimUsers.query(otherScope, parseUserFilter(filter), { offset: 0, limit: 5 })).total).toBe(0);
      }
      expect(await store.scimTokens.findByHash(hash)).toBeNull();
      expect(await store.scimClients.findByClientId(clientId)).toBeNull();
    });

    it('existingIds answers only ids in scope', async () => {
      const { tenant, connection, other, scope } = await setUp();
      const mine = await store.users.create(newUser(tenant.id, 'a@contoso.example'));
      const theirs = await store.scimUsers.create(other.id, newUser(tenant.id, 'b@contoso.example'), state('b@contoso.example'));
      expect(await store.scimUsers.existingIds(scope, [mine.id, theirs.user.id, randomUUID()])).toEqual([mine.id]);
      expect(connection.id).not.toBe(other.id);
    });

    it('groups: create with members, save adds/removes members and bumps the version, externalId is unique per tenant', async () => {
      const { tenant, connection } = await setUp();
      const a = await store.users.create(newUser(tenant.id, 'a@contoso.example'));
      const b = await store.users.create(newUser(tenant.id, 'b@contoso.example'));
      const source = `scim:${connection.id}`;
      const group = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'Eng', externalId: 'ext-1' }, [a.id, a.id]);
      expect(group).toMatchObject({ version: 1, scim: { connectionId: connection.id, externalId: 'ext-1' } });
      expect(group.group).toMatchObject({ externalId: 'ext-1', displayName: 'Eng', nameResolved: true });
      expect((await store.scimGroups.members([group.group.id], source)).get(group.group.id)).toEqual([a.id]);
      await expect(store.scimGroups.create(connection.id, tenant.id, { displayName: 'Dup', externalId: 'ext-1' }, [])).rejects.toBeInstanceOf(ConflictError);

      const saved = await store.scimGroups.save(connection.id, group.group.id, { displayName: 'Engineering', externalId: 'ext-1', add: [b.id], remove: [a.id] }, 1);
      expect(saved).toMatchObject({ version: 2 });
      expect(saved!.group.displayName).toBe('Engineering');
      expect((await store.scimGroups.members([group.group.id], source)).get(group.group.id)).toEqual([b.id]);
      expect(await store.scimGroups.save(connection.id, group.group.id, { displayName: 'X', externalId: null, add: [], remove: [] }, 1)).toBeNull();
      // No externalId from the client keeps the stored one and shows none.
      const noExt = await store.scimGroups.save(connection.id, group.group.id, { displayName: 'Eng', externalId: null, add: [], remove: [] }, 2);
      expect(noExt).toMatchObject({ scim: { externalId: null } });
      expect(noExt!.group.externalId).toBe('ext-1');
      // A group without a client externalId gets an internal one.
      const bare = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'Bare', externalId: null }, []);
      expect(bare.group.externalId).toMatch(/^gatehouse:scim:/);
    });

    it('groups: membersAmong answers which of some ids are members from a source', async () => {
      const { tenant, connection } = await setUp();
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((n) => store.users.create(newUser(tenant.id, `${n}@contoso.example`))));
      const source = `scim:${connection.id}`;
      const group = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'G', externalId: null }, [a!.id, b!.id]);
      const other = await store.scimGroups.create(connection.id, tenant.id, { displayName: 'H', externalId: null }, [c!.id]);
      await store.memberships.add(c!.id, group.group.id, `saml:${connection.id}`);
      const among = async (ids: string[], from = source, groupId = group.group.id) => (await store.scimGroups.membersAmong(groupId, from, ids)).sort();
      expect(await among([a!.id, c!.id, randomUUID()])).toEqual([a!.id]);
      expect(await among([a!.id, b!.id, a!.id])).toEqual([a!.id, b!.id].sort());
      expect(await among([c!.id], `saml:${connection.id}`)).toEqual([c!.id]);
      expect(await among([a!.id, c!.id], source, other.group.id)).toEqual([c!.id]);
      expect(await among([])).toEqual([]);
    });

    it('groups: adopting a JIT group keeps its SAML memberships; detach and remove', async () => {
      const { tenant, connection, scope } = await setUp();
      const a = await store.users.create(newUser(tenant.id, 'a@contoso.example'));
      const jit = await store.groups.ensure(tenant.id, 'guid-1', { displayName: 'guid-1', nameResolved: false });
      await store.memberships.add(a.id, jit.id, `saml:${connection.id}`);
      const renamed = await store.groups.rename(jit.id, 'Finance');
      const loaded = (await store.scimGroups.load(jit.id))!;
      expect(loaded.version).toBe(2);
      expect(renamed!.displayName).toBe('Finance');
      const adopted = await store.scimGroups.save(connection.id, jit.id, { displayName: 'Finance', externalId: 'guid-1', add: [a.id], remove: [] }, loaded.version);
      expect(adopted).toMatchObject({ scim: { connectionId: connection.id, externalId: 'guid-1' } });
      expect((await store.memberships.listByUser(a.id)).map((m) => m.source).sort()).toEqual([`saml:${connection.id}`, `scim:${connection.id}`].sort());
      // Found by its new name through the folded column.
      expect((await store.scimGroups.query(scope, parseGroupFilter('displayName eq "FINANCE"'), { offset: 0, limit: 5 })).total).toBe(1);

      expect(await store.scimGroups.detach(connection.id, jit.id, adopted!.version)).toBe(true);
      expect(await store.scimGroups.find(scope, jit.id)).toBeNull();
      expect((await store.memberships.listByUser(a.id)).map((m) => m.source)).toEqual([`saml:${connection.id}`]);
      const detached = (await store.scimGroups.load(jit.id))!;
      expect(await store.scimGroups.remove(connection.id, jit.id, detached.version)).toBe(true);
      expect(await store.groups.findById(jit.id)).toBeNull();
      expect(await store.memberships.listByUser(a.id)).toEqual([]);
    });

    it('tokens: stored by hash, listed, extended (alerts reset), revoked, alert claims once per threshold', async () => {
      const { tenant, connection } = await setUp();
      const now = new Date();
      const soon = new Date(now.getTime() + 5 * 86_400_000);
      const hash = `h-${randomUUID()}`;
      const token = await store.scimTokens.create({
        connectionId: connection.id,
        tenantId: tenant.id,
        kind: 'token',
        hash,
        prefix: 'gh_scim_ab',
        clientId: null,
        expiresAt: soon,
      });
      expect(token).toMatchObject({ kind: 'token', prefix: 'gh_scim_ab', lastUsedAt: null, revokedAt: null, alertsSent: [] });
      expect(token.expiresAt.getTime()).toBe(soon.getTime());
      expect(await store.scimTokens.findByHash(hash)).toMatchObject({ id: token.id, hash });
      expect(await store.scimTokens.findByHash('nope')).toBeNull();
      const access = await store.scimTokens.create({
        connectionId: connection.id,
        tenantId: tenant.id,
        kind: 'access',
        hash: `h-${randomUUID()}`,
        prefix: 'gh_at',
        clientId: 'client-1',
        expiresAt: new Date(now.getTime() + 3_600_000),
      });
      expect((await store.scimTokens.listByConnection(connection.id)).map((t) => t.id)).toEqual([token.id]);

      const expiring = await store.scimTokens.listExpiring(now, new Date(now.getTime() + 30 * 86_400_000));
      expect(expiring.map((t) => t.id)).toContain(token.id);
      expect(expiring.map((t) => t.id)).not.toContain(access.id);
      expect(await store.scimTokens.claimAlert(token.id, 7)).toBe(true);
      expect(await store.scimTokens.claimAlert(token.id, 7)).toBe(false);
      expect(await store.scimTokens.claimAlert(token.id, 30)).toBe(true);
      expect((await store.scimTokens.findById(token.id))!.alertsSent).toEqual([30, 7]);
      await store.scimTokens.releaseAlert(token.id, 7);
      expect((await store.scimTokens.findById(token.id))!.alertsSent).toEqual([30]);

      const later = new Date(now.getTime() + 400 * 86_400_000);
      expect((await store.scimTokens.extend(token.id, later))!).toMatchObject({ alertsSent: [] });
      await store.scimTokens.touch(token.id, now);
      expect((await store.scimTokens.findById(token.id))!.lastUsedAt?.getTime()).toBe(now.getTime());
      const revoked = await store.scimTokens.revoke(token.id, now);
      expect(revoked!.revokedAt?.getTime()).toBe(now.getTime());
      expect((await store.scimTokens.revoke(token.id, later))!.revokedAt?.getTime()).toBe(now.getTime());
      expect((await store.scimTokens.listExpiring(now, new Date(later.getTime() + 1))).map((t) => t.id)).not.toContain(token.id);

      expect(await store.scimTokens.revokeByClient('client-1', now)).toBe(1);
      expect(await store.scimTokens.deleteExpiredAccess(new Date(now.getTime() + 2 * 3_600_000))).toBeGreaterThanOrEqual(1);
      expect(await store.scimTokens.findById(access.id)).toBeNull();
    });

    it('OAuth clients: unique client id, secret hash kept for comparison, revoke', async () => {
      const { tenant, connection } = await setUp();
      const clientId = unique('client');
      const client = await store.scimClients.create({ connectionId: connection.id, tenantId: tenant.id, clientId, secretHash: 'hash-1' });
      expect(client).toMatchObject({ clientId, revokedAt: null, lastUsedAt: null });
      await expect(store.scimClients.create({ connectionId: connection.id, tenantId: tenant.id, clientId, secretHash: 'x' })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.scimClients.findByClientId(clientId)).toMatchObject({ id: client.id, secretHash: 'hash-1' });
      expect((await store.scimClients.listByConnection(connection.id)).map((c) => c.id)).toEqual([client.id]);
      const at = new Date();
      await store.scimClients.touch(client.id, at);
      expect((await store.scimClients.revoke(client.id, at))!.revokedAt?.getTime()).toBe(at.getTime());
      expect((await store.scimClients.findById(client.id))!.lastUsedAt?.getTime()).toBe(at.getTime());
    });
  });
}
