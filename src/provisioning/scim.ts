/**
 * The SCIM reconciler: what a connection's SCIM client (Entra's provisioning service) may do to the tenant's
 * accounts and groups, decided by the same rules as a SAML login (resolveIdentity) and the rename pass
 * (renameGroups). No HTTP here: src/http/scim.ts turns requests into these calls and their results into responses.
 *
 * - One account per person: POST /Users resolves userName (matchBy upn) or the primary/work email (matchBy email)
 *   with resolveIdentity; an account no SCIM client owns (JIT, or detached by a soft delete) is adopted (201, same
 *   id); an account another SCIM resource owns is 409 uniqueness.
 * - A group whose externalId is a JIT group's (Entra object id from the SAML groups claim) is adopted and renamed.
 * - A group's SCIM members are the memberships with source `scim:<connectionId>`; SAML-sourced ones are left alone.
 * - Disabling (active false) or deleting an account revokes its sessions at once.
 * - Every change is appended to `events` (channel scim); the caller writes them with its request log entry.
 */
import { ConflictError } from '../common/errors';
import { badRequest, ScimError } from '../scim/errors';
import { parseListParams, listResponse, type ListResponse } from '../scim/list';
import { applyGroupPatch, applyUserPatch, memberIdsTouched } from '../scim/patch';
import { parseGroupFilter, parseUserFilter } from '../scim/query';
import {
  isPlainObject,
  primaryEmailOf,
  projectAttributes,
  schemasFor,
  validateGroupCreate,
  validateUserCreate,
  type ProjectedResource,
  type ScimGroupResource,
  type ScimUserResource,
} from '../scim/resources';
import { CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, type ScimSchemaRegistry } from '../scim/schemas';
import type { NewEvent, ScimGroupRecord, ScimScope, ScimUserRecord, ScimUserState, Store, UserPatch } from '../store/ports';
import { renameGroups } from './groups';
import { domainAllowed, fullNameOf, resolveIdentity, type AssertedIdentity } from './identity';
import { normaliseKey } from './normalise';
import { scimSettingsOf, type Connection, type EventOutcome, type Tenant } from './types';

export interface ScimContext {
  tenant: Tenant;
  connection: Connection;
  registry: ScimSchemaRegistry;
  /** The SCIM base URL, e.g. https://sso.example.com/scim/v2 (for meta.location). */
  baseUrl: string;
}

export function scimScopeOf(tenant: Pick<Tenant, 'id'>, connection: Pick<Connection, 'id' | 'settings'>): ScimScope {
  return { tenantId: tenant.id, connectionId: connection.id, userNameKey: connection.settings.matchBy === 'email' ? 'scim' : 'username' };
}

export const etagOf = (version: number): string => `W/"${version}"`;

// ---- serving -------------------------------------------------------------------------------------------------------

function definedEntries<T extends Record<string, unknown>>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined && value !== null)) as Partial<T>;
}

/**
 * The User resource served for an account (and the reference semantics every adapter's filters follow): core fields
 * from the account; an owned account's other attributes, externalId and emails from its SCIM state; an account
 * without SCIM state shows its email as the one primary work email.
 */
export function scimUserResource(
  record: ScimUserRecord,
  options: { matchBy: Connection['settings']['matchBy']; baseUrl: string; registry: ScimSchemaRegistry },
): ScimUserResource {
  const { user } = record;
  const meta = {
    resourceType: 'User' as const,
    created: user.createdAt.toISOString(),
    lastModified: user.updatedAt.toISOString(),
    location: `${options.baseUrl}/Users/${user.id}`,
    version: etagOf(record.version),
  };
  const stored = record.scim?.resource ?? {};
  const storedName = isPlainObject(stored.name) ? stored.name : {};
  const name = definedEntries({ ...storedName, givenName: user.givenName, familyName: user.familyName });
  const resource: Record<string, unknown> = {
    ...stored,
    id: user.id,
    externalId: record.scim?.externalId ?? undefined,
    userName: options.matchBy === 'email' && record.scim ? record.scim.userName : user.username,
    name: Object.keys(name).length > 0 ? name : undefined,
    displayName: user.displayName ?? undefined,
    active: user.active,
    emails: record.scim ? stored.emails : user.email ? [{ value: user.email, type: 'work', primary: true }] : undefined,
    meta,
  };
  for (const key of Object.keys(resource)) if (resource[key] === undefined) delete resource[key];
  resource.schemas = record.scim ? schemasFor('User', resource, options.registry) : [CORE_USER_SCHEMA];
  return resource as unknown as ScimUserResource;
}

