/**
 * The matching rules (src/provisioning/identity.ts) against a real store, as part of the storage contract: every
 * adapter must give the same answers, because SAML, SCIM and LDAP all decide who is who through them.
 */
import { randomUUID } from 'node:crypto';
import {
  fullNameOf,
  provisionIdentity,
  ProvisioningRefusal,
  resolveIdentity,
  type AssertedIdentity,
} from '../../src/provisioning/identity';
import { normaliseKey } from '../../src/provisioning/normalise';
import type { Connection, ConnectionSettings, Tenant } from '../../src/provisioning/types';
import type { Store } from '../../src/store/ports';
import { sampleIdp, sampleSettings } from './contract';

type OpenStore = () => Promise<Store>;

function identity(overrides: Partial<AssertedIdentity> = {}): AssertedIdentity {
  return {
    upn: 'alice@contoso.example',
    email: 'alice@contoso.example',
    givenName: 'Alice',
    familyName: 'Adams',
    displayName: 'Alice Adams',
    immutableId: randomUUID(),
    groups: [],
    groupsOverage: false,
    ...overrides,
  };
}

export function runMatchingContract(name: string, open: OpenStore): void {
  describe(`matching rules: ${name}`, () => {
    let store: Store;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store?.close();
    });

    async function setUp(domains: string[] = [], settings: Partial<ConnectionSettings> = {}): Promise<{ tenant: Tenant; connection: Connection }> {
      const tenant = await store.tenants.create({ slug: `t-${randomUUID().slice(0, 8)}`, name: 'Contoso', domains });
      // No group filters here: the filters have their own tests.
      const base = sampleSettings({ jit: { ...sampleSettings().jit, onlyGroups: [], excludeGroups: [], requireAnyGroup: [] } });
      const connection = await store.connections.create({
        tenantId: tenant.id,
        slug: `c-${randomUUID().slice(0, 8)}`,
        name: 'Entra',
        spEntityId: 'https://gatehouse.test/sp',
        idp: sampleIdp(),
        settings: { ...base, ...settings, jit: { ...base.jit, enabled: true, updateOnLogin: true, ...settings.jit } },
      });
      return { tenant, connection };
    }

    it('refuses an identity without the attribute the connection matches by', async () => {
      const ctx = await setUp();
      expect(await resolveIdentity(store, ctx, identity({ upn: null }))).toEqual({ action: 'refuse', reason: 'missing_username', username: null });
      const byEmail = await setUp([], { matchBy: 'email' });
      expect((await resolveIdentity(store, byEmail, identity({ email: '  ' }))).action).toBe('refuse');
    });

    it('creates when nothing matches, then finds the same account by the normalised key (Unicode case folding)', async () => {
      const ctx = await setUp();
      expect(await resolveIdentity(store, ctx, identity({ upn: 'ÄLICE@Contoso.example' }))).toEqual({
        action: 'create',
        username: 'ÄLICE@Contoso.example',
        usernameKey: 'älice@contoso.example',
      });
      const first = await provisionIdentity(store, ctx, identity({ upn: 'ÄLICE@Contoso.example', immutableId: null }), { channel: 'saml' });
      expect(first.created).toBe(true);
      const again = await resolveIdentity(store, ctx, identity({ upn: 'älice@contoso.example', immutableId: null }));
      expect(again).toMatchObject({ action: 'use', via: 'key' });
      expect(again.action === 'use' && again.user.id).toBe(first.user.id);
    });

    it('follows a UPN rename through the pinned immutable id', async () => {
      const ctx = await setUp();
      const objectId = randomUUID();
      const first = await provisionIdentity(store, ctx, identity({ immutableId: objectId }), { channel: 'saml' });
      const renamed = identity({ upn: 'alice.adams@contoso.example', immutableId: objectId });
      expect(await resolveIdentity(store, ctx, renamed)).toMatchObject({ action: 'use', via: 'linked', username: 'alice.adams@contoso.example' });
      const second = await provisionIdentity(store, ctx, renamed, { channel: 'saml' });
      expect(second.user.id).toBe(first.user.id);
      expect(second.user.usernameKey).toBe(normaliseKey('alice.adams@contoso.example'));
      expect(await store.users.findByKey(ctx.tenant.id, normaliseKey('alice@contoso.example'))).toBeNull();
    });

    it('refuses a disabled account whether found by link or by key, changing nothing', async () => {
      const ctx = await setUp();
      const objectId = randomUUID();
      const { user } = await provisionIdentity(store, ctx, identity({ immutableId: objectId }), { channel: 'saml' });
      await store.users.update(user.id, { active: false });
      expect(await resolveIdentity(store, ctx, identity({ immutableId: objectId }))).toMatchObject({ action: 'refuse', reason: 'user_disabled' });
      expect(await resolveIdentity(store, ctx, identity({ immutableId: null }))).toMatchObject({ action: 'refuse', reason: 'user_disabled' });
      await expect(provisionIdentity(store, ctx, identity({ immutableId: objectId, givenName: 'Changed' }), { channel: 'saml' })).rejects.toBeInstanceOf(
        ProvisioningRefusal,
      );
      expect((await store.users.findById(user.id))?.givenName).toBe('Alice');
    });

    it('with JIT off refuses unknown identities and admits existing ones', async () => {
      const ctx = await setUp([], { jit: { ...sampleSettings().jit, onlyGroups: [], enabled: false } });
      expect(await resolveIdentity(store, ctx, identity())).toMatchObject({ action: 'refuse', reason: 'jit_disabled' });
      await store.users.create({
        tenantId: ctx.tenant.id,
        username: 'alice@contoso.example',
        usernameKey: normaliseKey('alice@contoso.example'),
        email: null,
        givenName: null,
        familyName: null,
        displayName: null,
        fullName: 'alice@contoso.example',
        active: true,
      });
      expect(await resolveIdentity(store, ctx, identity())).toMatchObject({ action: 'use', via: 'key' });
    });

    it('refuses a UPN or an email outside the owned domains, and creates nothing', async () => {
      const ctx = await setUp(['contoso.example']);
      expect(await resolveIdentity(store, ctx, identity({ upn: 'eve@evil.example' }))).toMatchObject({ reason: 'domain_not_owned' });
      expect(await resolveIdentity(store, ctx, identity({ email: 'eve@evil.example' }))).toMatchObject({ reason: 'domain_not_owned' });
      await expect(provisionIdentity(store, ctx, identity({ upn: 'eve@evil.example' }), { channel: 'saml' })).rejects.toMatchObject({
        reason: 'domain_not_owned',
      });
      expect((await store.users.listByTenant(ctx.tenant.id, { offset: 0, limit: 10 })).total).toBe(0);
      expect(await resolveIdentity(store, ctx, identity({ upn: 'Bob@CONTOSO.example', email: null }))).toMatchObject({ action: 'create' });
    });

    it('never links across tenants, neither by key nor by immutable id', async () => {
      const a = await setUp();
      const b = await setUp();
      const objectId = randomUUID();
      const inA = await provisionIdentity(store, a, identity({ immutableId: objectId }), { channel: 'saml' });
      expect(await resolveIdentity(store, b, identity({ immutableId: objectId }))).toMatchObject({ action: 'create' });
      const inB = await provisionIdentity(store, b, identity({ immutableId: objectId }), { channel: 'saml' });
      expect(inB.user.id).not.toBe(inA.user.id);
      expect(inB.user.tenantId).toBe(b.tenant.id);
    });

    it('matches by the email claim when the connection says so', async () => {
      const ctx = await setUp([], { matchBy: 'email' });
      const r = await resolveIdentity(store, ctx, identity({ upn: 'a123@contoso.onmicrosoft.example', email: 'Alice.Adams@contoso.example' }));
      expect(r).toEqual({ action: 'create', username: 'Alice.Adams@contoso.example', usernameKey: 'alice.adams@contoso.example' });
    });

    it('creates one account when the same person arrives twice at once', async () => {
      const ctx = await setUp();
      const objectId = randomUUID();
      const results = await Promise.all(
        Array.from({ length: 5 }, () => provisionIdentity(store, ctx, identity({ immutableId: objectId, groups: ['g-1', 'g-2'] }), { channel: 'saml' })),
      );
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
      expect((await store.users.listByTenant(ctx.tenant.id, { offset: 0, limit: 10 })).total).toBe(1);
      expect((await store.groups.listByTenant(ctx.tenant.id, { offset: 0, limit: 10 })).total).toBe(2);
    });

    it('applies the full-name rule', () => {
      expect(fullNameOf('Alice', 'Adams', 'u')).toBe('Alice Adams');
      expect(fullNameOf(' ', null, 'alice@contoso.example')).toBe('alice@contoso.example');
      expect(fullNameOf(null, 'Adams', 'u')).toBe('Adams');
    });
  });
}
