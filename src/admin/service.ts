/**
 * Every admin action (tenants, connections, metadata import, listings), validated once here and shared by the
 * HTTP admin API and the `gatehouse` CLI, so both behave identically.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../common/errors';
import type { Logger } from '../common/log';
import { parseInput } from '../common/validation';
import { type AssertedIdentity, resolveIdentity, type Resolution } from '../provisioning/identity';
import { renameGroups, type RenameResult } from '../provisioning/groups';
import { normaliseDomain, normaliseKey } from '../provisioning/normalise';
import type { Channel, Connection, ConnectionSettings, IdpDescriptor, ProvisioningEvent, Tenant, User } from '../provisioning/types';
import { fetchMetadata } from '../saml/metadata-fetch';
import { parseIdpMetadata } from '../saml/metadata';
import { defaultSpEntityId, spUrls } from '../saml/urls';
import type { Page, Store } from '../store/ports';
import { scimSettingsOf } from '../provisioning/types';
import { parseExtensionDeclarations } from '../scim/schemas';
import { ScimCredentials, type ClientView, type TokenView } from '../scim/credentials';
import { expiringTokenFlag } from '../scim/token-alerts';
import { MAX_GROUP_NAME } from './rename-csv';

const slug = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, 'use 1-63 lower-case letters, digits and dashes (e.g. "contoso")');

const domain = z
  .string()
  .transform(normaliseDomain)
  .refine((d) => /^(?=.{1,253}$)([a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]{0,61}[a-z0-9\u00a1-\uffff])?\.)+[a-z\u00a1-\uffff]{2,63}$/.test(d), 'is not a domain name');

const TenantCreate = z.object({
  slug,
  name: z.string().trim().min(1).max(200),
  domains: z.array(domain).max(500).default([]),
});
const TenantUpdate = z.object({
  name: z.string().trim().min(1).max(200).optional(),
  domains: z.array(domain).max(500).optional(),
});

const groupList = z.array(z.string().trim().min(1).max(256)).max(1000).transform((list) => [...new Set(list)]);

const SettingsPatch = z
  .object({
    matchBy: z.enum(['upn', 'email']),
    allowIdpInitiated: z.boolean(),
    wantAuthnResponseSigned: z.boolean(),
    signAuthnRequests: z.boolean(),
    allowSha1: z.boolean(),
    singleLogout: z.boolean(),
    jit: z
      .object({
        enabled: z.boolean(),
        updateOnLogin: z.boolean(),
        groupsClaim: z.string().trim().min(1).max(512).nullable(),
        membershipMode: z.enum(['sync', 'append']),
        requireAnyGroup: groupList,
        onlyGroups: groupList,
        excludeGroups: groupList,
      })
      .strict()
      .partial(),
    scim: z
      .object({
        // Validated by the SCIM schema rules below (parseExtensionDeclarations), so /Schemas can always serve them.
        extensions: z.array(z.unknown()).max(20),
        deleteMode: z.enum(['soft', 'hard']),
        notificationEmail: z.string().trim().email().max(320).nullable(),
      })
      .strict()
      .partial(),
  })
  .strict()
  .partial();

const MetadataSource = z
  .object({
    metadataXml: z.string().min(1).max(2_000_000).optional(),
    metadataUrl: z.string().trim().min(1).max(2048).optional(),
    /** Which entity to use when the metadata is an aggregate (EntitiesDescriptor). */
    idpEntityId: z.string().trim().min(1).optional(),
  })
  .strict();

const ConnectionCreate = SettingsPatch.extend({
  slug,
  name: z.string().trim().min(1).max(200).optional(),
  spEntityId: z.string().trim().url().optional(),
  metadataXml: MetadataSource.shape.metadataXml,
  metadataUrl: MetadataSource.shape.metadataUrl,
  idpEntityId: MetadataSource.shape.idpEntityId,
}).strict();

const ConnectionUpdate = SettingsPatch.extend({ name: z.string().trim().min(1).max(200).optional() }).strict();

const RenameBody = z
  .object({
    names: z.record(z.string().trim().min(1).max(256), z.string().trim().min(1).max(MAX_GROUP_NAME)).refine((n) => Object.keys(n).length <= 100_000, 'at most 100000 names per call'),
  })
  .strict();

