/**
 * Who is who. The one module that decides which account an identity from any channel (SAML now; SCIM and LDAP
 * call the same functions) belongs to, creates it when it should, and keeps its profile and groups in step.
 *
 * Resolution order (design.md section 3):
 *   1. an account already linked to this connection by the IdP's immutable id (Entra objectidentifier, or a
 *      persistent NameID);
 *   2. an account of the same tenant with the same normalised key (UPN or email, per connection.matchBy);
 *   3. otherwise create it (JIT), if the connection allows, else refuse.
 * Never across tenants; never for a UPN/email outside the tenant's owned domains when domains are configured.
 */
import { ConflictError } from '../common/errors';
import type { NewEvent, Store, UserPatch } from '../store/ports';
import { applyGroupFilters, looksLikeGuid } from './groups';
import { domainOf, normaliseKey } from './normalise';
import type { Channel, Connection, EventOutcome, Group, Tenant, User } from './types';

/** What an IdP says about a person, independent of the channel that carried it. */
export interface AssertedIdentity {
  upn: string | null;
  email: string | null;
  givenName: string | null;
  familyName: string | null;
  displayName: string | null;
  /** The IdP's immutable id for the person, if it sends one. */
  immutableId: string | null;
  /** Group external ids; null when the IdP did not say (e.g. Entra's groups overage). */
  groups: string[] | null;
  /** Entra sent groups.link instead of groups: memberships must be left as they are. */
  groupsOverage: boolean;
}

export const PROVISIONING_REFUSALS = {
  missing_username: 'The identity provider did not send the attribute this connection matches users by.',
  domain_not_owned: "The user's domain is not one of the domains this organisation owns.",
  jit_disabled: 'No account exists for this user, and automatic account creation is off for this connection.',
  user_disabled: 'This account is disabled.',
  username_taken: 'Another account of this organisation already uses this username.',
  not_in_required_group: 'This account is not in any of the groups allowed to sign in to this application.',
} as const;

export type ProvisioningRefusalReason = keyof typeof PROVISIONING_REFUSALS;

export class ProvisioningRefusal extends Error {
  constructor(
    readonly reason: ProvisioningRefusalReason,
    readonly subject: string | null,
  ) {
    super(PROVISIONING_REFUSALS[reason]);
    this.name = 'ProvisioningRefusal';
  }
}

export interface IdentityContext {
  tenant: Tenant;
  connection: Connection;
}

export type Resolution =
  | { action: 'use'; user: User; via: 'linked' | 'key'; username: string; usernameKey: string }
  | { action: 'create'; username: string; usernameKey: string }
  | { action: 'refuse'; reason: ProvisioningRefusalReason; username: string | null };

/** The full-name rule: given + family name; the username when both are blank. */
export function fullNameOf(givenName: string | null, familyName: string | null, username: string): string {
  const name = [givenName, familyName].map((p) => p?.trim() ?? '').filter((p) => p !== '').join(' ');
  return name === '' ? username : name;
}

/** The identifier the connection matches by (its users' username). */
export function usernameFor(connection: Connection, identity: AssertedIdentity): string | null {
  const value = connection.settings.matchBy === 'email' ? identity.email : identity.upn;
  return value && value.trim() !== '' ? value.trim() : null;
}

/** True when the tenant has no owned domains, or the value has no domain part, or its domain is owned. */
export function domainAllowed(tenant: Tenant, value: string | null): boolean {
  if (tenant.domains.length === 0 || !value) return true;
  const domain = domainOf(value);
  return domain === null || tenant.domains.includes(domain);
}

/** Decides which account an identity belongs to, without changing anything (also the dry-run "match" answer). */
export async function resolveIdentity(
  store: Pick<Store, 'users' | 'identityLinks'>,
  { tenant, connection }: IdentityContext,
  identity: AssertedIdentity,
): Promise<Resolution> {
  const username = usernameFor(connection, identity);
  if (!username) return { action: 'refuse', reason: 'missing_username', username: null };
  const usernameKey = normaliseKey(username);
  if (!domainAllowed(tenant, username) || !domainAllowed(tenant, identity.email)) {
    return { action: 'refuse', reason: 'domain_not_owned', username };
  }

  const linked = identity.immutableId ? await linkedUser(store, { tenant, connection }, identity.immutableId) : null;
  if (linked) {
    return linked.active ? { action: 'use', user: linked, via: 'linked', username, usernameKey } : { action: 'refuse', reason: 'user_disabled', username };
  }

  const byKey = await store.users.findByKey(tenant.id, usernameKey);
  if (byKey) {
    return byKey.active
      ? { action: 'use', user: byKey, via: 'key', username, usernameKey }
      : { action: 'refuse', reason: 'user_disabled', username };
  }
  if (!connection.settings.jit.enabled) return { action: 'refuse', reason: 'jit_disabled', username };
  return { action: 'create', username, usernameKey };
}

