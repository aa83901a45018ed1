/**
 * The SQLite repositories. Statements are prepared once per store instance (fixed ones in the constructor,
 * shape-dependent ones such as partial updates and event filters memoised by shape on first use), because the ACS
 * hot path runs several of them per login.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Connection, Group, IdentityLink, Membership, ProvisioningEvent, Tenant, User } from '../../provisioning/types';
import type {
  ConnectionPatch,
  ConnectionRepository,
  EventQuery,
  EventRepository,
  GroupRepository,
  IdentityLinkRepository,
  MembershipRepository,
  NewConnection,
  NewEvent,
  NewTenant,
  NewUser,
  Page,
  PageRequest,
  TenantRepository,
  UserPatch,
  UserRepository,
} from '../ports';
import { normaliseKey } from '../../provisioning/normalise';
import { batcherFor } from './batcher';
import { translateConstraints } from './database';
import { timeOrderedId } from './ids';
import { foldCase } from '../../scim/query';
import {
  toConnection,
  toEvent,
  toGroup,
  toIdentityLink,
  toMembership,
  toTenant,
  toUser,
  type ConnectionRow,
  type EventRow,
  type GroupRow,
  type IdentityLinkRow,
  type MembershipRow,
  type TenantRow,
  type UserRow,
} from './rows';

type Params = Record<string, unknown>;

/** Lazily prepares and keeps one statement per distinct SQL shape. */
class StatementCache<Result> {
  private readonly statements = new Map<string, Database.Statement<[Params], Result>>();

  constructor(private readonly db: Database.Database) {}

  get(shape: string, buildSql: () => string): Database.Statement<[Params], Result> {
    let statement = this.statements.get(shape);
    if (!statement) {
      statement = this.db.prepare<[Params], Result>(buildSql());
      this.statements.set(shape, statement);
    }
    return statement;
  }
}

function checkPage(page: PageRequest): { offset: number; limit: number } {
  return { offset: Math.max(0, Math.trunc(page.offset)), limit: Math.max(0, Math.trunc(page.limit)) };
}

