/**
 * The MongoDB adapter's query logic as pure functions: document shapes, the filter/update documents of every
 * repository operation, and the mapping of stored documents back to domain objects. Nothing here talks to a server,
 * so all of it is unit-tested without MongoDB (test/store/mongo-queries.test.ts); the repositories in ./repositories
 * only pass these objects to mongoose.
 */
import type { QueryFilter, UpdateQuery } from 'mongoose';
import type {
  Channel,
  Connection,
  ConnectionSettings,
  EventOutcome,
  Group,
  IdentityLink,
  IdpDescriptor,
  Membership,
  ProvisioningEvent,
  Tenant,
  User,
} from '../../provisioning/types';
import { normaliseKey } from '../../provisioning/normalise';
import { foldCase } from '../../scim/query';
import { reviveIdpDescriptor } from '../json';
import type { ConnectionPatch, EventQuery, NewConnection, NewEvent, NewTenant, NewUser, PageRequest, UserPatch } from '../ports';

// ---------------------------------------------------------------------------------------------------------------
// Stored document shapes. Ids are UUID strings in _id; dates are BSON dates.

export interface TenantDoc {
  _id: string;
  slug: string;
  name: string;
  domains: string[];
  createdAt: Date;
  updatedAt: Date;
}

export interface ConnectionDoc {
  _id: string;
  tenantId: string;
  slug: string;
  name: string;
  spEntityId: string;
  idp: IdpDescriptor;
  settings: ConnectionSettings;
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface UserDoc {
  _id: string;
  tenantId: string;
  username: string;
  usernameKey: string;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  displayName: string | null;
  fullName: string;
  active: boolean;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
  /** Incremented on every change (the SCIM ETag). Absent on documents written before SCIM: read as 1. */
  version?: number;
  /** Case-folded copies that SCIM filters compare with (see ./scim-queries). */
  displayNameFold?: string | null;
  givenNameFold?: string | null;
  familyNameFold?: string | null;
  emailFold?: string | null;
  /** SCIM ownership and state (absent/null: no SCIM client owns the account). */
  scimConnectionId?: string | null;
  scimExternalId?: string | null;
  scimUserNameKey?: string | null;
  scimEmployeeNumberFold?: string | null;
  scimEmails?: { valueFold: string | null; typeFold: string | null; primary: boolean }[];
  scimResource?: Record<string, unknown> | null;
  scimDeletedAt?: Date | null;
}

export interface IdentityLinkDoc {
  connectionId: string;
  subject: string;
  userId: string;
  createdAt: Date;
}

export interface GroupDoc {
  _id: string;
  tenantId: string;
  externalId: string;
  displayName: string;
  nameResolved: boolean;
  createdAt: Date;
  updatedAt: Date;
  version?: number;
  displayNameFold?: string | null;
  scimConnectionId?: string | null;
  scimExternalId?: string | null;
  scimDeletedAt?: Date | null;
}

export interface MembershipDoc {
  userId: string;
  groupId: string;
  source: string;
  createdAt: Date;
}

export interface EventDoc {
  _id: string;
  /** Insertion order among events of the same millisecond (a client-generated ObjectId hex string: increasing). */
  seq: string;
  tenantId: string | null;
  connectionId: string | null;
  channel: Channel;
  type: string;
  outcome: EventOutcome;
  subject: string | null;
  reason: string | null;
  details: Record<string, unknown>;
  at: Date;
}

/** Replay cache entry: the key is the _id, so the primary index is the uniqueness guard. */
export interface ReplayDoc {
  _id: string;
  expiresAt: Date;
}

export interface RequestDoc {
  _id: string;
  value: string;
  expiresAt: Date;
}

/** A filter and update pair for updateOne/findOneAndUpdate. */
export interface Upsert<T> {
  filter: QueryFilter<T>;
  update: UpdateQuery<T>;
}

/** What a list query needs: filter, sort (field -> direction, in priority order), skip and limit. */
export interface ListQuery<T> {
  filter: QueryFilter<T>;
  sort: Record<string, 1 | -1>;
  skip: number;
  limit: number;
}

// ---------------------------------------------------------------------------------------------------------------
// Errors

/** MongoDB's duplicate key error (E11000), whether raised by the driver, a bulk write or mongoose. */
export function isDuplicateKeyError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, err, writeErrors } = error as { code?: unknown; err?: unknown; writeErrors?: unknown };
  if (code === 11000 || code === 11001) return true;
  // Bulk writes report per-document errors, some drivers wrapping each in { err }.
  if (err !== undefined && isDuplicateKeyError(err)) return true;
  return Array.isArray(writeErrors) && writeErrors.some((writeError: unknown) => isDuplicateKeyError(writeError));
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

