/**
 * mongoose schemas and models, bound to one Connection per store (never the global default connection, so two
 * stores - or a test and the app - never share models or sockets). Index definitions mirror the SQLite schema.
 */
import { Schema, type Connection, type Model } from 'mongoose';
import type {
  ConnectionDoc,
  EventDoc,
  GroupDoc,
  IdentityLinkDoc,
  MembershipDoc,
  ReplayDoc,
  RequestDoc,
  TenantDoc,
  UserDoc,
} from './queries';
import type { ScimClientDoc, ScimTokenDoc } from './scim-queries';

/** Options every schema shares: timestamps and versions are managed by the repositories, empty objects kept. */
const COMMON = { versionKey: false, minimize: false, timestamps: false, strict: true } as const;
const nullableString = { type: String, default: null };

const tenantSchema = new Schema<TenantDoc>(
  {
    _id: { type: String, required: true },
    slug: { type: String, required: true, unique: true },
    name: { type: String, required: true },
    domains: { type: [String], default: [] },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  COMMON,
);
// Home realm discovery looks tenants up by owned domain (a multikey index over the array).
tenantSchema.index({ domains: 1 });

const connectionSchema = new Schema<ConnectionDoc>(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true, index: true },
    slug: { type: String, required: true, unique: true },
    name: { type: String, required: true },
    spEntityId: { type: String, required: true },
    // Whole documents owned by the domain: stored as-is (BSON keeps the Dates inside them).
    idp: { type: Schema.Types.Mixed, required: true },
    settings: { type: Schema.Types.Mixed, required: true },
    version: { type: Number, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  COMMON,
);

const userSchema = new Schema<UserDoc>(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    username: { type: String, required: true },
    usernameKey: { type: String, required: true },
    email: nullableString,
    givenName: nullableString,
    familyName: nullableString,
    displayName: nullableString,
    fullName: { type: String, required: true },
    active: { type: Boolean, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    lastLoginAt: { type: Date, default: null },
    version: { type: Number, default: 1 },
    displayNameFold: nullableString,
    givenNameFold: nullableString,
    familyNameFold: nullableString,
    emailFold: nullableString,
    scimConnectionId: nullableString,
    scimExternalId: nullableString,
    scimUserNameKey: nullableString,
    scimEmployeeNumberFold: nullableString,
    scimEmails: { type: [{ _id: false, valueFold: nullableString, typeFold: nullableString, primary: Boolean }], default: undefined },
    scimResource: { type: Schema.Types.Mixed, default: null },
    scimDeletedAt: { type: Date, default: null },
  },
  COMMON,
);
// SCIM filters (./scim-queries): the common lookups are indexed like the SQLite columns.
userSchema.index({ tenantId: 1, displayNameFold: 1 });
userSchema.index({ tenantId: 1, scimExternalId: 1 });
userSchema.index({ tenantId: 1, scimUserNameKey: 1 });
userSchema.index({ tenantId: 1, emailFold: 1 });
userSchema.index({ 'scimEmails.valueFold': 1 });
// usernameKey is already normalised (NFC + full case folding) by the caller, so the index compares it binary:
// the explicit 'simple' collation keeps a collection-level default collation from changing what "equal" means.
userSchema.index({ tenantId: 1, usernameKey: 1 }, { unique: true, collation: { locale: 'simple' } });
userSchema.index({ tenantId: 1, createdAt: 1, _id: 1 });

const identityLinkSchema = new Schema<IdentityLinkDoc>(
  {
    connectionId: { type: String, required: true },
    subject: { type: String, required: true },
    userId: { type: String, required: true, index: true },
    createdAt: { type: Date, required: true },
  },
  COMMON,
);
identityLinkSchema.index({ connectionId: 1, subject: 1 }, { unique: true });

const groupSchema = new Schema<GroupDoc>(
  {
    _id: { type: String, required: true },
    tenantId: { type: String, required: true },
    externalId: { type: String, required: true },
    displayName: { type: String, required: true },
    nameResolved: { type: Boolean, required: true },
    createdAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
    version: { type: Number, default: 1 },
    displayNameFold: nullableString,
    scimConnectionId: nullableString,
    scimExternalId: nullableString,
    scimDeletedAt: { type: Date, default: null },
  },
  COMMON,
);
groupSchema.index({ tenantId: 1, displayNameFold: 1 });
groupSchema.index({ tenantId: 1, externalId: 1 }, { unique: true });
groupSchema.index({ tenantId: 1, createdAt: 1, _id: 1 });

const membershipSchema = new Schema<MembershipDoc>(
  {
    userId: { type: String, required: true },
    groupId: { type: String, required: true, index: true },
    source: { type: String, required: true },
    createdAt: { type: Date, required: true },
  },
  COMMON,
);
membershipSchema.index({ userId: 1, groupId: 1, source: 1 }, { unique: true });
membershipSchema.index({ source: 1, groupId: 1 });

const scimTokenSchema = new Schema<ScimTokenDoc>(
  {
    _id: { type: String, required: true },
    connectionId: { type: String, required: true },
    tenantId: { type: String, required: true },
    kind: { type: String, required: true },
    hash: { type: String, required: true, unique: true },
    prefix: { type: String, required: true },
    clientId: nullableString,
    createdAt: { type: Date, required: true },
    expiresAt: { type: Date, required: true },
    lastUsedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
    alertsSent: { type: [Number], default: [] },
  },
  COMMON,
);
scimTokenSchema.index({ connectionId: 1, kind: 1, createdAt: -1 });
scimTokenSchema.index({ kind: 1, expiresAt: 1 });

const scimClientSchema = new Schema<ScimClientDoc>(
  {
    _id: { type: String, required: true },
    connectionId: { type: String, required: true, index: true },
    tenantId: { type: String, required: true },
    clientId: { type: String, required: true, unique: true },
    secretHash: { type: String, required: true },
    createdAt: { type: Date, required: true },
    lastUsedAt: { type: Date, default: null },
    revokedAt: { type: Date, default: null },
  },
  COMMON,
);

const eventSchema = new Schema<EventDoc>(
  {
    _id: { type: String, required: true },
    seq: { type: String, required: true },
    tenantId: nullableString,
    connectionId: nullableString,
    channel: { type: String, required: true },
    type: { type: String, required: true },
    outcome: { type: String, required: true },
    subject: nullableString,
    reason: nullableString,
    details: { type: Schema.Types.Mixed, default: {} },
    at: { type: Date, required: true },
  },
  COMMON,
);
// Each index ends with the sort (at, seq), so "newest first, limit n" reads n index entries, no in-memory sort.
eventSchema.index({ connectionId: 1, at: -1, seq: -1 });
eventSchema.index({ tenantId: 1, at: -1, seq: -1 });
eventSchema.index({ at: -1, seq: -1 });

const replaySchema = new Schema<ReplayDoc>(
  {
    _id: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  COMMON,
);
// The TTL monitor deletes expired entries (about once a minute); the code never relies on it for correctness.
replaySchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

const requestSchema = new Schema<RequestDoc>(
  {
    _id: { type: String, required: true },
    value: { type: String, required: true },
    expiresAt: { type: Date, required: true },
  },
  COMMON,
);
requestSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 0 });