export class SqliteTenantRepository implements TenantRepository {
  private readonly insert: Database.Statement<[Params], TenantRow>;
  private readonly byId: Database.Statement<[string], TenantRow>;
  private readonly bySlug: Database.Statement<[string], TenantRow>;
  private readonly byDomain: Database.Statement<[string], TenantRow>;
  private readonly all: Database.Statement<[], TenantRow>;
  private readonly updateStatement: Database.Statement<[Params], TenantRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO tenants (id, slug, name, domains, created_at, updated_at)
      VALUES (@id, @slug, @name, @domains, @now, @now) RETURNING *`);
    this.byId = db.prepare('SELECT * FROM tenants WHERE id = ?');
    this.bySlug = db.prepare('SELECT * FROM tenants WHERE slug = ?');
    // A scan of the tenants table (domains is a JSON array): tenants number in the thousands at most.
    this.byDomain = db.prepare('SELECT * FROM tenants WHERE EXISTS (SELECT 1 FROM json_each(tenants.domains) WHERE value = ?) ORDER BY slug');
    this.all = db.prepare('SELECT * FROM tenants ORDER BY slug');
    this.updateStatement = db.prepare(`
      UPDATE tenants SET name = coalesce(@name, name), domains = coalesce(@domains, domains), updated_at = @now
      WHERE id = @id RETURNING *`);
  }

  async create(input: NewTenant): Promise<Tenant> {
    const params = { id: randomUUID(), slug: input.slug, name: input.name, domains: JSON.stringify(input.domains), now: Date.now() };
    const row = translateConstraints(() => this.insert.get(params), `A tenant with slug "${input.slug}" already exists.`);
    return toTenant(row!);
  }

  async findById(id: string): Promise<Tenant | null> {
    const row = this.byId.get(id);
    return row ? toTenant(row) : null;
  }

  async findBySlug(slug: string): Promise<Tenant | null> {
    const row = this.bySlug.get(slug);
    return row ? toTenant(row) : null;
  }

  async findByDomain(domain: string): Promise<Tenant[]> {
    return this.byDomain.all(domain).map(toTenant);
  }

  async list(): Promise<Tenant[]> {
    return this.all.all().map(toTenant);
  }

  async update(id: string, patch: Partial<Pick<Tenant, 'name' | 'domains'>>): Promise<Tenant | null> {
    const row = this.updateStatement.get({
      id,
      name: patch.name ?? null,
      domains: patch.domains ? JSON.stringify(patch.domains) : null,
      now: Date.now(),
    });
    return row ? toTenant(row) : null;
  }
}

export class SqliteConnectionRepository implements ConnectionRepository {
  private readonly insert: Database.Statement<[Params], ConnectionRow>;
  private readonly byId: Database.Statement<[string], ConnectionRow>;
  private readonly bySlug: Database.Statement<[string], ConnectionRow>;
  private readonly byTenant: Database.Statement<[string], ConnectionRow>;
  private readonly updateStatement: Database.Statement<[Params], ConnectionRow>;
  private readonly deleteStatement: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO connections (id, tenant_id, slug, name, sp_entity_id, idp, settings, version, created_at, updated_at)
      VALUES (@id, @tenantId, @slug, @name, @spEntityId, @idp, @settings, 1, @now, @now) RETURNING *`);
    this.byId = db.prepare('SELECT * FROM connections WHERE id = ?');
    this.bySlug = db.prepare('SELECT * FROM connections WHERE slug = ?');
    this.byTenant = db.prepare('SELECT * FROM connections WHERE tenant_id = ? ORDER BY created_at, slug');
    // The version is bumped by the UPDATE itself, so concurrent updates can never hand out the same version twice.
    this.updateStatement = db.prepare(`
      UPDATE connections
      SET name = coalesce(@name, name), idp = coalesce(@idp, idp), settings = coalesce(@settings, settings),
          version = version + 1, updated_at = @now
      WHERE id = @id RETURNING *`);
    this.deleteStatement = db.prepare('DELETE FROM connections WHERE id = ?');
  }

  async create(input: NewConnection): Promise<Connection> {
    const params = {
      id: randomUUID(),
      tenantId: input.tenantId,
      slug: input.slug,
      name: input.name,
      spEntityId: input.spEntityId,
      idp: JSON.stringify(input.idp),
      settings: JSON.stringify(input.settings),
      now: Date.now(),
    };
    const row = translateConstraints(() => this.insert.get(params), `A connection with slug "${input.slug}" already exists.`);
    return toConnection(row!);
  }

  async findById(id: string): Promise<Connection | null> {
    const row = this.byId.get(id);
    return row ? toConnection(row) : null;
  }

  async findBySlug(slug: string): Promise<Connection | null> {
    const row = this.bySlug.get(slug);
    return row ? toConnection(row) : null;
  }

  async listByTenant(tenantId: string): Promise<Connection[]> {
    return this.byTenant.all(tenantId).map(toConnection);
  }

  async update(id: string, patch: ConnectionPatch): Promise<Connection | null> {
    const row = this.updateStatement.get({
      id,
      name: patch.name ?? null,
      idp: patch.idp ? JSON.stringify(patch.idp) : null,
      settings: patch.settings ? JSON.stringify(patch.settings) : null,
      now: Date.now(),
    });
    return row ? toConnection(row) : null;
  }

  async delete(id: string): Promise<boolean> {
    // identity_links go with it (ON DELETE CASCADE).
    return this.deleteStatement.run(id).changes > 0;
  }
}

/** UserPatch field -> column, and how its value is stored. */
const USER_PATCH_COLUMNS: { [K in keyof Required<UserPatch>]: { column: string; encode: (value: UserPatch[K]) => unknown } } = {
  username: { column: 'username', encode: (v) => v },
  usernameKey: { column: 'username_key', encode: (v) => v },
  email: { column: 'email', encode: (v) => v },
  givenName: { column: 'given_name', encode: (v) => v },
  familyName: { column: 'family_name', encode: (v) => v },
  displayName: { column: 'display_name', encode: (v) => v },
  fullName: { column: 'full_name', encode: (v) => v },
  active: { column: 'active', encode: (v) => (v ? 1 : 0) },
  lastLoginAt: { column: 'last_login_at', encode: (v) => (v ? v.getTime() : null) },
};
const USER_PATCH_FIELDS = Object.keys(USER_PATCH_COLUMNS) as (keyof UserPatch)[];