/** Drops keys whose value is undefined: a partial patch must never $set a field to undefined (mongoose would unset it). */
export function definedOnly<T extends object>(patch: T): Partial<T> {
  const result: Partial<T> = {};
  for (const key of Object.keys(patch) as (keyof T)[]) {
    if (patch[key] !== undefined) result[key] = patch[key];
  }
  return result;
}

export function pageWindow(page: PageRequest): { skip: number; limit: number } {
  return { skip: Math.max(0, Math.trunc(page.offset)), limit: Math.max(0, Math.trunc(page.limit)) };
}

/** Matches entries that are still alive at `now` (expiresAt strictly in the future, as in the SQLite adapter). */
export function unexpired(now: Date): { expiresAt: { $gt: Date } } {
  return { expiresAt: { $gt: now } };
}

export function expiredBy(now: Date): { expiresAt: { $lte: Date } } {
  return { expiresAt: { $lte: now } };
}

// ---------------------------------------------------------------------------------------------------------------
// Tenants

export function newTenantDoc(input: NewTenant, id: string, now: Date): TenantDoc {
  return { _id: id, slug: input.slug, name: input.name, domains: [...input.domains], createdAt: now, updatedAt: now };
}

export function tenantUpdate(patch: Partial<Pick<Tenant, 'name' | 'domains'>>, now: Date): UpdateQuery<TenantDoc> {
  return { $set: { ...definedOnly({ name: patch.name, domains: patch.domains }), updatedAt: now } };
}