/**
 * The account a SAML NameID names on this connection (single logout: a LogoutRequest carries only the NameID),
 * without changing anything. The same two first steps as resolveIdentity: (1) the account linked to the connection
 * by that value as the IdP's immutable id (a persistent NameID); (2) the tenant's account whose username key is the
 * value (the NameID is the UPN, or with matchBy email the email, as Entra's default NameID is). Null when neither
 * finds one, e.g. a transient NameID, or a matchBy-email connection whose NameID is a UPN that differs from the email.
 */
export async function findAccountByNameId(
  store: Pick<Store, 'users' | 'identityLinks'>,
  { tenant, connection }: IdentityContext,
  nameId: string,
): Promise<User | null> {
  const subject = nameId.trim();
  if (subject === '') return null;
  return (await linkedUser(store, { tenant, connection }, subject)) ?? store.users.findByKey(tenant.id, normaliseKey(subject));
}

/** The account the connection linked to this IdP subject, if any. */
async function linkedUser(store: Pick<Store, 'users' | 'identityLinks'>, { tenant, connection }: IdentityContext, subject: string): Promise<User | null> {
  const link = await store.identityLinks.findBySubject(connection.id, subject);
  const user = link ? await store.users.findById(link.userId) : null;
  // A link always points into the connection's own tenant; the check keeps that true even if data is damaged.
  return user && user.tenantId === tenant.id ? user : null;
}

export interface ProvisionResult {
  user: User;
  created: boolean;
  via: 'linked' | 'key' | 'created';
  groups: Group[];
}

interface ProvisionOptions {
  channel: Channel;
  now?: Date;
  /** The reference shown to the person on a refusal page; written into the refusal's log entry so an admin finds it. */
  reference?: string;
}

function profileOf(identity: AssertedIdentity, username: string) {
  return {
    email: identity.email,
    givenName: identity.givenName,
    familyName: identity.familyName,
    displayName: identity.displayName,
    fullName: fullNameOf(identity.givenName, identity.familyName, username),
  };
}

/** Collects the provisioning log entries of one decision, written together (one atomic append). */
class EventBatch {
  readonly events: NewEvent[] = [];
  constructor(
    private readonly base: Pick<NewEvent, 'tenantId' | 'connectionId' | 'channel' | 'at'>,
  ) {}

  add(type: string, outcome: EventOutcome, subject: string | null, reason: string | null, details: Record<string, unknown> = {}): void {
    this.events.push({ ...this.base, type, outcome, subject, reason, details });
  }
}

/**
 * Resolves the identity and applies it: creates or updates the account, pins the immutable id, and syncs the
 * memberships this connection asserts. Throws ProvisioningRefusal (and writes a 'login' refused event) when the
 * identity may not sign in; nothing else is changed in that case.
 *
 * Writes are batched (groups, memberships and log entries each in one atomic store call) because a first login
 * with many groups would otherwise cost one database commit per group, membership and log line.
 */
export async function provisionIdentity(
  store: Store,
  ctx: IdentityContext,
  identity: AssertedIdentity,
  options: ProvisionOptions,
): Promise<ProvisionResult> {
  const { tenant, connection } = ctx;
  const now = options.now ?? new Date();
  const log = new EventBatch({ tenantId: tenant.id, connectionId: connection.id, channel: options.channel, at: now });
  const refuse = async (reason: ProvisioningRefusalReason, username: string | null, details: Record<string, unknown> = {}) => {
    log.add('login', 'refused', username, reason, options.reference ? { ...details, reference: options.reference } : details);
    await store.events.appendMany(log.events);
    return new ProvisioningRefusal(reason, username);
  };

  const resolution = await resolveIdentity(store, ctx, identity);
  if (resolution.action === 'refuse') throw await refuse(resolution.reason, resolution.username);

  // Group filters are judged before anything is written: a refused login creates nothing.
  const known = new Map((await store.groups.findByExternalIds(tenant.id, identity.groups ?? [])).map((g) => [g.externalId, g]));
  const jit = connection.settings.jit;
  const needsFallback = identity.groups === null && jit.requireAnyGroup.length > 0 && resolution.action === 'use';
  const fallback = needsFallback ? await groupsOfUser(store, resolution.user.id) : [];
  const filtered = applyGroupFilters(jit, identity.groups, known, fallback);
  if (!filtered.admitted) throw await refuse('not_in_required_group', resolution.username, { groups: identity.groups ?? 'overage' });

  const { username, usernameKey } = resolution;
  let user: User;
  let via: ProvisionResult['via'];
  if (resolution.action === 'create') {
    try {
      user = await store.users.create({
        tenantId: tenant.id,
        username,
        usernameKey,
        ...profileOf(identity, username),
        active: true,
        lastLoginAt: now,
      });
      via = 'created';
      log.add('user_created', 'success', username, null, { userId: user.id });
    } catch (error) {
      // A concurrent first login created it between our read and write: use that account.
      if (!(error instanceof ConflictError)) throw error;
      const existing = await store.users.findByKey(tenant.id, usernameKey);
      if (!existing) throw error;
      user = existing;
      via = 'key';
    }
  } else {
    user = resolution.user;
    via = resolution.via;
  }

  if (identity.immutableId) {
    const link = await store.identityLinks.link(connection.id, identity.immutableId, user.id);
    if (link.userId === user.id && via === 'key') log.add('user_linked', 'success', username, null, { userId: user.id });
  }

  if (via !== 'created') {
    const refreshed = await refreshProfile(store, ctx, user, identity, resolution, now, log);
    if (!refreshed) throw await refuse('username_taken', resolution.username, { userId: user.id });
    user = refreshed;
  }

  if (filtered.ignored.length > 0) log.add('groups_ignored', 'info', user.username, 'group_filter', { groups: filtered.ignored });
  const asserted = identity.groups === null ? null : filtered.kept;
  const groups = await syncGroups(store, ctx, user, { asserted, overage: identity.groupsOverage, known }, log);
  log.add('login', 'success', user.username, null, { userId: user.id, via });
  await store.events.appendMany(log.events);
  return { user, created: via === 'created', via, groups };
}