const UserActiveBody = z.object({ active: z.boolean() }).strict();

const ScimTokenBody = z.object({ expiresInDays: z.coerce.number().int().min(1).max(3650).optional() }).strict();

const MatchQuery = z
  .object({
    username: z.string().trim().min(1).optional(),
    email: z.string().trim().min(1).optional(),
    objectId: z.string().trim().min(1).optional(),
  })
  .strict();

export const DEFAULT_SETTINGS: ConnectionSettings = {
  matchBy: 'upn',
  allowIdpInitiated: true,
  wantAuthnResponseSigned: false,
  signAuthnRequests: false,
  allowSha1: false,
  singleLogout: false,
  jit: {
    enabled: true,
    updateOnLogin: true,
    groupsClaim: null,
    membershipMode: 'sync',
    requireAnyGroup: [],
    onlyGroups: [],
    excludeGroups: [],
  },
};

function mergeSettings(base: ConnectionSettings, patch: z.infer<typeof SettingsPatch>): ConnectionSettings {
  const { jit, scim, ...rest } = patch;
  const merged: ConnectionSettings = { ...base, ...rest, jit: { ...base.jit, ...jit } };
  if (scim) {
    const { extensions, ...scimRest } = scim;
    merged.scim = {
      ...scimSettingsOf(base),
      ...scimRest,
      ...(extensions !== undefined ? { extensions: parseExtensionDeclarations(extensions) } : {}),
    };
  }
  return merged;
}

/** What the API and CLI show for a connection: everything an admin pastes into the IdP, no secrets. */
export interface ConnectionView {
  id: string;
  tenantId: string;
  slug: string;
  name: string;
  spEntityId: string;
  acsUrl: string;
  loginUrl: string;
  metadataUrl: string;
  /** Our SingleLogoutService (Entra: "Logout Url (Optional)"). */
  logoutUrl: string;
  settings: ConnectionSettings;
  idp: {
    entityId: string;
    ssoUrl: string | null;
    sloUrl: string | null;
    metadataSigned: boolean;
    source: IdpDescriptor['source'];
    importedAt: string;
    certs: { fingerprint: string; subject: string; notBefore: string; notAfter: string }[];
  };
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface AdminServiceOptions {
  store: Store;
  baseUrl: string;
  allowPrivateMetadataUrls: boolean;
  logger: Logger;
}

export class AdminService {
  constructor(private readonly options: AdminServiceOptions) {}

  private get store(): Store {
    return this.options.store;
  }

  // ---- tenants ----

  async createTenant(input: unknown): Promise<Tenant> {
    const data = parseInput(TenantCreate, input);
    return this.store.tenants.create({ ...data, domains: [...new Set(data.domains)] });
  }

  async listTenants(): Promise<Tenant[]> {
    return this.store.tenants.list();
  }

  /** A tenant by id or slug. */
  async getTenant(ref: string): Promise<Tenant> {
    const tenant = (await this.store.tenants.findBySlug(ref.toLowerCase())) ?? (await this.store.tenants.findById(ref));
    if (!tenant) throw new NotFoundError(`No tenant "${ref}".`, 'tenant_not_found');
    return tenant;
  }

  async updateTenant(ref: string, input: unknown): Promise<Tenant> {
    const tenant = await this.getTenant(ref);
    const data = parseInput(TenantUpdate, input);
    const updated = await this.store.tenants.update(tenant.id, {
      ...(data.name !== undefined ? { name: data.name } : {}),
      ...(data.domains !== undefined ? { domains: [...new Set(data.domains)] } : {}),
    });
    if (!updated) throw new NotFoundError(`No tenant "${ref}".`, 'tenant_not_found');
    return updated;
  }

  // ---- connections ----