/** The user fields SCIM filters compare case-insensitively, and the column holding their folded copy. */
export const FOLDED_USER_FIELDS = {
  displayName: 'display_name_fold',
  givenName: 'given_name_fold',
  familyName: 'family_name_fold',
  email: 'email_fold',
} as const;

/** `<field>Fold` parameters for the folded columns (only for the fields given). */
export function userFolds(values: Partial<Record<keyof typeof FOLDED_USER_FIELDS, string | null>>): Params {
  const params: Params = {};
  for (const field of Object.keys(FOLDED_USER_FIELDS) as (keyof typeof FOLDED_USER_FIELDS)[]) {
    params[`${field}Fold`] = foldCase(values[field]);
  }
  return params;
}

/** The insert parameters of a new account (the users columns every channel fills), under the id given. */
export function newUserParams(input: NewUser, id: string): Params {
  return {
    id,
    tenantId: input.tenantId,
    username: input.username,
    usernameKey: input.usernameKey,
    email: input.email,
    givenName: input.givenName,
    familyName: input.familyName,
    displayName: input.displayName,
    fullName: input.fullName,
    active: input.active ? 1 : 0,
    lastLoginAt: input.lastLoginAt ? input.lastLoginAt.getTime() : null,
    now: Date.now(),
    ...userFolds(input),
  };
}