export interface MongoModels {
  tenants: Model<TenantDoc>;
  connections: Model<ConnectionDoc>;
  users: Model<UserDoc>;
  identityLinks: Model<IdentityLinkDoc>;
  groups: Model<GroupDoc>;
  memberships: Model<MembershipDoc>;
  events: Model<EventDoc>;
  replayCache: Model<ReplayDoc>;
  requestCache: Model<RequestDoc>;
  scimTokens: Model<ScimTokenDoc>;
  scimClients: Model<ScimClientDoc>;
}

/** Collection names, fixed so they do not depend on mongoose's pluralisation rules. */
export const COLLECTIONS = {
  tenants: 'tenants',
  connections: 'connections',
  users: 'users',
  identityLinks: 'identity_links',
  groups: 'groups',
  memberships: 'memberships',
  events: 'events',
  replayCache: 'replay_cache',
  requestCache: 'request_cache',
  sessions: 'sessions',
  scimTokens: 'scim_tokens',
  scimClients: 'scim_clients',
} as const;

export function bindModels(connection: Connection): MongoModels {
  return {
    tenants: connection.model<TenantDoc>('Tenant', tenantSchema, COLLECTIONS.tenants),
    connections: connection.model<ConnectionDoc>('Connection', connectionSchema, COLLECTIONS.connections),
    users: connection.model<UserDoc>('User', userSchema, COLLECTIONS.users),
    identityLinks: connection.model<IdentityLinkDoc>('IdentityLink', identityLinkSchema, COLLECTIONS.identityLinks),
    groups: connection.model<GroupDoc>('Group', groupSchema, COLLECTIONS.groups),
    memberships: connection.model<MembershipDoc>('Membership', membershipSchema, COLLECTIONS.memberships),
    events: connection.model<EventDoc>('Event', eventSchema, COLLECTIONS.events),
    replayCache: connection.model<ReplayDoc>('ReplayEntry', replaySchema, COLLECTIONS.replayCache),
    requestCache: connection.model<RequestDoc>('RequestEntry', requestSchema, COLLECTIONS.requestCache),
    scimTokens: connection.model<ScimTokenDoc>('ScimToken', scimTokenSchema, COLLECTIONS.scimTokens),
    scimClients: connection.model<ScimClientDoc>('ScimClient', scimClientSchema, COLLECTIONS.scimClients),
  };
}

/**
 * Creates every declared index before the store is used: uniqueness is enforced by these indexes, so writes must not
 * start before they exist. createIndexes() only adds; it never drops an index an operator created by hand.
 */
export async function ensureIndexes(models: MongoModels): Promise<void> {
  await Promise.all(
    Object.values(models).map(async (model: Model<unknown>) => {
      // init() creates the collection (autoCreate); indexes after it, so the two never race to create it.
      await model.init();
      await model.createIndexes();
    }),
  );
}