  private async loadMetadata(source: z.infer<typeof MetadataSource>, trustedCertsPem?: string[]): Promise<IdpDescriptor> {
    if (source.metadataXml && source.metadataUrl) {
      throw new ValidationError('Give either metadataXml or metadataUrl, not both.');
    }
    if (source.metadataXml) {
      return parseIdpMetadata(source.metadataXml, { entityId: source.idpEntityId, source: { kind: 'xml' }, trustedCertsPem });
    }
    if (source.metadataUrl) {
      const xml = await fetchMetadata(source.metadataUrl, { allowPrivateNetworks: this.options.allowPrivateMetadataUrls });
      return parseIdpMetadata(xml, {
        entityId: source.idpEntityId,
        source: { kind: 'url', url: source.metadataUrl },
        trustedCertsPem,
      });
    }
    throw new ValidationError('The IdP metadata is required: give metadataXml (the XML document) or metadataUrl.', undefined, 'metadata_required');
  }

  async createConnection(tenantRef: string, input: unknown): Promise<ConnectionView> {
    const tenant = await this.getTenant(tenantRef);
    const { slug: connSlug, name, spEntityId, metadataXml, metadataUrl, idpEntityId, ...settings } = parseInput(ConnectionCreate, input);
    // Parse (and fetch) the metadata before anything is stored: bad metadata changes nothing.
    const idp = await this.loadMetadata({ metadataXml, metadataUrl, idpEntityId });
    const connection = await this.store.connections.create({
      tenantId: tenant.id,
      slug: connSlug,
      name: name ?? tenant.name,
      spEntityId: spEntityId ?? defaultSpEntityId(this.options.baseUrl, connSlug),
      idp,
      settings: mergeSettings(DEFAULT_SETTINGS, settings),
    });
    this.options.logger.info({ connectionId: connection.id, tenantId: tenant.id, idp: idp.entityId }, 'connection created');
    return this.view(connection);
  }

  /** A connection by id or slug. */
  async getConnection(ref: string): Promise<Connection> {
    const connection = (await this.store.connections.findById(ref)) ?? (await this.store.connections.findBySlug(ref.toLowerCase()));
    if (!connection) throw new NotFoundError(`No connection "${ref}".`, 'connection_not_found');
    return connection;
  }

  async listConnections(tenantRef: string): Promise<ConnectionView[]> {
    const tenant = await this.getTenant(tenantRef);
    return (await this.store.connections.listByTenant(tenant.id)).map((c) => this.view(c));
  }

  async updateConnection(ref: string, input: unknown): Promise<ConnectionView> {
    const connection = await this.getConnection(ref);
    const { name, ...settings } = parseInput(ConnectionUpdate, input);
    const updated = await this.store.connections.update(connection.id, {
      ...(name !== undefined ? { name } : {}),
      settings: mergeSettings(connection.settings, settings),
    });
    if (!updated) throw new NotFoundError(`No connection "${ref}".`, 'connection_not_found');
    return this.view(updated);
  }

  async deleteConnection(ref: string): Promise<void> {
    const connection = await this.getConnection(ref);
    await this.store.connections.delete(connection.id);
    this.options.logger.info({ connectionId: connection.id }, 'connection deleted');
  }

  /** Re-imports metadata (e.g. after an IdP certificate rollover); with no body, from the URL it came from. */
  async reimportMetadata(ref: string, input: unknown): Promise<ConnectionView> {
    const connection = await this.getConnection(ref);
    const source = parseInput(MetadataSource, input);
    if (!source.metadataXml && !source.metadataUrl) {
      if (connection.idp.source.kind !== 'url') {
        throw new ValidationError('This connection was imported from XML: give metadataXml or metadataUrl.', undefined, 'metadata_required');
      }
      source.metadataUrl = connection.idp.source.url;
    }
    // The certificates trusted today may vouch for the new document (an IdP that signs its metadata with them).
    const idp = await this.loadMetadata(
      { ...source, idpEntityId: source.idpEntityId ?? connection.idp.entityId },
      connection.idp.certs.map((c) => c.pem),
    );
    const updated = await this.store.connections.update(connection.id, { idp });
    if (!updated) throw new NotFoundError(`No connection "${ref}".`, 'connection_not_found');
    return this.view(updated);
  }