export class SqliteUserRepository implements UserRepository {
  private readonly insert: Database.Statement<[Params], UserRow>;
  private readonly byId: Database.Statement<[string], UserRow>;
  private readonly byKey: Database.Statement<[string, string], UserRow>;
  private readonly pageByTenant: Database.Statement<[string, number, number], UserRow>;
  private readonly countByTenant: Database.Statement<[string], { total: number }>;
  private readonly searchPage: Database.Statement<[Params], UserRow>;
  private readonly searchCount: Database.Statement<[Params], { total: number }>;
  private readonly updates: StatementCache<UserRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO users (id, tenant_id, username, username_key, email, given_name, family_name, display_name, full_name,
                         active, created_at, updated_at, last_login_at,
                         display_name_fold, given_name_fold, family_name_fold, email_fold)
      VALUES (@id, @tenantId, @username, @usernameKey, @email, @givenName, @familyName, @displayName, @fullName,
              @active, @now, @now, @lastLoginAt,
              @displayNameFold, @givenNameFold, @familyNameFold, @emailFold)
      RETURNING *`);
    this.byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.byKey = db.prepare('SELECT * FROM users WHERE tenant_id = ? AND username_key = ?');
    this.pageByTenant = db.prepare('SELECT * FROM users WHERE tenant_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?');
    this.countByTenant = db.prepare('SELECT count(*) AS total FROM users WHERE tenant_id = ?');
    // Username prefix on the indexed key; names by substring (lower() folds ASCII only; names are for people to read).
    const userMatch = `tenant_id = @tenantId AND (username_key LIKE @prefix ESCAPE '\\'
      OR lower(full_name) LIKE @contains ESCAPE '\\' OR lower(coalesce(display_name, '')) LIKE @contains ESCAPE '\\')`;
    this.searchPage = db.prepare(`SELECT * FROM users WHERE ${userMatch} ORDER BY username_key, id LIMIT @limit OFFSET @offset`);
    this.searchCount = db.prepare(`SELECT count(*) AS total FROM users WHERE ${userMatch}`);
    this.updates = new StatementCache(db);
  }

  async create(input: NewUser): Promise<User> {
    const params = newUserParams(input, randomUUID());
    const row = translateConstraints(
      () => this.insert.get(params),
      `The username "${input.username}" is already taken in this tenant.`,
      'username_taken',
    );
    return toUser(row!);
  }

  async findById(id: string): Promise<User | null> {
    const row = this.byId.get(id);
    return row ? toUser(row) : null;
  }

  async findByKey(tenantId: string, usernameKey: string): Promise<User | null> {
    const row = this.byKey.get(tenantId, usernameKey);
    return row ? toUser(row) : null;
  }

  async update(id: string, patch: UserPatch): Promise<User | null> {
    const fields = USER_PATCH_FIELDS.filter((field) => patch[field] !== undefined);
    if (fields.length === 0) return this.findById(id);
    const statement = this.updates.get(fields.join(','), () => {
      const assignments = fields.map((field) => `${USER_PATCH_COLUMNS[field].column} = @${field}`);
      // The case-folded copies SCIM filters compare with follow their source column.
      for (const field of fields) if (field in FOLDED_USER_FIELDS) assignments.push(`${FOLDED_USER_FIELDS[field as keyof typeof FOLDED_USER_FIELDS]} = @${field}Fold`);
      return `UPDATE users SET ${assignments.join(', ')}, version = version + 1, updated_at = @now WHERE id = @id RETURNING *`;
    });
    const params: Params = { id, now: Date.now(), ...userFolds(patch) };
    for (const field of fields) {
      const { encode } = USER_PATCH_COLUMNS[field] as { encode: (value: unknown) => unknown };
      params[field] = encode(patch[field]);
    }
    const row = translateConstraints(
      () => statement.get(params),
      `The username "${patch.username ?? patch.usernameKey}" is already taken in this tenant.`,
      'username_taken',
    );
    return row ? toUser(row) : null;
  }

  async listByTenant(tenantId: string, page: PageRequest): Promise<Page<User>> {
    const { offset, limit } = checkPage(page);
    const items = limit === 0 ? [] : this.pageByTenant.all(tenantId, limit, offset).map(toUser);
    return { items, total: this.countByTenant.get(tenantId)!.total };
  }

  async search(tenantId: string, text: string, page: PageRequest): Promise<Page<User>> {
    const { offset, limit } = checkPage(page);
    const params = { tenantId, prefix: `${escapeLike(normaliseKey(text))}%`, contains: `%${escapeLike(foldCase(text.trim()))}%` };
    const items = limit === 0 ? [] : this.searchPage.all({ ...params, limit, offset }).map(toUser);
    return { items, total: this.searchCount.get(params)!.total };
  }
}

/** Escapes LIKE wildcards (with ESCAPE '\\'), so searched text matches literally. */
function escapeLike(text: string): string {
  return text.replace(/[\\%_]/gu, (c) => `\\${c}`);
}

export class SqliteIdentityLinkRepository implements IdentityLinkRepository {
  private readonly insert: Database.Statement<[string, string, string, number]>;
  private readonly bySubject: Database.Statement<[string, string], IdentityLinkRow>;
  private readonly byUser: Database.Statement<[string], IdentityLinkRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO identity_links (connection_id, subject, user_id, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (connection_id, subject) DO NOTHING`);
    this.bySubject = db.prepare('SELECT * FROM identity_links WHERE connection_id = ? AND subject = ?');
    this.byUser = db.prepare('SELECT * FROM identity_links WHERE user_id = ? ORDER BY created_at, connection_id');
  }

  async link(connectionId: string, subject: string, userId: string): Promise<IdentityLink> {
    // Insert-if-absent then read: whoever linked first wins and every caller sees that link.
    translateConstraints(() => this.insert.run(connectionId, subject, userId, Date.now()), 'The identity is already linked.');
    return toIdentityLink(this.bySubject.get(connectionId, subject)!);
  }

  async findBySubject(connectionId: string, subject: string): Promise<IdentityLink | null> {
    const row = this.bySubject.get(connectionId, subject);
    return row ? toIdentityLink(row) : null;
  }

  async listByUser(userId: string): Promise<IdentityLink[]> {
    return this.byUser.all(userId).map(toIdentityLink);
  }
}