/** Applies the UPN rename and (with updateOnLogin) the profile. Null when the new username is taken. */
async function refreshProfile(
  store: Store,
  { connection }: IdentityContext,
  user: User,
  identity: AssertedIdentity,
  resolution: Extract<Resolution, { action: 'use' | 'create' }>,
  now: Date,
  log: EventBatch,
): Promise<User | null> {
  const patch: UserPatch = { lastLoginAt: now };
  const changed: string[] = [];
  // A UPN rename at the IdP arrives with the same immutable id: the account follows it.
  if (resolution.usernameKey !== user.usernameKey || resolution.username !== user.username) {
    patch.username = resolution.username;
    patch.usernameKey = resolution.usernameKey;
    changed.push('username');
  }
  if (connection.settings.jit.updateOnLogin) {
    const profile = profileOf(identity, resolution.username);
    for (const key of Object.keys(profile) as (keyof typeof profile)[]) {
      if (profile[key] !== user[key]) {
        (patch as Record<string, unknown>)[key] = profile[key];
        changed.push(key);
      }
    }
  }
  let updated: User | null;
  try {
    updated = await store.users.update(user.id, patch);
  } catch (error) {
    if (error instanceof ConflictError) return null;
    throw error;
  }
  if (changed.length > 0) log.add('user_updated', 'success', resolution.username, null, { userId: user.id, changed });
  return updated ?? user;
}

async function groupsOfUser(store: Store, userId: string): Promise<Group[]> {
  const memberships = await store.memberships.listByUser(userId);
  return store.groups.findByIds([...new Set(memberships.map((m) => m.groupId))]);
}

/** Makes this connection's memberships equal the (filtered) claim, or only adds in 'append' mode. */
async function syncGroups(
  store: Store,
  { tenant, connection }: IdentityContext,
  user: User,
  claim: { asserted: string[] | null; overage: boolean; known: ReadonlyMap<string, Group> },
  log: EventBatch,
): Promise<Group[]> {
  if (claim.asserted === null) {
    if (claim.overage) log.add('groups_overage', 'info', user.username, 'groups_overage', { userId: user.id });
    return groupsOfUser(store, user.id);
  }

  const missing = claim.asserted.filter((externalId) => !claim.known.has(externalId));
  const ensured = await store.groups.ensureMany(
    tenant.id,
    // Entra names groups by object id; other IdPs send names. A GUID stays "unresolved" until a real name arrives.
    missing.map((externalId) => ({ externalId, displayName: externalId, nameResolved: !looksLikeGuid(externalId) })),
  );
  const byExternalId = new Map([...claim.known, ...ensured.groups.map((g) => [g.externalId, g] as const)]);
  if (ensured.created.length > 0) {
    // One entry per login, listing every group it created (a first login with 150 groups is one log line).
    log.add('groups_created', 'success', user.username, null, {
      groups: ensured.created.map((externalId) => ({ externalId, groupId: byExternalId.get(externalId)!.id })),
    });
  }
  const asserted = claim.asserted.map((externalId) => byExternalId.get(externalId)!);

  const mode = connection.settings.jit.membershipMode;
  const { added, removed } = await store.memberships.syncSource(user.id, `saml:${connection.id}`, asserted.map((g) => g.id), mode);
  const groupById = new Map(asserted.map((g) => [g.id, g]));
  if (added.length > 0 || removed.length > 0) {
    const removedGroups = removed.length > 0 ? await store.groups.findByIds(removed) : [];
    log.add('memberships_changed', 'success', user.username, null, {
      userId: user.id,
      added: added.map((id) => groupById.get(id)!.externalId),
      removed: removedGroups.map((g) => g.externalId),
    });
  }

  // Memberships this sync did not touch (other sources, or earlier ones in append mode) are part of the answer.
  const memberships = await store.memberships.listByUser(user.id);
  const others = [...new Set(memberships.map((m) => m.groupId))].filter((id) => !groupById.has(id));
  return [...asserted, ...(others.length > 0 ? await store.groups.findByIds(others) : [])];
}