  view(connection: Connection): ConnectionView {
    const urls = spUrls(this.options.baseUrl, connection.slug);
    const { idp } = connection;
    return {
      id: connection.id,
      tenantId: connection.tenantId,
      slug: connection.slug,
      name: connection.name,
      spEntityId: connection.spEntityId,
      acsUrl: urls.acsUrl,
      loginUrl: urls.loginUrl,
      metadataUrl: urls.metadataUrl,
      logoutUrl: urls.sloUrl,
      settings: { ...connection.settings, singleLogout: connection.settings.singleLogout ?? false },
      idp: {
        entityId: idp.entityId,
        ssoUrl: idp.ssoRedirectUrl ?? idp.ssoPostUrl,
        sloUrl: idp.sloUrl,
        metadataSigned: idp.metadataSigned,
        source: idp.source,
        importedAt: idp.importedAt.toISOString(),
        certs: idp.certs.map((c) => ({
          fingerprint: c.fingerprint,
          subject: c.subject,
          notBefore: c.notBefore.toISOString(),
          notAfter: c.notAfter.toISOString(),
        })),
      },
      version: connection.version,
      createdAt: connection.createdAt.toISOString(),
      updatedAt: connection.updatedAt.toISOString(),
    };
  }

  // ---- directory and log ----

  async listUsers(ref: string, page: { offset: number; limit: number }) {
    const connection = await this.getConnection(ref);
    return this.store.users.listByTenant(connection.tenantId, page);
  }

  async listGroups(ref: string, page: { offset: number; limit: number }) {
    const connection = await this.getConnection(ref);
    return this.store.groups.listByTenant(connection.tenantId, page);
  }

  /** The rename pass from an admin: `names` maps group external id (Entra object id) -> real name. Idempotent. */
  async renameGroups(tenantRef: string, input: unknown, onProgress?: (done: number, total: number) => void): Promise<RenameResult> {
    const tenant = await this.getTenant(tenantRef);
    const { names } = parseInput(RenameBody, input);
    return renameGroups(this.store, tenant.id, new Map(Object.entries(names)), { channel: 'admin', onProgress });
  }

  /** An account of the connection's tenant, by id or username. */
  async findUser(ref: string, userRef: string): Promise<User> {
    const connection = await this.getConnection(ref);
    const byId = await this.store.users.findById(userRef);
    const user = byId && byId.tenantId === connection.tenantId ? byId : await this.store.users.findByKey(connection.tenantId, normaliseKey(userRef));
    if (!user) throw new NotFoundError(`No user "${userRef}" in this tenant.`, 'user_not_found');
    return user;
  }

  /** Disables or re-enables an account of the connection's tenant. A disabled account loses its sessions at once. */
  async setUserActive(ref: string, userId: string, input: unknown): Promise<User> {
    const connection = await this.getConnection(ref);
    const { active } = parseInput(UserActiveBody, input);
    const user = await this.store.users.findById(userId);
    if (!user || user.tenantId !== connection.tenantId) throw new NotFoundError(`No user "${userId}" in this tenant.`, 'user_not_found');
    const updated = await this.store.users.update(user.id, { active });
    await this.store.events.append({
      tenantId: user.tenantId,
      connectionId: connection.id,
      channel: 'admin',
      type: active ? 'user_enabled' : 'user_disabled',
      outcome: 'success',
      subject: user.username,
      reason: null,
      details: { userId: user.id },
      at: new Date(),
    });
    return updated ?? user;
  }

  // ---- SCIM credentials ----

  private get scimCredentials(): ScimCredentials {
    return new ScimCredentials(this.store);
  }

  private async logAdmin(connection: Connection, type: string, subject: string | null, details: Record<string, unknown>): Promise<void> {
    await this.store.events.append({
      tenantId: connection.tenantId,
      connectionId: connection.id,
      channel: 'admin',
      type,
      outcome: 'success',
      subject,
      reason: null,
      details,
      at: new Date(),
    });
  }

  /** A new SCIM bearer token (default 365 days); the token itself is in this answer only. */
  async createScimToken(ref: string, input: unknown): Promise<{ id: string; token: string; prefix: string; expiresAt: string }> {
    const connection = await this.getConnection(ref);
    const { expiresInDays } = parseInput(ScimTokenBody, input);
    const created = await this.scimCredentials.createToken(connection, { expiresInDays });
    await this.logAdmin(connection, 'scim_token_created', created.prefix, { tokenId: created.id, expiresAt: created.expiresAt });
    return created;
  }