export class SqliteGroupRepository implements GroupRepository {
  private readonly insertIfAbsent: Database.Statement<[Params]>;
  private readonly byId: Database.Statement<[string], GroupRow>;
  private readonly byExternalId: Database.Statement<[string, string], GroupRow>;
  private readonly byIds: Database.Statement<[string], GroupRow>;
  private readonly renameStatement: Database.Statement<[string, string | null, number, string], GroupRow>;
  private readonly pageByTenant: Database.Statement<[string, number, number], GroupRow>;
  private readonly countByTenant: Database.Statement<[string], { total: number }>;
  private readonly searchPage: Database.Statement<[Params], GroupRow>;
  private readonly searchCount: Database.Statement<[Params], { total: number }>;
  private readonly byExternalIds: Database.Statement<[string, string], GroupRow>;
  private readonly ensureAll: (tenantId: string, items: { externalId: string; displayName: string; nameResolved: boolean }[]) => string[];

  constructor(db: Database.Database) {
    this.insertIfAbsent = db.prepare(`
      INSERT INTO groups (id, tenant_id, external_id, display_name, name_resolved, created_at, updated_at, display_name_fold)
      VALUES (@id, @tenantId, @externalId, @displayName, @nameResolved, @now, @now, @displayNameFold)
      ON CONFLICT (tenant_id, external_id) DO NOTHING`);
    this.byId = db.prepare('SELECT * FROM groups WHERE id = ?');
    this.byExternalId = db.prepare('SELECT * FROM groups WHERE tenant_id = ? AND external_id = ?');
    // One statement for any number of ids: the list travels as a JSON array.
    this.byIds = db.prepare('SELECT * FROM groups WHERE id IN (SELECT value FROM json_each(?)) ORDER BY display_name, id');
    this.renameStatement = db.prepare(
      'UPDATE groups SET display_name = ?, display_name_fold = ?, name_resolved = 1, version = version + 1, updated_at = ? WHERE id = ? RETURNING *',
    );
    this.pageByTenant = db.prepare('SELECT * FROM groups WHERE tenant_id = ? ORDER BY created_at, id LIMIT ? OFFSET ?');
    this.countByTenant = db.prepare('SELECT count(*) AS total FROM groups WHERE tenant_id = ?');
    const groupMatch = `tenant_id = @tenantId AND (lower(display_name) LIKE @contains ESCAPE '\\' OR lower(external_id) LIKE @prefix ESCAPE '\\')`;
    this.searchPage = db.prepare(`SELECT * FROM groups WHERE ${groupMatch} ORDER BY created_at, id LIMIT @limit OFFSET @offset`);
    this.searchCount = db.prepare(`SELECT count(*) AS total FROM groups WHERE ${groupMatch}`);
    this.byExternalIds = db.prepare('SELECT * FROM groups WHERE tenant_id = ? AND external_id IN (SELECT value FROM json_each(?))');
    // One transaction for the whole batch: one commit instead of one per group.
    this.ensureAll = db.transaction((tenantId: string, items: { externalId: string; displayName: string; nameResolved: boolean }[]) => {
      const created: string[] = [];
      const now = Date.now();
      for (const item of items) {
        const result = this.insertIfAbsent.run({
          id: randomUUID(),
          tenantId,
          externalId: item.externalId,
          displayName: item.displayName,
          displayNameFold: foldCase(item.displayName),
          nameResolved: item.nameResolved ? 1 : 0,
          now,
        });
        if (result.changes === 1) created.push(item.externalId);
      }
      return created;
    });
  }

  async findByExternalIds(tenantId: string, externalIds: string[]): Promise<Group[]> {
    if (externalIds.length === 0) return [];
    return this.byExternalIds.all(tenantId, JSON.stringify(externalIds)).map(toGroup);
  }

  async ensureMany(
    tenantId: string,
    items: { externalId: string; displayName: string; nameResolved: boolean }[],
  ): Promise<{ groups: Group[]; created: string[] }> {
    if (items.length === 0) return { groups: [], created: [] };
    const created = translateConstraints(() => this.ensureAll(tenantId, items), 'The group already exists.');
    const byExternalId = new Map((await this.findByExternalIds(tenantId, items.map((i) => i.externalId))).map((g) => [g.externalId, g]));
    return { groups: items.map((i) => byExternalId.get(i.externalId)!), created };
  }