export function toTenant(doc: TenantDoc): Tenant {
  return {
    id: doc._id,
    slug: doc.slug,
    name: doc.name,
    domains: [...doc.domains],
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Connections

export function newConnectionDoc(input: NewConnection, id: string, now: Date): ConnectionDoc {
  return {
    _id: id,
    tenantId: input.tenantId,
    slug: input.slug,
    name: input.name,
    spEntityId: input.spEntityId,
    idp: input.idp,
    settings: input.settings,
    version: 1,
    createdAt: now,
    updatedAt: now,
  };
}

/** $inc in the same update: concurrent patches each get their own version number. */
export function connectionUpdate(patch: ConnectionPatch, now: Date): UpdateQuery<ConnectionDoc> {
  return {
    $set: { ...definedOnly({ name: patch.name, idp: patch.idp, settings: patch.settings }), updatedAt: now },
    $inc: { version: 1 },
  };
}

export function toConnection(doc: ConnectionDoc): Connection {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    slug: doc.slug,
    name: doc.name,
    spEntityId: doc.spEntityId,
    idp: reviveIdpDescriptor(doc.idp),
    settings: doc.settings,
    version: doc.version,
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Users

export function newUserDoc(input: NewUser, id: string, now: Date): UserDoc {
  return {
    _id: id,
    tenantId: input.tenantId,
    username: input.username,
    usernameKey: input.usernameKey,
    email: input.email,
    givenName: input.givenName,
    familyName: input.familyName,
    displayName: input.displayName,
    fullName: input.fullName,
    active: input.active,
    createdAt: now,
    updatedAt: now,
    lastLoginAt: input.lastLoginAt ?? null,
    version: 1,
    displayNameFold: foldCase(input.displayName),
    givenNameFold: foldCase(input.givenName),
    familyNameFold: foldCase(input.familyName),
    emailFold: foldCase(input.email),
  };
}

export function userKeyFilter(tenantId: string, usernameKey: string): QueryFilter<UserDoc> {
  return { tenantId, usernameKey };
}

export function userUpdate(patch: UserPatch, now: Date): UpdateQuery<UserDoc> {
  return {
    $set: {
      ...definedOnly({
        username: patch.username,
        usernameKey: patch.usernameKey,
        email: patch.email,
        givenName: patch.givenName,
        familyName: patch.familyName,
        displayName: patch.displayName,
        fullName: patch.fullName,
        active: patch.active,
        lastLoginAt: patch.lastLoginAt,
      }),
      ...userFoldsOf(patch),
      updatedAt: now,
    },
    $inc: { version: 1 },
  };
}

/** The folded copies of the patched fields that SCIM filters compare case-insensitively. */
export function userFoldsOf(patch: Pick<UserPatch, 'displayName' | 'givenName' | 'familyName' | 'email'>): Partial<UserDoc> {
  const folds: Partial<UserDoc> = {};
  if (patch.displayName !== undefined) folds.displayNameFold = foldCase(patch.displayName);
  if (patch.givenName !== undefined) folds.givenNameFold = foldCase(patch.givenName);
  if (patch.familyName !== undefined) folds.familyNameFold = foldCase(patch.familyName);
  if (patch.email !== undefined) folds.emailFold = foldCase(patch.email);
  return folds;
}

/** Stable order for paging (SCIM startIndex, admin lists): creation time, then id. */
export function usersByTenantQuery(tenantId: string, page: PageRequest): ListQuery<UserDoc> {
  return { filter: { tenantId }, sort: { createdAt: 1, _id: 1 }, ...pageWindow(page) };
}

export function toUser(doc: UserDoc): User {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    username: doc.username,
    usernameKey: doc.usernameKey,
    email: doc.email ?? null,
    givenName: doc.givenName ?? null,
    familyName: doc.familyName ?? null,
    displayName: doc.displayName ?? null,
    fullName: doc.fullName,
    active: doc.active,
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
    lastLoginAt: doc.lastLoginAt ? new Date(doc.lastLoginAt) : null,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Identity links

/** Insert-if-absent: an existing link keeps its userId (the caller compares). */
export function identityLinkUpsert(connectionId: string, subject: string, userId: string, now: Date): Upsert<IdentityLinkDoc> {
  return { filter: { connectionId, subject }, update: { $setOnInsert: { connectionId, subject, userId, createdAt: now } } };
}

export function toIdentityLink(doc: IdentityLinkDoc): IdentityLink {
  return { connectionId: doc.connectionId, subject: doc.subject, userId: doc.userId, createdAt: new Date(doc.createdAt) };
}

// ---------------------------------------------------------------------------------------------------------------
// Groups

/** Insert-if-absent keyed by (tenantId, externalId); never touches an existing group's name. */
export function groupEnsureUpsert(
  tenantId: string,
  externalId: string,
  init: Pick<Group, 'displayName' | 'nameResolved'>,
  id: string,
  now: Date,
): Upsert<GroupDoc> {
  return {
    filter: { tenantId, externalId },
    update: {
      $setOnInsert: {
        _id: id,
        tenantId,
        externalId,
        displayName: init.displayName,
        displayNameFold: foldCase(init.displayName),
        nameResolved: init.nameResolved,
        createdAt: now,
        updatedAt: now,
        version: 1,
      },
    },
  };
}

export function groupsByExternalIdsFilter(tenantId: string, externalIds: string[]): QueryFilter<GroupDoc> {
  return { tenantId, externalId: { $in: [...new Set(externalIds)] } };
}

export function groupRename(displayName: string, now: Date): UpdateQuery<GroupDoc> {
  return { $set: { displayName, displayNameFold: foldCase(displayName), nameResolved: true, updatedAt: now }, $inc: { version: 1 } };
}

export function groupsByIdsQuery(ids: string[]): ListQuery<GroupDoc> {
  const unique = [...new Set(ids)];
  return { filter: { _id: { $in: unique } }, sort: { displayName: 1, _id: 1 }, skip: 0, limit: unique.length };
}

/** Escapes a text for use inside a RegExp, so searched text matches literally. */
function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}

/** UserRepository.search: username key prefix, or full/display name containing the text (case-insensitive). */
export function userSearchQuery(tenantId: string, text: string, page: PageRequest): ListQuery<UserDoc> {
  const contains = new RegExp(escapeRegExp(text.trim()), 'iu');
  return {
    filter: {
      tenantId,
      $or: [{ usernameKey: { $regex: `^${escapeRegExp(normaliseKey(text))}` } }, { fullName: { $regex: contains } }, { displayName: { $regex: contains } }],
    },
    sort: { usernameKey: 1, _id: 1 },
    ...pageWindow(page),
  };
}

/** GroupRepository.search: display name containing the text, or external id starting with it (case-insensitive). */
export function groupSearchQuery(tenantId: string, text: string, page: PageRequest): ListQuery<GroupDoc> {
  const escaped = escapeRegExp(text.trim());
  return {
    filter: { tenantId, $or: [{ displayName: { $regex: new RegExp(escaped, 'iu') } }, { externalId: { $regex: new RegExp(`^${escaped}`, 'iu') } }] },
    sort: { createdAt: 1, _id: 1 },
    ...pageWindow(page),
  };
}

export function groupsByTenantQuery(tenantId: string, page: PageRequest): ListQuery<GroupDoc> {
  return { filter: { tenantId }, sort: { createdAt: 1, _id: 1 }, ...pageWindow(page) };
}

export function toGroup(doc: GroupDoc): Group {
  return {
    id: doc._id,
    tenantId: doc.tenantId,
    externalId: doc.externalId,
    displayName: doc.displayName,
    nameResolved: doc.nameResolved,
    createdAt: new Date(doc.createdAt),
    updatedAt: new Date(doc.updatedAt),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Memberships

export function membershipKey(userId: string, groupId: string, source: string): QueryFilter<MembershipDoc> {
  return { userId, groupId, source };
}

export function membershipUpsert(userId: string, groupId: string, source: string, now: Date): Upsert<MembershipDoc> {
  return { filter: membershipKey(userId, groupId, source), update: { $setOnInsert: { userId, groupId, source, createdAt: now } } };
}

/** What syncSource must write: the pure diff between the source's current and wanted groups. */
export function membershipSyncPlan(
  current: readonly string[],
  wanted: readonly string[],
  mode: 'sync' | 'append',
): { add: string[]; remove: string[] } {
  const have = new Set(current);
  const want = new Set(wanted);
  return {
    add: [...want].filter((g) => !have.has(g)),
    remove: mode === 'sync' ? [...have].filter((g) => !want.has(g)) : [],
  };
}

export function toMembership(doc: MembershipDoc): Membership {
  return { userId: doc.userId, groupId: doc.groupId, source: doc.source, createdAt: new Date(doc.createdAt) };
}

// ---------------------------------------------------------------------------------------------------------------
// Events

export function newEventDoc(event: NewEvent, id: string, seq: string): EventDoc {
  return {
    _id: id,
    seq,
    tenantId: event.tenantId,
    connectionId: event.connectionId,
    channel: event.channel,
    type: event.type,
    outcome: event.outcome,
    subject: event.subject,
    reason: event.reason,
    details: event.details ?? {},
    at: event.at,
  };
}

/**
 * Newest first, only the filters given (so the (connectionId, at, seq) / (tenantId, at, seq) indexes serve the
 * query and its sort), `before` strictly older.
 */
export function eventListQuery(query: EventQuery): ListQuery<EventDoc> {
  const filter: QueryFilter<EventDoc> = {};
  if (query.tenantId !== undefined) filter.tenantId = query.tenantId;
  if (query.connectionId !== undefined) filter.connectionId = query.connectionId;
  if (query.channel !== undefined) filter.channel = query.channel;
  if (query.outcome !== undefined) filter.outcome = query.outcome;
  if (query.subject !== undefined) filter.subject = query.subject;
  if (query.before !== undefined || query.after !== undefined) {
    filter.at = { ...(query.before !== undefined ? { $lt: query.before } : {}), ...(query.after !== undefined ? { $gt: query.after } : {}) };
  }
  return { filter, sort: { at: -1, seq: -1 }, skip: 0, limit: Math.max(0, Math.trunc(query.limit)) };
}

export function eventsOlderThan(cutoff: Date): QueryFilter<EventDoc> {
  return { at: { $lt: cutoff } };
}

export function toEvent(doc: EventDoc): ProvisioningEvent {
  return {
    id: doc._id,
    tenantId: doc.tenantId ?? null,
    connectionId: doc.connectionId ?? null,
    channel: doc.channel,
    type: doc.type,
    outcome: doc.outcome,
    subject: doc.subject ?? null,
    reason: doc.reason ?? null,
    details: doc.details ?? {},
    at: new Date(doc.at),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Replay cache (OnceCache) and request cache (ExpiringMap)

/**
 * One atomic claim: `updateOne(filter, update, { upsert: true })`.
 * - no entry: the filter matches nothing, the upsert inserts {_id: key} -> upsertedCount 1 -> claimed;
 * - an expired entry the TTL monitor has not deleted yet (it runs only once a minute): the filter matches it and the
 *   update takes it over -> matchedCount 1 -> claimed;
 * - a live entry: the filter matches nothing, the upsert's insert hits the _id index -> E11000 -> not claimed.
 * Concurrent claims serialise on the one document, so exactly one of them sees a match or a successful insert.
 */
export function replayClaim(key: string, expiresAt: Date, now: Date): Upsert<ReplayDoc> {
  return { filter: { _id: key, ...expiredBy(now) }, update: { $set: { expiresAt } } };
}

/** Interprets the updateOne result of replayClaim (a duplicate key error means "not claimed"). */
export function claimSucceeded(result: { upsertedCount: number; matchedCount: number }): boolean {
  return result.upsertedCount + result.matchedCount > 0;
}

export function requestPut(key: string, value: string, expiresAt: Date): Upsert<RequestDoc> {
  return { filter: { _id: key }, update: { $set: { value, expiresAt } } };
}

/** For findOne / findOneAndDelete: the key, only while alive. */
export function liveRequest(key: string, now: Date): QueryFilter<RequestDoc> {
  return { _id: key, ...unexpired(now) };
}

// ---------------------------------------------------------------------------------------------------------------
// Sessions (connect-mongo stores {_id: sid, session, expires}; with stringify: false the session is a sub-document)

/** passport's serialised user id inside a connect-mongo document. */
export const SESSION_USER_PATH = 'session.passport.user';

/** The connection a session's login came through (set at sign-in). */
export const SESSION_CONNECTION_PATH = 'session.connectionId';

export function sessionsOfUser(userId: string, connectionId?: string): Record<string, string> {
  return connectionId === undefined ? { [SESSION_USER_PATH]: userId } : { [SESSION_USER_PATH]: userId, [SESSION_CONNECTION_PATH]: connectionId };
}

export function expiredSessions(now: Date): { expires: { $lte: Date } } {
  return { expires: { $lte: now } };
}