  async listScimTokens(ref: string): Promise<TokenView[]> {
    const connection = await this.getConnection(ref);
    return this.scimCredentials.listTokens(connection.id);
  }

  async extendScimToken(ref: string, tokenId: string, input: unknown): Promise<TokenView> {
    const connection = await this.getConnection(ref);
    const { expiresInDays } = parseInput(ScimTokenBody, input);
    const view = await this.scimCredentials.extendToken(connection.id, tokenId, { expiresInDays });
    await this.logAdmin(connection, 'scim_token_extended', view.prefix, { tokenId, expiresAt: view.expiresAt });
    return view;
  }

  async revokeScimToken(ref: string, tokenId: string): Promise<TokenView> {
    const connection = await this.getConnection(ref);
    const view = await this.scimCredentials.revokeToken(connection.id, tokenId);
    await this.logAdmin(connection, 'scim_token_revoked', view.prefix, { tokenId });
    return view;
  }

  /** A new OAuth client-credentials client for the connection's SCIM endpoint; the secret is in this answer only. */
  async createScimClient(ref: string): Promise<{ id: string; clientId: string; clientSecret: string; tokenUrl: string }> {
    const connection = await this.getConnection(ref);
    const created = await this.scimCredentials.createClient(connection);
    await this.logAdmin(connection, 'scim_client_created', created.clientId, { id: created.id });
    return { ...created, tokenUrl: `${this.options.baseUrl}/scim/oauth/token` };
  }

  async listScimClients(ref: string): Promise<ClientView[]> {
    const connection = await this.getConnection(ref);
    return this.scimCredentials.listClients(connection.id);
  }

  async revokeScimClient(ref: string, id: string): Promise<ClientView> {
    const connection = await this.getConnection(ref);
    const view = await this.scimCredentials.revokeClient(connection.id, id);
    await this.logAdmin(connection, 'scim_client_revoked', view.clientId, { id: view.id });
    return view;
  }

  /** The connection's SCIM endpoint and the "token expiring" flag (tokens that have had an expiry alert). */
  async scimStatus(ref: string): Promise<{ baseUrl: string; tokenUrl: string; tokenExpiring: boolean; expiringTokens: { tokenId: string; prefix: string; expiresAt: string }[] }> {
    const connection = await this.getConnection(ref);
    const expiringTokens = await expiringTokenFlag(this.store, connection.id);
    return {
      baseUrl: `${this.options.baseUrl}/scim/v2`,
      tokenUrl: `${this.options.baseUrl}/scim/oauth/token`,
      tokenExpiring: expiringTokens.length > 0,
      expiringTokens,
    };
  }

  async listEvents(ref: string, query: { limit: number; before?: Date; outcome?: ProvisioningEvent['outcome']; channel?: Channel }): Promise<ProvisioningEvent[]> {
    const connection = await this.getConnection(ref);
    return this.store.events.list({ connectionId: connection.id, ...query });
  }

  /** Dry run of the matching rules: which account a login with these values would use, or create, and why. */
  async match(ref: string, input: unknown): Promise<{ decision: Resolution['action']; reason: string | null; userId: string | null; username: string | null; via: string | null }> {
    const connection = await this.getConnection(ref);
    const tenant = await this.getTenant(connection.tenantId);
    const q = parseInput(MatchQuery, input);
    const identity: AssertedIdentity = {
      upn: connection.settings.matchBy === 'upn' ? (q.username ?? null) : null,
      email: q.email ?? (connection.settings.matchBy === 'email' ? (q.username ?? null) : null),
      givenName: null,
      familyName: null,
      displayName: null,
      immutableId: q.objectId ?? null,
      groups: null,
      groupsOverage: false,
    };
    const r = await resolveIdentity(this.store, { tenant, connection }, identity);
    if (r.action === 'use') return { decision: 'use', reason: null, userId: r.user.id, username: r.user.username, via: r.via };
    if (r.action === 'create') return { decision: 'create', reason: null, userId: null, username: r.username, via: null };
    return { decision: 'refuse', reason: r.reason, userId: null, username: r.username, via: null };
  }
}

export type { Page };