  async ensure(tenantId: string, externalId: string, init: Pick<Group, 'displayName' | 'nameResolved'>): Promise<Group> {
    const params = {
      id: randomUUID(),
      tenantId,
      externalId,
      displayName: init.displayName,
      displayNameFold: foldCase(init.displayName),
      nameResolved: init.nameResolved ? 1 : 0,
      now: Date.now(),
    };
    translateConstraints(() => this.insertIfAbsent.run(params), 'The group already exists.');
    return toGroup(this.byExternalId.get(tenantId, externalId)!);
  }

  async findById(id: string): Promise<Group | null> {
    const row = this.byId.get(id);
    return row ? toGroup(row) : null;
  }

  async findByExternalId(tenantId: string, externalId: string): Promise<Group | null> {
    const row = this.byExternalId.get(tenantId, externalId);
    return row ? toGroup(row) : null;
  }

  async findByIds(ids: string[]): Promise<Group[]> {
    if (ids.length === 0) return [];
    return this.byIds.all(JSON.stringify(ids)).map(toGroup);
  }

  async rename(id: string, displayName: string): Promise<Group | null> {
    const row = this.renameStatement.get(displayName, foldCase(displayName), Date.now(), id);
    return row ? toGroup(row) : null;
  }

  async listByTenant(tenantId: string, page: PageRequest): Promise<Page<Group>> {
    const { offset, limit } = checkPage(page);
    const items = limit === 0 ? [] : this.pageByTenant.all(tenantId, limit, offset).map(toGroup);
    return { items, total: this.countByTenant.get(tenantId)!.total };
  }

  async search(tenantId: string, text: string, page: PageRequest): Promise<Page<Group>> {
    const { offset, limit } = checkPage(page);
    const folded = escapeLike(foldCase(text.trim()));
    const params = { tenantId, prefix: `${folded}%`, contains: `%${folded}%` };
    const items = limit === 0 ? [] : this.searchPage.all({ ...params, limit, offset }).map(toGroup);
    return { items, total: this.searchCount.get(params)!.total };
  }
}