/** The Group resource served for a group: members are its `scim:<connection>` memberships. */
export function scimGroupResource(record: ScimGroupRecord, members: readonly string[] | undefined, baseUrl: string): ScimGroupResource {
  const { group } = record;
  const externalId = record.scim ? record.scim.externalId : group.externalId;
  return {
    schemas: [CORE_GROUP_SCHEMA],
    id: group.id,
    ...(externalId ? { externalId } : {}),
    displayName: group.displayName,
    ...(members && members.length > 0 ? { members: members.map((value) => ({ value, $ref: `${baseUrl}/Users/${value}`, type: 'User' })) } : {}),
    meta: {
      resourceType: 'Group',
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      location: `${baseUrl}/Groups/${group.id}`,
      version: etagOf(record.version),
    },
  };
}

// ---- results -------------------------------------------------------------------------------------------------------

export interface ScimResult<T = unknown> {
  status: number;
  body?: T;
  etag?: string;
  location?: string;
  /** The request's log entry (ReconcilerOptions.requestLog) and `events` were stored with the change itself. */
  logged?: boolean;
}

/** If-Match (RFC 7232): `*` or a list of entity tags, weak comparison. Undefined header: no precondition. */
export function ifMatchSatisfied(header: string | undefined, version: number): boolean {
  if (header === undefined || header.trim() === '') return true;
  if (header.trim() === '*') return true;
  const wanted = String(version);
  return header.split(',').some((tag) => tag.trim().replace(/^W\//i, '').replace(/^"|"$/g, '') === wanted);
}

const preconditionFailed = () => new ScimError(412, undefined, 'The resource has changed (If-Match does not match its current version).');
const notFound = (kind: 'User' | 'Group', id: string) => new ScimError(404, undefined, `${kind} ${id} not found.`);
const MAX_ATTEMPTS = 5;

/** Stable JSON for change detection (object keys sorted). */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    isPlainObject(item) ? Object.fromEntries(Object.entries(item).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : item,
  );
}

function withoutServerFields(resource: object): Record<string, unknown> {
  const { id: _id, meta: _meta, schemas: _schemas, ...rest } = resource as Record<string, unknown>;
  return rest;
}

export interface ReconcilerOptions {
  /** Signs a user out everywhere (the session store's destroyByUser). */
  revokeSessions: (userId: string) => Promise<unknown>;
  /**
   * The request's own log entry for a given status. With it, a change the store can write together with its log
   * (createWithLog) stores `events` and this entry in the same transaction, and the result says `logged`.
   */
  requestLog?: (status: number) => NewEvent;
}

export class ScimReconciler {
  /** The changes made by this reconciler's calls, for the provisioning log. */
  readonly events: NewEvent[] = [];
  private readonly scope: ScimScope;

  constructor(
    private readonly store: Store,
    private readonly ctx: ScimContext,
    private readonly options: ReconcilerOptions,
  ) {
    this.scope = scimScopeOf(ctx.tenant, ctx.connection);
  }

  private event(type: string, subject: string | null, details: Record<string, unknown>, outcome: EventOutcome = 'success'): NewEvent {
    return {
      tenantId: this.ctx.tenant.id,
      connectionId: this.ctx.connection.id,
      channel: 'scim',
      type,
      outcome,
      subject,
      reason: null,
      details,
      at: new Date(),
    };
  }

  private log(type: string, subject: string | null, details: Record<string, unknown>, outcome: EventOutcome = 'success'): void {
    this.events.push(this.event(type, subject, details, outcome));
  }

  private get source(): string {
    return `scim:${this.ctx.connection.id}`;
  }

  serveUser(record: ScimUserRecord): ScimUserResource {
    return scimUserResource(record, { matchBy: this.ctx.connection.settings.matchBy, baseUrl: this.ctx.baseUrl, registry: this.ctx.registry });
  }

  // ---- users -----------------------------------------------------------------------------------------------------

  async listUsers(query: Readonly<Record<string, unknown>>): Promise<ListResponse<ProjectedResource<ScimUserResource>>> {
    const params = parseListParams(query);
    const filter = params.filter ? parseUserFilter(params.filter) : null;
    const page = await this.store.scimUsers.query(this.scope, filter, { offset: params.startIndex - 1, limit: params.count });
    const resources = page.items.map((record) =>
      projectAttributes(this.serveUser(record), { attributes: params.attributes, excludedAttributes: params.excludedAttributes }),
    );
    return listResponse(resources, page.total, params.startIndex);
  }

  async getUser(id: string, query: Readonly<Record<string, unknown>>): Promise<ScimResult> {
    const record = await this.store.scimUsers.find(this.scope, id);
    if (!record) throw notFound('User', id);
    const selection = parseListParams(query);
    return {
      status: 200,
      body: projectAttributes(this.serveUser(record), { attributes: selection.attributes, excludedAttributes: selection.excludedAttributes }),
      etag: etagOf(record.version),
    };
  }

  /** Account fields and SCIM state from a (validated or patched) resource. 400 when the matching value is missing. */
  private accountOf(resource: Record<string, unknown>): { patch: Required<Omit<UserPatch, 'lastLoginAt' | 'active'>>; state: ScimUserState } {
    const userName = typeof resource.userName === 'string' ? resource.userName.trim() : '';
    const email = primaryEmailOf(resource as Pick<ScimUserResource, 'emails'>)?.trim() ?? null;
    const username = this.ctx.connection.settings.matchBy === 'email' ? email : userName;
    if (!username) {
      throw badRequest(
        'invalidValue',
        this.ctx.connection.settings.matchBy === 'email'
          ? 'This connection matches users by email: a primary or work email is required.'
          : 'userName is required and must not be blank.',
      );
    }
    if (!domainAllowed(this.ctx.tenant, username) || !domainAllowed(this.ctx.tenant, email)) {
      throw badRequest('invalidValue', "The user's domain is not one of the domains this organisation owns.");
    }
    const name = isPlainObject(resource.name) ? resource.name : {};
    const givenName = typeof name.givenName === 'string' ? name.givenName : null;
    const familyName = typeof name.familyName === 'string' ? name.familyName : null;
    const enterprise = resource[ENTERPRISE_USER_SCHEMA];
    const employeeNumber = isPlainObject(enterprise) && typeof enterprise.employeeNumber === 'string' ? enterprise.employeeNumber : null;
    const emails = Array.isArray(resource.emails) ? resource.emails.filter(isPlainObject) : [];
    const stored = withoutServerFields(resource);
    delete stored.externalId;
    stored.schemas = resource.schemas;
    return {
      patch: {
        username,
        usernameKey: normaliseKey(username),
        email,
        givenName,
        familyName,
        displayName: typeof resource.displayName === 'string' ? resource.displayName : null,
        fullName: fullNameOf(givenName, familyName, username),
      },
      state: {
        externalId: typeof resource.externalId === 'string' ? resource.externalId : null,
        userName,
        userNameKey: normaliseKey(userName),
        employeeNumber,
        emails: emails.map((e) => ({
          value: typeof e.value === 'string' ? e.value : null,
          type: typeof e.type === 'string' ? e.type : null,
          primary: e.primary === true,
        })),
        resource: stored,
      },
    };
  }

  async createUser(body: unknown): Promise<ScimResult> {
    const input = validateUserCreate(body, this.ctx.registry) as unknown as Record<string, unknown>;
    const { patch, state } = this.accountOf(input);
    const active = typeof input.active === 'boolean' ? input.active : true;
    const identity: AssertedIdentity = {
      upn: state.userName,
      email: patch.email,
      givenName: patch.givenName,
      familyName: patch.familyName,
      displayName: patch.displayName,
      immutableId: null,
      groups: null,
      groupsOverage: false,
    };
    const resolution = await resolveIdentity(this.store, { tenant: this.ctx.tenant, connection: this.ctx.connection }, identity);
    let existingId: string | null = null;
    if (resolution.action === 'use') existingId = resolution.user.id;
    else if (resolution.action === 'refuse') {
      if (resolution.reason === 'user_disabled') {
        // A disabled account is still the same person: SCIM may adopt (or relink) and re-enable it.
        existingId = (await this.store.users.findByKey(this.ctx.tenant.id, patch.usernameKey))?.id ?? null;
      } else if (resolution.reason !== 'jit_disabled') {
        // jit_disabled governs SAML logins; provisioning is what SCIM is for.
        throw badRequest('invalidValue', resolution.reason === 'domain_not_owned' ? "The user's domain is not one of the domains this organisation owns." : 'userName is required.');
      }
    }

    if (existingId) return this.adoptUser(existingId, patch, state, active);
    const account = { tenantId: this.ctx.tenant.id, ...patch, active };
    const created = (record: ScimUserRecord) => this.event('user_created', record.user.username, { userId: record.user.id, externalId: state.externalId });
    const respond = (record: ScimUserRecord, logged: boolean): ScimResult => ({
      status: 201,
      body: this.serveUser(record),
      etag: etagOf(record.version),
      location: `${this.ctx.baseUrl}/Users/${record.user.id}`,
      ...(logged ? { logged } : {}),
    });
    try {
      const { requestLog } = this.options;
      if (requestLog) {
        // The account, its user_created event and the request's log entry in one write (one commit on SQLite).
        const record = await this.store.scimUsers.createWithLog(this.ctx.connection.id, account, state, (record) => [
          ...this.events,
          created(record),
          requestLog(201),
        ]);
        this.events.length = 0;
        return respond(record, true);
      }
      const record = await this.store.scimUsers.create(this.ctx.connection.id, account, state);
      this.events.push(created(record));
      return respond(record, false);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      // Created concurrently (another POST, or a first SAML login): adopt it if no SCIM client owns it.
      const existing = await this.store.users.findByKey(this.ctx.tenant.id, patch.usernameKey);
      if (!existing) throw error;
      return this.adoptUser(existing.id, patch, state, active);
    }
  }

  private async adoptUser(userId: string, patch: Omit<UserPatch, 'active'>, state: ScimUserState, active: boolean): Promise<ScimResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.store.scimUsers.load(userId);
      if (!current || current.user.tenantId !== this.ctx.tenant.id) break;
      if (current.scim) {
        throw new ScimError(409, 'uniqueness', `A user with userName "${state.userName}" already exists (id ${userId}).`);
      }
      const saved = await this.store.scimUsers.save(this.ctx.connection.id, userId, { ...patch, active }, state, current.version);
      if (!saved) continue;
      this.log('user_adopted', saved.user.username, { userId, from: current.detached ? 'detached' : 'unowned', externalId: state.externalId });
      await this.afterUserChange(current, saved);
      return { status: 201, body: this.serveUser(saved), etag: etagOf(saved.version), location: `${this.ctx.baseUrl}/Users/${userId}` };
    }
    throw new ScimError(409, 'uniqueness', `A user with userName "${state.userName}" already exists.`);
  }

  /** Events and session revocation after an account changed. */
  private async afterUserChange(before: ScimUserRecord, after: ScimUserRecord): Promise<void> {
    const changed = (['username', 'email', 'givenName', 'familyName', 'displayName'] as const).filter((key) => before.user[key] !== after.user[key]);
    if (changed.length > 0) this.log('user_updated', after.user.username, { userId: after.user.id, changed });
    if (before.user.active !== after.user.active) {
      this.log(after.user.active ? 'user_enabled' : 'user_disabled', after.user.username, { userId: after.user.id });
    }
    if (!after.user.active && before.user.active) await this.options.revokeSessions(after.user.id);
  }

  /** PUT and PATCH: read, compute the new resource, write only if nothing changed meanwhile (retrying otherwise). */
  private async updateUser(id: string, ifMatch: string | undefined, compute: (current: ScimUserResource) => Record<string, unknown>): Promise<ScimResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.store.scimUsers.find(this.scope, id);
      if (!record) throw notFound('User', id);
      if (!ifMatchSatisfied(ifMatch, record.version)) throw preconditionFailed();
      const current = this.serveUser(record);
      const next = compute(current);
      if (canonical(withoutServerFields(next)) === canonical(withoutServerFields(current))) {
        return { status: 200, body: current, etag: etagOf(record.version) };
      }
      const { patch, state } = this.accountOf(next);
      const active = typeof next.active === 'boolean' ? next.active : record.user.active;
      const saved = await this.store.scimUsers.save(this.ctx.connection.id, id, { ...patch, active }, state, record.version);
      if (!saved) {
        if (ifMatch !== undefined) throw preconditionFailed();
        continue;
      }
      if (!record.scim) this.log('user_adopted', saved.user.username, { userId: id, from: 'unowned' });
      await this.afterUserChange(record, saved);
      return { status: 200, body: this.serveUser(saved), etag: etagOf(saved.version) };
    }
    throw new ScimError(409, undefined, 'The user kept changing while it was being updated; retry.');
  }

  async replaceUser(id: string, body: unknown, ifMatch: string | undefined): Promise<ScimResult> {
    const input = validateUserCreate(body, this.ctx.registry) as unknown as Record<string, unknown>;
    return this.updateUser(id, ifMatch, () => input);
  }

  async patchUser(id: string, body: unknown, ifMatch: string | undefined): Promise<ScimResult> {
    return this.updateUser(id, ifMatch, (current) => applyUserPatch(current, body, this.ctx.registry) as unknown as Record<string, unknown>);
  }

  async deleteUser(id: string, ifMatch: string | undefined): Promise<ScimResult> {
    const mode = scimSettingsOf(this.ctx.connection.settings).deleteMode;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.store.scimUsers.find(this.scope, id);
      if (!record) throw notFound('User', id);
      if (!ifMatchSatisfied(ifMatch, record.version)) throw preconditionFailed();
      const done =
        mode === 'hard'
          ? await this.store.scimUsers.remove(this.ctx.connection.id, id, record.version)
          : await this.store.scimUsers.detach(this.ctx.connection.id, id, record.version);
      if (!done) {
        if (ifMatch !== undefined) throw preconditionFailed();
        continue;
      }
      this.log('user_deleted', record.user.username, { userId: id, mode });
      await this.options.revokeSessions(id);
      return { status: 204 };
    }
    throw new ScimError(409, undefined, 'The user kept changing while it was being deleted; retry.');
  }

  // ---- groups ----------------------------------------------------------------------------------------------------

  private wantsMembers(attributes: string[], excluded: string[]): boolean {
    const named = (list: string[]) => list.some((name) => /^(urn:ietf:params:scim:schemas:core:2\.0:group:)?members(\..*)?$/i.test(name));
    if (named(excluded)) return false;
    return attributes.length === 0 || named(attributes);
  }

  async listGroups(query: Readonly<Record<string, unknown>>): Promise<ListResponse<ProjectedResource<ScimGroupResource>>> {
    const params = parseListParams(query);
    const filter = params.filter ? parseGroupFilter(params.filter) : null;
    const page = await this.store.scimGroups.query(this.scope, filter, { offset: params.startIndex - 1, limit: params.count });
    const members = this.wantsMembers(params.attributes, params.excludedAttributes)
      ? await this.store.scimGroups.members(page.items.map((r) => r.group.id), this.source)
      : new Map<string, string[]>();
    const resources = page.items.map((record) =>
      projectAttributes(scimGroupResource(record, members.get(record.group.id), this.ctx.baseUrl), {
        attributes: params.attributes,
        excludedAttributes: params.excludedAttributes,
      }),
    );
    return listResponse(resources, page.total, params.startIndex);
  }

  private async membersOf(groupId: string): Promise<string[]> {
    return (await this.store.scimGroups.members([groupId], this.source)).get(groupId) ?? [];
  }

  async getGroup(id: string, query: Readonly<Record<string, unknown>>): Promise<ScimResult> {
    const record = await this.store.scimGroups.find(this.scope, id);
    if (!record) throw notFound('Group', id);
    const selection = parseListParams(query);
    const members = this.wantsMembers(selection.attributes, selection.excludedAttributes) ? await this.membersOf(id) : undefined;
    return {
      status: 200,
      body: projectAttributes(scimGroupResource(record, members, this.ctx.baseUrl), {
        attributes: selection.attributes,
        excludedAttributes: selection.excludedAttributes,
      }),
      etag: etagOf(record.version),
    };
  }

  /** 400 when a member is not a user this client can see. */
  private async checkMembers(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const existing = new Set(await this.store.scimUsers.existingIds(this.scope, ids));
    const missing = ids.filter((id) => !existing.has(id));
    if (missing.length > 0) throw badRequest('invalidValue', `members: no user with id ${missing.slice(0, 5).join(', ')}.`);
  }

  private logMembers(record: ScimGroupRecord, added: string[], removed: string[]): void {
    if (added.length > 0 || removed.length > 0) {
      this.log('memberships_changed', record.group.externalId, { groupId: record.group.id, added, removed });
    }
  }

  async createGroup(body: unknown): Promise<ScimResult> {
    const input = validateGroupCreate(body);
    const displayName = input.displayName.trim();
    const externalId = typeof input.externalId === 'string' && input.externalId.trim() !== '' ? input.externalId.trim() : null;
    const members = [...new Set((input.members ?? []).map((m) => m.value))];
    await this.checkMembers(members);

    if (externalId) {
      const existing = await this.store.groups.findByExternalId(this.ctx.tenant.id, externalId);
      if (existing) return this.adoptGroup(existing.id, displayName, externalId, members);
    }
    try {
      const record = await this.store.scimGroups.create(this.ctx.connection.id, this.ctx.tenant.id, { displayName, externalId }, members);
      this.log('group_created', externalId ?? record.group.id, { groupId: record.group.id, displayName });
      this.logMembers(record, members, []);
      return this.groupCreated(record, members);
    } catch (error) {
      if (!(error instanceof ConflictError) || !externalId) throw error;
      const existing = await this.store.groups.findByExternalId(this.ctx.tenant.id, externalId);
      if (!existing) throw error;
      return this.adoptGroup(existing.id, displayName, externalId, members);
    }
  }

  private groupCreated(record: ScimGroupRecord, members: string[]): ScimResult {
    return {
      status: 201,
      body: scimGroupResource(record, members, this.ctx.baseUrl),
      etag: etagOf(record.version),
      location: `${this.ctx.baseUrl}/Groups/${record.group.id}`,
    };
  }

  /** A group no SCIM client owns (a GUID-named JIT group) with this externalId: rename it (the rename pass) and own it. */
  private async adoptGroup(groupId: string, displayName: string, externalId: string, members: string[]): Promise<ScimResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const current = await this.store.scimGroups.load(groupId);
      if (!current) break;
      if (current.scim) throw new ScimError(409, 'uniqueness', `A group with externalId "${externalId}" already exists (id ${groupId}).`);
      await renameGroups(this.store, this.ctx.tenant.id, new Map([[externalId, displayName]]), {
        channel: 'scim',
        connectionId: this.ctx.connection.id,
      });
      const renamed = await this.store.scimGroups.load(groupId);
      if (!renamed) break;
      const saved = await this.store.scimGroups.save(this.ctx.connection.id, groupId, { displayName, externalId, add: members, remove: [] }, renamed.version);
      if (!saved) continue;
      this.log('group_adopted', externalId, { groupId, displayName, from: current.detached ? 'detached' : 'unowned' });
      this.logMembers(saved, members, []);
      return this.groupCreated(saved, await this.membersOf(groupId));
    }
    throw new ScimError(409, 'uniqueness', `A group with externalId "${externalId}" already exists.`);
  }

  /**
   * PUT and PATCH. With `touched` (a PATCH that only adds or removes those members, see memberIdsTouched), only
   * their current membership is read, never the whole member list, and the answer is 204 with the new ETag (RFC 7644
   * §3.5.2 allows it; it is what Entra's own examples show): a member Add on a group of 100k stays cheap.
   */
  private async updateGroup(
    id: string,
    ifMatch: string | undefined,
    compute: (current: ScimGroupResource) => { displayName: string; externalId: string | null; members: string[] },
    touched?: string[],
  ): Promise<ScimResult> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.store.scimGroups.find(this.scope, id);
      if (!record) throw notFound('Group', id);
      if (!ifMatchSatisfied(ifMatch, record.version)) throw preconditionFailed();
      const members = touched ? await this.store.scimGroups.membersAmong(id, this.source, touched) : await this.membersOf(id);
      const current = scimGroupResource(record, members, this.ctx.baseUrl);
      const next = compute(current);
      const before = new Set(members);
      const after = new Set(next.members);
      const add = next.members.filter((m) => !before.has(m));
      const remove = members.filter((m) => !after.has(m));
      const currentExternalId = current.externalId ?? null;
      const unchanged = next.displayName === current.displayName && next.externalId === currentExternalId && add.length === 0 && remove.length === 0;
      if (unchanged) return touched ? { status: 204, etag: etagOf(record.version) } : { status: 200, body: current, etag: etagOf(record.version) };
      await this.checkMembers(add);
      const saved = await this.store.scimGroups.save(this.ctx.connection.id, id, { displayName: next.displayName, externalId: next.externalId, add, remove }, record.version);
      if (!saved) {
        if (ifMatch !== undefined) throw preconditionFailed();
        continue;
      }
      if (!record.scim) this.log('group_adopted', saved.group.externalId, { groupId: id, from: 'unowned' });
      if (next.displayName !== current.displayName) {
        this.log('group_renamed', saved.group.externalId, { groupId: id, from: current.displayName, to: next.displayName });
      }
      this.logMembers(saved, add, remove);
      if (touched) return { status: 204, etag: etagOf(saved.version) };
      return { status: 200, body: scimGroupResource(saved, next.members, this.ctx.baseUrl), etag: etagOf(saved.version) };
    }
    throw new ScimError(409, undefined, 'The group kept changing while it was being updated; retry.');
  }

  async replaceGroup(id: string, body: unknown, ifMatch: string | undefined): Promise<ScimResult> {
    const input = validateGroupCreate(body);
    const externalId = typeof input.externalId === 'string' && input.externalId.trim() !== '' ? input.externalId.trim() : null;
    return this.updateGroup(id, ifMatch, () => ({
      displayName: input.displayName.trim(),
      externalId,
      members: [...new Set((input.members ?? []).map((m) => m.value))],
    }));
  }

  async patchGroup(id: string, body: unknown, ifMatch: string | undefined): Promise<ScimResult> {
    const compute = (current: ScimGroupResource) => {
      const { resource } = applyGroupPatch(current, body);
      return {
        displayName: resource.displayName.trim(),
        externalId: typeof resource.externalId === 'string' && resource.externalId !== '' ? resource.externalId : null,
        members: [...new Set((resource.members ?? []).map((m) => m.value))],
      };
    };
    return this.updateGroup(id, ifMatch, compute, memberIdsTouched(body) ?? undefined);
  }

  async deleteGroup(id: string, ifMatch: string | undefined): Promise<ScimResult> {
    const mode = scimSettingsOf(this.ctx.connection.settings).deleteMode;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const record = await this.store.scimGroups.find(this.scope, id);
      if (!record) throw notFound('Group', id);
      if (!ifMatchSatisfied(ifMatch, record.version)) throw preconditionFailed();
      const done =
        mode === 'hard'
          ? await this.store.scimGroups.remove(this.ctx.connection.id, id, record.version)
          : await this.store.scimGroups.detach(this.ctx.connection.id, id, record.version);
      if (!done) {
        if (ifMatch !== undefined) throw preconditionFailed();
        continue;
      }
      this.log('group_deleted', record.group.externalId, { groupId: id, mode });
      return { status: 204 };
    }
    throw new ScimError(409, undefined, 'The group kept changing while it was being deleted; retry.');
  }
}