export class SqliteMembershipRepository implements MembershipRepository {
  private readonly insert: Database.Statement<[string, string, string, number]>;
  private readonly deleteStatement: Database.Statement<[string, string, string]>;
  private readonly byUser: Database.Statement<[string], MembershipRow>;
  private readonly groupsOfSource: Database.Statement<[string, string], { group_id: string }>;
  private readonly syncAll: (userId: string, source: string, groupIds: string[], mode: 'sync' | 'append') => { added: string[]; removed: string[] };

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO memberships (user_id, group_id, source, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (user_id, group_id, source) DO NOTHING`);
    this.deleteStatement = db.prepare('DELETE FROM memberships WHERE user_id = ? AND group_id = ? AND source = ?');
    this.byUser = db.prepare('SELECT * FROM memberships WHERE user_id = ? ORDER BY created_at, group_id, source');
    // `+source`: keep SQLite on the primary key (user_id first); memberships_source_group would scan a whole source.
    this.groupsOfSource = db.prepare('SELECT group_id FROM memberships WHERE user_id = ? AND +source = ?');
    this.syncAll = db.transaction((userId: string, source: string, groupIds: string[], mode: 'sync' | 'append') => {
      const wanted = new Set(groupIds);
      const current = new Set(this.groupsOfSource.all(userId, source).map((r) => r.group_id));
      const added: string[] = [];
      const removed: string[] = [];
      const now = Date.now();
      for (const groupId of wanted) {
        if (!current.has(groupId) && this.insert.run(userId, groupId, source, now).changes === 1) added.push(groupId);
      }
      if (mode === 'sync') {
        for (const groupId of current) {
          if (!wanted.has(groupId) && this.deleteStatement.run(userId, groupId, source).changes > 0) removed.push(groupId);
        }
      }
      return { added, removed };
    });
  }

  async syncSource(userId: string, source: string, groupIds: string[], mode: 'sync' | 'append'): Promise<{ added: string[]; removed: string[] }> {
    return translateConstraints(() => this.syncAll(userId, source, groupIds, mode), 'The membership already exists.');
  }

  async add(userId: string, groupId: string, source: string): Promise<boolean> {
    const result = translateConstraints(() => this.insert.run(userId, groupId, source, Date.now()), 'The membership already exists.');
    return result.changes === 1;
  }

  async remove(userId: string, groupId: string, source: string): Promise<boolean> {
    return this.deleteStatement.run(userId, groupId, source).changes > 0;
  }

  async listByUser(userId: string): Promise<Membership[]> {
    return this.byUser.all(userId).map(toMembership);
  }
}

function eventParams(event: NewEvent): Params {
  return {
    // Time-ordered: the provisioning log is the busiest insert, and its id index then grows at the end (./ids).
    id: timeOrderedId(),
    tenantId: event.tenantId,
    connectionId: event.connectionId,
    channel: event.channel,
    type: event.type,
    outcome: event.outcome,
    subject: event.subject,
    reason: event.reason,
    details: JSON.stringify(event.details ?? {}),
    at: event.at.getTime(),
  };
}

/** The EventQuery filters that map to a column equality, in the order they appear in the SQL. */
const EVENT_FILTERS = [
  ['tenantId', 'tenant_id'],
  ['connectionId', 'connection_id'],
  ['channel', 'channel'],
  ['outcome', 'outcome'],
  ['subject', 'subject'],
] as const;

export class SqliteEventRepository implements EventRepository {
  private readonly insert: Database.Statement<[Params], EventRow>;
  private readonly deleteBefore: Database.Statement<[number]>;
  private readonly lists: StatementCache<EventRow>;
  private readonly insertOnly: Database.Statement<[Params]>;

  constructor(private readonly db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO events (id, tenant_id, connection_id, channel, type, outcome, subject, reason, details, at)
      VALUES (@id, @tenantId, @connectionId, @channel, @type, @outcome, @subject, @reason, @details, @at) RETURNING *`);
    this.deleteBefore = db.prepare('DELETE FROM events WHERE at < ?');
    this.lists = new StatementCache(db);
    // Batches need no row back: a plain INSERT skips reading and decoding each one.
    this.insertOnly = db.prepare(`
      INSERT INTO events (id, tenant_id, connection_id, channel, type, outcome, subject, reason, details, at)
      VALUES (@id, @tenantId, @connectionId, @channel, @type, @outcome, @subject, @reason, @details, @at)`);
  }

  async append(event: NewEvent): Promise<ProvisioningEvent> {
    return toEvent(this.insert.get(eventParams(event))!);
  }

  /** Inserts the events at once, inside the caller's transaction (a group-committed write). */
  insertInTransaction(events: NewEvent[]): void {
    for (const event of events) this.insertOnly.run(eventParams(event));
  }

  async appendMany(events: NewEvent[]): Promise<void> {
    // Group-committed with the other writes of this turn of the event loop (./batcher), which makes them atomic.
    if (events.length > 0) await batcherFor(this.db).run(() => this.insertInTransaction(events));
  }

  async list(query: EventQuery): Promise<ProvisioningEvent[]> {
    const limit = Math.max(0, Math.trunc(query.limit));
    if (limit === 0) return [];
    // Only the filters actually given appear in the SQL, so SQLite can use the (connection_id, at) / (tenant_id, at)
    // indexes; one statement per filter combination is prepared on first use.
    const filters = EVENT_FILTERS.filter(([field]) => query[field] !== undefined);
    const hasBefore = query.before !== undefined;
    const hasAfter = query.after !== undefined;
    const shape = `${filters.map(([field]) => field).join(',')}|${hasBefore}|${hasAfter}`;
    const statement = this.lists.get(shape, () => {
      const conditions = filters.map(([field, column]) => `${column} = @${field}`);
      if (hasBefore) conditions.push('at < @before');
      if (hasAfter) conditions.push('at > @after');
      const where = conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : '';
      // seq breaks ties between events of the same millisecond: the later insert is the newer event.
      return `SELECT * FROM events ${where} ORDER BY at DESC, seq DESC LIMIT @limit`;
    });
    const params: Params = { limit };
    for (const [field] of filters) params[field] = query[field];
    if (query.before) params.before = query.before.getTime();
    if (query.after) params.after = query.after.getTime();
    return statement.all(params).map(toEvent);
  }

  async deleteOlderThan(cutoff: Date): Promise<number> {
    return this.deleteBefore.run(cutoff.getTime()).changes;
  }
}
