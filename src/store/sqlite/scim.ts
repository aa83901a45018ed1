/**
 * The SCIM repositories on SQLite: accounts and groups as a connection's SCIM client sees them (scope, ownership,
 * optimistic versions, filters translated to SQL by ./scim-filter), and SCIM tokens and OAuth clients.
 * Each write is one transaction; ownership and version preconditions are part of the UPDATE's WHERE.
 */
import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
import type { Connection } from '../../provisioning/types';
import type { GroupQuery, UserQuery } from '../../scim/query';
import type {
  NewScimToken,
  NewUser,
  Page,
  PageRequest,
  ScimClient,
  ScimClientRepository,
  ScimGroupRecord,
  ScimGroupRepository,
  ScimScope,
  ScimToken,
  ScimTokenContext,
  ScimTokenRepository,
  ScimUserRecord,
  ScimUserRepository,
  ScimUserState,
  NewEvent,
  UserPatch,
} from '../ports';
import { batcherFor } from './batcher';
import { translateConstraints } from './database';
import { timeOrderedId } from './ids';
import { foldCase } from '../../scim/query';
import { FOLDED_USER_FIELDS, newUserParams, userFolds, type SqliteEventRepository } from './repositories';
import { toConnection, toGroup, toTenant, toUser, type GroupRow, type TenantRow, type UserRow } from './rows';
import { groupWhere, userWhere, type SqlFragment } from './scim-filter';

type Params = Record<string, unknown>;

interface ScimUserRow extends UserRow {
  version: number;
  scim_connection_id: string | null;
  scim_external_id: string | null;
  scim_user_name_key: string | null;
  scim_resource: string | null;
  scim_deleted_at: number | null;
}

interface ScimGroupRow extends GroupRow {
  version: number;
  scim_connection_id: string | null;
  scim_external_id: string | null;
  scim_deleted_at: number | null;
}

/** Emails as the state keeps them, from a stored resource. */
export function emailsOfResource(resource: Record<string, unknown>): ScimUserState['emails'] {
  const emails = resource.emails;
  if (!Array.isArray(emails)) return [];
  return emails
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null)
    .map((e) => ({
      value: typeof e.value === 'string' ? e.value : null,
      type: typeof e.type === 'string' ? e.type : null,
      primary: e.primary === true,
    }));
}

function employeeNumberOf(resource: Record<string, unknown>): string | null {
  const enterprise = resource['urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'];
  const value = typeof enterprise === 'object' && enterprise !== null ? (enterprise as Record<string, unknown>).employeeNumber : undefined;
  return typeof value === 'string' ? value : null;
}

function toUserRecord(row: ScimUserRow): ScimUserRecord {
  let scim: ScimUserRecord['scim'] = null;
  if (row.scim_connection_id !== null) {
    const resource = row.scim_resource ? (JSON.parse(row.scim_resource) as Record<string, unknown>) : {};
    scim = {
      connectionId: row.scim_connection_id,
      externalId: row.scim_external_id,
      userName: typeof resource.userName === 'string' ? resource.userName : row.username,
      userNameKey: row.scim_user_name_key ?? row.username_key,
      employeeNumber: employeeNumberOf(resource),
      emails: emailsOfResource(resource),
      resource,
    };
  }
  return { user: toUser(row), version: row.version, scim, detached: row.scim_deleted_at !== null };
}

function toGroupRecord(row: ScimGroupRow): ScimGroupRecord {
  return {
    group: toGroup(row),
    version: row.version,
    scim: row.scim_connection_id === null ? null : { connectionId: row.scim_connection_id, externalId: row.scim_external_id },
    detached: row.scim_deleted_at !== null,
  };
}

function checkPage(page: PageRequest): { offset: number; limit: number } {
  return { offset: Math.max(0, Math.trunc(page.offset)), limit: Math.max(0, Math.trunc(page.limit)) };
}

/** Statements by SQL text (filters have few distinct shapes); bounded so odd clients cannot grow it forever. */
class SqlCache {
  private readonly statements = new Map<string, Database.Statement<unknown[]>>();
  constructor(private readonly db: Database.Database, private readonly max = 500) {}

  get(sql: string): Database.Statement<unknown[]> {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= this.max) this.statements.delete(this.statements.keys().next().value!);
      statement = this.db.prepare<unknown[]>(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** Columns of a user the reconciler may set, and their SQL columns. */
const USER_COLUMNS: Record<Exclude<keyof UserPatch, 'lastLoginAt'>, string> = {
  username: 'username',
  usernameKey: 'username_key',
  email: 'email',
  givenName: 'given_name',
  familyName: 'family_name',
  displayName: 'display_name',
  fullName: 'full_name',
  active: 'active',
};

function stateParams(state: ScimUserState): Params {
  return {
    scimExternalId: state.externalId,
    scimUserNameKey: state.userNameKey,
    scimEmployeeNumberFold: foldCase(state.employeeNumber),
    scimResource: JSON.stringify(state.resource),
  };
}

export class SqliteScimUserRepository implements ScimUserRepository {
  private readonly sql: SqlCache;
  private readonly byId: Database.Statement<[string], ScimUserRow>;
  private readonly insertUser: Database.Statement<[Params], ScimUserRow>;
  private readonly deleteEmails: Database.Statement<[string]>;
  private readonly insertEmail: Database.Statement<[string, number, string | null, string | null, number]>;
  private readonly detachStatement: Database.Statement<[Params], { id: string }>;
  private readonly deleteSourceMemberships: Database.Statement<[string, string]>;
  private readonly removeStatement: Database.Statement<[string, number, string], { id: string }>;
  private readonly updates = new Map<string, Database.Statement<[Params], ScimUserRow>>();
  private readonly createTx: (input: NewUser, connectionId: string, state: ScimUserState) => ScimUserRow;
  private readonly saveTx: (statement: Database.Statement<[Params], ScimUserRow>, params: Params, state: ScimUserState) => ScimUserRow | undefined;
  private readonly detachTx: (connectionId: string, userId: string, expectedVersion: number) => boolean;

  constructor(
    private readonly db: Database.Database,
    /** Where createWithLog writes its events. */
    private readonly events: Pick<SqliteEventRepository, 'insertInTransaction'>,
  ) {
    this.sql = new SqlCache(db);
    this.byId = db.prepare('SELECT * FROM users WHERE id = ?');
    this.insertUser = db.prepare(`
      INSERT INTO users (id, tenant_id, username, username_key, email, given_name, family_name, display_name, full_name,
                         active, created_at, updated_at, last_login_at,
                         display_name_fold, given_name_fold, family_name_fold, email_fold,
                         scim_connection_id, scim_external_id, scim_user_name_key, scim_employee_number_fold, scim_resource)
      VALUES (@id, @tenantId, @username, @usernameKey, @email, @givenName, @familyName, @displayName, @fullName,
              @active, @now, @now, @lastLoginAt,
              @displayNameFold, @givenNameFold, @familyNameFold, @emailFold,
              @connectionId, @scimExternalId, @scimUserNameKey, @scimEmployeeNumberFold, @scimResource)
      RETURNING *`);
    this.deleteEmails = db.prepare('DELETE FROM scim_user_emails WHERE user_id = ?');
    this.insertEmail = db.prepare('INSERT INTO scim_user_emails (user_id, position, value_fold, type_fold, is_primary) VALUES (?, ?, ?, ?, ?)');
    this.detachStatement = db.prepare(`
      UPDATE users SET active = 0, scim_connection_id = NULL, scim_external_id = NULL, scim_user_name_key = NULL,
                       scim_employee_number_fold = NULL, scim_resource = NULL, scim_deleted_at = @now,
                       version = version + 1, updated_at = @now
      WHERE id = @id AND version = @version AND (scim_connection_id IS NULL OR scim_connection_id = @connectionId)
      RETURNING id`);
    // `+source`: stay on the primary key (user_id first), not memberships_source_group.
    this.deleteSourceMemberships = db.prepare('DELETE FROM memberships WHERE user_id = ? AND +source = ?');
    this.removeStatement = db.prepare(
      'DELETE FROM users WHERE id = ? AND version = ? AND (scim_connection_id IS NULL OR scim_connection_id = ?) RETURNING id',
    );

    this.createTx = db.transaction((input: NewUser, connectionId: string, state: ScimUserState) => {
      const row = this.insertUser.get({
        // Time-ordered (./ids): a sync's inserts share the last pages of the id indexes (users, emails, memberships).
        // The resource's meta.created shows the creation time already.
        ...newUserParams(input, timeOrderedId()),
        connectionId,
        ...stateParams(state),
      })!;
      this.writeEmails(row.id, state);
      return row;
    });
    this.saveTx = db.transaction((statement: Database.Statement<[Params], ScimUserRow>, params: Params, state: ScimUserState) => {
      const row = statement.get(params);
      if (row) {
        this.deleteEmails.run(row.id);
        this.writeEmails(row.id, state);
      }
      return row;
    });
    this.detachTx = db.transaction((connectionId: string, userId: string, expectedVersion: number) => {
      const row = this.detachStatement.get({ id: userId, version: expectedVersion, connectionId, now: Date.now() });
      if (!row) return false;
      this.deleteEmails.run(userId);
      this.deleteSourceMemberships.run(userId, `scim:${connectionId}`);
      return true;
    });
  }

  private writeEmails(userId: string, state: ScimUserState): void {
    state.emails.forEach((email, position) => {
      this.insertEmail.run(userId, position, foldCase(email.value), foldCase(email.type), email.primary ? 1 : 0);
    });
  }

  async find(scope: ScimScope, id: string): Promise<ScimUserRecord | null> {
    const where = userWhere(scope, null);
    const row = this.sql.get(`SELECT u.* FROM users u WHERE u.id = ? AND ${where.sql}`).get(id, ...where.params) as ScimUserRow | undefined;
    return row ? toUserRecord(row) : null;
  }

  async load(id: string): Promise<ScimUserRecord | null> {
    const row = this.byId.get(id);
    return row ? toUserRecord(row) : null;
  }

  async existingIds(scope: ScimScope, ids: string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const where = userWhere(scope, null);
    const rows = this.sql
      // CROSS JOIN keeps the order: one primary-key probe per id, never a scan of the tenant's users.
      .get(`SELECT u.id FROM json_each(?) AS j CROSS JOIN users u ON u.id = j.value WHERE ${where.sql}`)
      .all(JSON.stringify([...new Set(ids)]), ...where.params) as { id: string }[];
    return rows.map((r) => r.id);
  }

  async query(scope: ScimScope, filter: UserQuery | null, page: PageRequest): Promise<Page<ScimUserRecord>> {
    return runQuery(this.sql, 'users u', 'u', userWhere(scope, filter), filter !== null, page, (row) => toUserRecord(row as ScimUserRow));
  }

  async create(connectionId: string, input: NewUser, state: ScimUserState): Promise<ScimUserRecord> {
    return this.createWithLog(connectionId, input, state, () => []);
  }

  async createWithLog(connectionId: string, input: NewUser, state: ScimUserState, log: (record: ScimUserRecord) => NewEvent[]): Promise<ScimUserRecord> {
    // One write of the group commit, so inside its own savepoint: when the event insert (or `log`) fails, the
    // batcher rolls the account back with it.
    return batcherFor(this.db).run(() => {
      const record = toUserRecord(
        translateConstraints(() => this.createTx(input, connectionId, state), `The username "${input.username}" is already taken in this tenant.`, 'username_taken'),
      );
      this.events.insertInTransaction(log(record));
      return record;
    });
  }

  async save(connectionId: string, userId: string, patch: UserPatch, state: ScimUserState, expectedVersion: number): Promise<ScimUserRecord | null> {
    const fields = (Object.keys(USER_COLUMNS) as (keyof typeof USER_COLUMNS)[]).filter((field) => patch[field] !== undefined);
    const shape = fields.join(',');
    let statement = this.updates.get(shape);
    if (!statement) {
      const assignments = fields.map((field) => `${USER_COLUMNS[field]} = @${field}`);
      for (const field of fields) {
        if (field in FOLDED_USER_FIELDS) assignments.push(`${FOLDED_USER_FIELDS[field as keyof typeof FOLDED_USER_FIELDS]} = @${field}Fold`);
      }
      assignments.push(
        'scim_connection_id = @connectionId',
        'scim_external_id = @scimExternalId',
        'scim_user_name_key = @scimUserNameKey',
        'scim_employee_number_fold = @scimEmployeeNumberFold',
        'scim_resource = @scimResource',
        'scim_deleted_at = NULL',
      );
      statement = this.db.prepare<[Params], ScimUserRow>(`
        UPDATE users SET ${assignments.join(', ')}, version = version + 1, updated_at = @now
        WHERE id = @id AND version = @version AND (scim_connection_id IS NULL OR scim_connection_id = @connectionId)
        RETURNING *`);
      this.updates.set(shape, statement);
    }
    const params: Params = { id: userId, version: expectedVersion, connectionId, now: Date.now(), ...userFolds(patch), ...stateParams(state) };
    for (const field of fields) params[field] = field === 'active' ? (patch.active ? 1 : 0) : patch[field];
    const row = await batcherFor(this.db).run(() =>
      translateConstraints(
        () => this.saveTx(statement!, params, state),
        `The username "${patch.username ?? patch.usernameKey}" is already taken in this tenant.`,
        'username_taken',
      ),
    );
    return row ? toUserRecord(row) : null;
  }

  async detach(connectionId: string, userId: string, expectedVersion: number): Promise<boolean> {
    return batcherFor(this.db).run(() => this.detachTx(connectionId, userId, expectedVersion));
  }

  async remove(connectionId: string, userId: string, expectedVersion: number): Promise<boolean> {
    // Memberships, identity links and emails go with it (ON DELETE CASCADE).
    return this.removeStatement.get(userId, expectedVersion, connectionId) !== undefined;
  }
}

/** A page and the total for a WHERE clause; with a filter, ordering must not steer the planner off its indexes. */
function runQuery<T>(
  sql: SqlCache,
  from: string,
  alias: string,
  where: SqlFragment,
  filtered: boolean,
  page: PageRequest,
  map: (row: unknown) => T,
): Page<T> {
  const { offset, limit } = checkPage(page);
  const count = () => (sql.get(`SELECT count(*) AS total FROM ${from} WHERE ${where.sql}`).get(...where.params) as { total: number }).total;
  if (limit === 0) return { items: [], total: count() };
  // Unfiltered: the (tenant_id, created_at, id) index gives the order. Filtered: `+` keeps SQLite from walking that
  // index instead of the filter's (e.g. username_key), then the few matches are sorted.
  const order = filtered ? `+${alias}.created_at, ${alias}.id` : `${alias}.created_at, ${alias}.id`;
  const rows = sql.get(`SELECT ${alias}.* FROM ${from} WHERE ${where.sql} ORDER BY ${order} LIMIT ? OFFSET ?`).all(...where.params, limit, offset);
  // A page that is not full is the last one, so it tells the total itself: a lookup by userName or externalId (one
  // match or none) costs one query. Only a full page, or an empty one past the start, needs the count.
  const last = rows.length < limit && (rows.length > 0 || offset === 0);
  return { items: rows.map(map), total: last ? offset + rows.length : count() };
}

export class SqliteScimGroupRepository implements ScimGroupRepository {
  private readonly sql: SqlCache;
  private readonly byId: Database.Statement<[string], ScimGroupRow>;
  private readonly insertGroup: Database.Statement<[Params], ScimGroupRow>;
  private readonly updateGroup: Database.Statement<[Params], ScimGroupRow>;
  private readonly addMember: Database.Statement<[string, string, string, number]>;
  private readonly removeMember: Database.Statement<[string, string, string]>;
  private readonly membersOf: Database.Statement<[string, string], { group_id: string; user_id: string }>;
  private readonly membersAmongStatement: Database.Statement<[string, string, string], { user_id: string }>;
  private readonly detachStatement: Database.Statement<[Params], { id: string }>;
  private readonly deleteGroupMemberships: Database.Statement<[string, string]>;
  private readonly removeStatement: Database.Statement<[string, number, string], { id: string }>;
  private readonly createTx: (params: Params, members: string[], source: string) => ScimGroupRow;
  private readonly saveTx: (params: Params, add: string[], remove: string[], source: string) => ScimGroupRow | undefined;
  private readonly detachTx: (connectionId: string, groupId: string, expectedVersion: number) => boolean;

  constructor(private readonly db: Database.Database) {
    this.sql = new SqlCache(db);
    this.byId = db.prepare('SELECT * FROM groups WHERE id = ?');
    this.insertGroup = db.prepare(`
      INSERT INTO groups (id, tenant_id, external_id, display_name, display_name_fold, name_resolved, created_at, updated_at,
                          scim_connection_id, scim_external_id)
      VALUES (@id, @tenantId, @externalId, @displayName, @displayNameFold, 1, @now, @now, @connectionId, @scimExternalId)
      RETURNING *`);
    this.updateGroup = db.prepare(`
      UPDATE groups SET display_name = @displayName, display_name_fold = @displayNameFold, name_resolved = 1,
                        external_id = coalesce(@scimExternalId, external_id), scim_external_id = @scimExternalId,
                        scim_connection_id = @connectionId, scim_deleted_at = NULL, version = version + 1, updated_at = @now
      WHERE id = @id AND version = @version AND (scim_connection_id IS NULL OR scim_connection_id = @connectionId)
      RETURNING *`);
    this.addMember = db.prepare(`
      INSERT INTO memberships (user_id, group_id, source, created_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (user_id, group_id, source) DO NOTHING`);
    this.removeMember = db.prepare('DELETE FROM memberships WHERE user_id = ? AND group_id = ? AND source = ?');
    this.membersOf = db.prepare(`
      SELECT group_id, user_id FROM memberships
      WHERE source = ? AND group_id IN (SELECT value FROM json_each(?)) ORDER BY created_at, user_id`);
    // CROSS JOIN keeps the order: one primary-key probe (user_id, group_id, source) per id.
    this.membersAmongStatement = db.prepare(`
      SELECT m.user_id FROM json_each(?) AS j CROSS JOIN memberships m
      WHERE m.user_id = j.value AND m.group_id = ? AND m.source = ?`);
    this.detachStatement = db.prepare(`
      UPDATE groups SET scim_connection_id = NULL, scim_external_id = NULL, scim_deleted_at = @now, version = version + 1, updated_at = @now
      WHERE id = @id AND version = @version AND (scim_connection_id IS NULL OR scim_connection_id = @connectionId)
      RETURNING id`);
    this.deleteGroupMemberships = db.prepare('DELETE FROM memberships WHERE group_id = ? AND source = ?');
    this.removeStatement = db.prepare(
      'DELETE FROM groups WHERE id = ? AND version = ? AND (scim_connection_id IS NULL OR scim_connection_id = ?) RETURNING id',
    );

    this.createTx = db.transaction((params: Params, members: string[], source: string) => {
      const row = this.insertGroup.get(params)!;
      const now = Date.now();
      for (const userId of members) this.addMember.run(userId, row.id, source, now);
      return row;
    });
    this.saveTx = db.transaction((params: Params, add: string[], remove: string[], source: string) => {
      const row = this.updateGroup.get(params);
      if (!row) return undefined;
      const now = Date.now();
      for (const userId of add) this.addMember.run(userId, row.id, source, now);
      for (const userId of remove) this.removeMember.run(userId, row.id, source);
      return row;
    });
    this.detachTx = db.transaction((connectionId: string, groupId: string, expectedVersion: number) => {
      if (!this.detachStatement.get({ id: groupId, version: expectedVersion, connectionId, now: Date.now() })) return false;
      this.deleteGroupMemberships.run(groupId, `scim:${connectionId}`);
      return true;
    });
  }

  async find(scope: ScimScope, id: string): Promise<ScimGroupRecord | null> {
    const where = groupWhere(scope, null);
    const row = this.sql.get(`SELECT g.* FROM groups g WHERE g.id = ? AND ${where.sql}`).get(id, ...where.params) as ScimGroupRow | undefined;
    return row ? toGroupRecord(row) : null;
  }

  async load(id: string): Promise<ScimGroupRecord | null> {
    const row = this.byId.get(id);
    return row ? toGroupRecord(row) : null;
  }

  async query(scope: ScimScope, filter: GroupQuery | null, page: PageRequest): Promise<Page<ScimGroupRecord>> {
    return runQuery(this.sql, 'groups g', 'g', groupWhere(scope, filter), filter !== null, page, (row) => toGroupRecord(row as ScimGroupRow));
  }

  async members(groupIds: string[], source: string): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>();
    if (groupIds.length === 0) return result;
    for (const row of this.membersOf.all(source, JSON.stringify([...new Set(groupIds)]))) {
      const list = result.get(row.group_id) ?? [];
      list.push(row.user_id);
      result.set(row.group_id, list);
    }
    return result;
  }

  async membersAmong(groupId: string, source: string, userIds: string[]): Promise<string[]> {
    if (userIds.length === 0) return [];
    return this.membersAmongStatement.all(JSON.stringify([...new Set(userIds)]), groupId, source).map((row) => row.user_id);
  }

  async create(
    connectionId: string,
    tenantId: string,
    input: { displayName: string; externalId: string | null },
    members: string[],
  ): Promise<ScimGroupRecord> {
    const id = randomUUID();
    const params = {
      id,
      tenantId,
      // Without a client externalId the group still needs a tenant-unique one; SAML claims never carry this form.
      externalId: input.externalId ?? `gatehouse:scim:${id}`,
      displayName: input.displayName,
      displayNameFold: foldCase(input.displayName),
      now: Date.now(),
      connectionId,
      scimExternalId: input.externalId,
    };
    const row = await batcherFor(this.db).run(() =>
      translateConstraints(
        () => this.createTx(params, [...new Set(members)], `scim:${connectionId}`),
        `A group with externalId "${input.externalId}" already exists in this tenant.`,
      ),
    );
    return toGroupRecord(row);
  }

  async save(
    connectionId: string,
    groupId: string,
    change: { displayName: string; externalId: string | null; add: string[]; remove: string[] },
    expectedVersion: number,
  ): Promise<ScimGroupRecord | null> {
    const params = {
      id: groupId,
      version: expectedVersion,
      connectionId,
      displayName: change.displayName,
      displayNameFold: foldCase(change.displayName),
      scimExternalId: change.externalId,
      now: Date.now(),
    };
    const row = await batcherFor(this.db).run(() =>
      translateConstraints(
        () => this.saveTx(params, [...new Set(change.add)], [...new Set(change.remove)], `scim:${connectionId}`),
        `A group with externalId "${change.externalId}" already exists in this tenant.`,
      ),
    );
    return row ? toGroupRecord(row) : null;
  }

  async detach(connectionId: string, groupId: string, expectedVersion: number): Promise<boolean> {
    return batcherFor(this.db).run(() => this.detachTx(connectionId, groupId, expectedVersion));
  }

  async remove(connectionId: string, groupId: string, expectedVersion: number): Promise<boolean> {
    return this.removeStatement.get(groupId, expectedVersion, connectionId) !== undefined;
  }
}

// ---- tokens and OAuth clients -----------------------------------------------------------------------------------

interface ScimTokenRow {
  id: string;
  connection_id: string;
  tenant_id: string;
  kind: string;
  hash: string;
  prefix: string;
  client_id: string | null;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  alerts_sent: string;
}

const dateOrNull = (ms: number | null): Date | null => (ms === null ? null : new Date(ms));

function toToken(row: ScimTokenRow): ScimToken {
  return {
    id: row.id,
    connectionId: row.connection_id,
    tenantId: row.tenant_id,
    kind: row.kind as ScimToken['kind'],
    prefix: row.prefix,
    clientId: row.client_id,
    createdAt: new Date(row.created_at),
    expiresAt: new Date(row.expires_at),
    lastUsedAt: dateOrNull(row.last_used_at),
    revokedAt: dateOrNull(row.revoked_at),
    alertsSent: (JSON.parse(row.alerts_sent) as number[]).sort((a, b) => b - a),
  };
}

/** A token row with its connection's (c_*) and tenant's (n_*) columns; those are NULL when absent. */
interface ScimTokenContextRow extends ScimTokenRow {
  c_id: string | null;
  c_tenant_id: string;
  c_slug: string;
  c_name: string;
  c_sp_entity_id: string;
  c_idp: string;
  c_settings: string;
  c_version: number;
  c_created_at: number;
  c_updated_at: number;
  n_id: string | null;
  n_slug: string;
  n_name: string;
  n_domains: string;
  n_created_at: number;
  n_updated_at: number;
}

/** ScimTokenContextRow without the connection's documents: what identifies the connection's stored state. */
type ScimTokenStampRow = Omit<ScimTokenContextRow, 'c_tenant_id' | 'c_slug' | 'c_name' | 'c_sp_entity_id' | 'c_idp' | 'c_settings' | 'c_created_at'>;

/** Connections parsed for SCIM authentication, at most this many (the map is emptied when it grows past it). */
const CONNECTION_CACHE_SIZE = 1000;

/** Freezes a parsed document (plain objects and arrays) so a cached connection can be shared between requests. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value as Record<string, unknown>)) deepFreeze(child);
  }
  return value;
}

export class SqliteScimTokenRepository implements ScimTokenRepository {
  private readonly insert: Database.Statement<[Params], ScimTokenRow>;
  private readonly byHash: Database.Statement<[string], ScimTokenRow>;
  private readonly byHashWithContext: Database.Statement<[string], ScimTokenContextRow>;
  private readonly byHashWithStamp: Database.Statement<[string], ScimTokenStampRow>;
  /**
   * Parsed connections by id, each with the version and update time it was parsed at. Every change to a connection
   * bumps its version (in the UPDATE itself), so an entry is only used for the exact stored state it was parsed from;
   * the token row and the connection's version are read on every request.
   */
  private readonly connections = new Map<string, { version: number; updatedAt: number; connection: Connection }>();
  private readonly byId: Database.Statement<[string], ScimTokenRow>;
  private readonly byConnection: Database.Statement<[string], ScimTokenRow>;
  private readonly touchStatement: Database.Statement<[number, string]>;
  private readonly extendStatement: Database.Statement<[number, string], ScimTokenRow>;
  private readonly revokeStatement: Database.Statement<[number, string], ScimTokenRow>;
  private readonly revokeClientStatement: Database.Statement<[number, string, number]>;
  private readonly expiring: Database.Statement<[number, number], ScimTokenRow>;
  private readonly claim: Database.Statement<[number, string, number]>;
  private readonly release: Database.Statement<[number, string]>;
  private readonly deleteExpired: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO scim_tokens (id, connection_id, tenant_id, kind, hash, prefix, client_id, created_at, expires_at)
      VALUES (@id, @connectionId, @tenantId, @kind, @hash, @prefix, @clientId, @now, @expiresAt) RETURNING *`);
    this.byHash = db.prepare('SELECT * FROM scim_tokens WHERE hash = ?');
    // One read instead of three for every SCIM request. The tenant joins only through the token's own tenant.
    // One join for both reads, so the rule that the tenant is the connection's *and* the token's lives once.
    const tokenWithContext = (connectionColumns: string) => `
      SELECT t.*, ${connectionColumns},
             n.id AS n_id, n.slug AS n_slug, n.name AS n_name, n.domains AS n_domains, n.created_at AS n_created_at,
             n.updated_at AS n_updated_at
      FROM scim_tokens t
      LEFT JOIN connections c ON c.id = t.connection_id
      LEFT JOIN tenants n ON n.id = c.tenant_id AND n.id = t.tenant_id
      WHERE t.hash = ?`;
    this.byHashWithContext = db.prepare(
      tokenWithContext(`c.id AS c_id, c.tenant_id AS c_tenant_id, c.slug AS c_slug, c.name AS c_name, c.sp_entity_id AS c_sp_entity_id,
             c.idp AS c_idp, c.settings AS c_settings, c.version AS c_version, c.created_at AS c_created_at,
             c.updated_at AS c_updated_at`),
    );
    // The same read without the connection's documents (the IdP metadata with its certificates, the settings): its
    // version says whether the parsed connection in this.connections is current.
    this.byHashWithStamp = db.prepare(tokenWithContext('c.id AS c_id, c.version AS c_version, c.updated_at AS c_updated_at'));
    this.byId = db.prepare('SELECT * FROM scim_tokens WHERE id = ?');
    this.byConnection = db.prepare("SELECT * FROM scim_tokens WHERE connection_id = ? AND kind = 'token' ORDER BY created_at DESC, id");
    this.touchStatement = db.prepare('UPDATE scim_tokens SET last_used_at = ? WHERE id = ?');
    this.extendStatement = db.prepare("UPDATE scim_tokens SET expires_at = ?, alerts_sent = '[]' WHERE id = ? RETURNING *");
    this.revokeStatement = db.prepare('UPDATE scim_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING *');
    this.revokeClientStatement = db.prepare(
      "UPDATE scim_tokens SET revoked_at = ? WHERE client_id = ? AND kind = 'access' AND revoked_at IS NULL AND expires_at > ?",
    );
    this.expiring = db.prepare(
      "SELECT * FROM scim_tokens WHERE kind = 'token' AND revoked_at IS NULL AND expires_at > ? AND expires_at <= ? ORDER BY expires_at",
    );
    this.claim = db.prepare(`
      UPDATE scim_tokens SET alerts_sent = json_insert(alerts_sent, '$[#]', ?)
      WHERE id = ? AND NOT EXISTS (SELECT 1 FROM json_each(scim_tokens.alerts_sent) WHERE value = ?)`);
    this.release = db.prepare(`
      UPDATE scim_tokens SET alerts_sent = (SELECT coalesce(json_group_array(value), '[]') FROM json_each(scim_tokens.alerts_sent) WHERE value <> ?)
      WHERE id = ?`);
    this.deleteExpired = db.prepare("DELETE FROM scim_tokens WHERE kind = 'access' AND expires_at < ?");
  }

  async create(input: NewScimToken): Promise<ScimToken> {
    const row = translateConstraints(
      () => this.insert.get({ ...input, id: randomUUID(), now: Date.now(), expiresAt: input.expiresAt.getTime() }),
      'The token already exists.',
    );
    return toToken(row!);
  }

  async findByHash(hash: string): Promise<(ScimToken & { hash: string }) | null> {
    const row = this.byHash.get(hash);
    return row ? { ...toToken(row), hash: row.hash } : null;
  }

  async findByHashWithContext(hash: string): Promise<ScimTokenContext | null> {
    const stamp = this.byHashWithStamp.get(hash);
    if (!stamp) return null;
    let row: ScimTokenStampRow = stamp;
    let connection: Connection | null = null;
    if (stamp.c_id !== null) {
      const kept = this.connections.get(stamp.c_id);
      if (kept && kept.version === stamp.c_version && kept.updatedAt === stamp.c_updated_at) connection = kept.connection;
      else {
        // Not parsed yet at this version: read everything again, in one statement, so token, connection and tenant
        // are of the same moment.
        const full = this.byHashWithContext.get(hash);
        if (!full) return null;
        row = full;
        connection = full.c_id === null ? null : this.remember(full);
      }
    }
    const tenant: TenantRow | null =
      row.n_id === null
        ? null
        : { id: row.n_id, slug: row.n_slug, name: row.n_name, domains: row.n_domains, created_at: row.n_created_at, updated_at: row.n_updated_at };
    return {
      token: { ...toToken(row), hash: row.hash },
      connection,
      tenant: tenant ? toTenant(tenant) : null,
    };
  }

  /** Parses the row's connection and keeps it for the next requests at the same version (frozen: it is shared). */
  private remember(row: ScimTokenContextRow): Connection {
    const connection = deepFreeze(
      toConnection({
        id: row.c_id!,
        tenant_id: row.c_tenant_id,
        slug: row.c_slug,
        name: row.c_name,
        sp_entity_id: row.c_sp_entity_id,
        idp: row.c_idp,
        settings: row.c_settings,
        version: row.c_version,
        created_at: row.c_created_at,
        updated_at: row.c_updated_at,
      }),
    );
    if (this.connections.size >= CONNECTION_CACHE_SIZE && !this.connections.has(connection.id)) this.connections.clear();
    this.connections.set(connection.id, { version: row.c_version, updatedAt: row.c_updated_at, connection });
    return connection;
  }

  async findById(id: string): Promise<ScimToken | null> {
    const row = this.byId.get(id);
    return row ? toToken(row) : null;
  }

  async listByConnection(connectionId: string): Promise<ScimToken[]> {
    return this.byConnection.all(connectionId).map(toToken);
  }

  async touch(id: string, at: Date): Promise<void> {
    this.touchStatement.run(at.getTime(), id);
  }

  async extend(id: string, expiresAt: Date): Promise<ScimToken | null> {
    const row = this.extendStatement.get(expiresAt.getTime(), id);
    return row ? toToken(row) : null;
  }

  async revoke(id: string, at: Date): Promise<ScimToken | null> {
    const row = this.revokeStatement.get(at.getTime(), id);
    return row ? toToken(row) : null;
  }

  async revokeByClient(clientId: string, at: Date): Promise<number> {
    return this.revokeClientStatement.run(at.getTime(), clientId, at.getTime()).changes;
  }

  async listExpiring(now: Date, before: Date): Promise<ScimToken[]> {
    return this.expiring.all(now.getTime(), before.getTime()).map(toToken);
  }

  async claimAlert(id: string, threshold: number): Promise<boolean> {
    return this.claim.run(threshold, id, threshold).changes === 1;
  }

  async releaseAlert(id: string, threshold: number): Promise<void> {
    this.release.run(threshold, id);
  }

  async deleteExpiredAccess(cutoff: Date): Promise<number> {
    return this.deleteExpired.run(cutoff.getTime()).changes;
  }
}

interface ScimClientRow {
  id: string;
  connection_id: string;
  tenant_id: string;
  client_id: string;
  secret_hash: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

function toClient(row: ScimClientRow): ScimClient {
  return {
    id: row.id,
    connectionId: row.connection_id,
    tenantId: row.tenant_id,
    clientId: row.client_id,
    createdAt: new Date(row.created_at),
    lastUsedAt: dateOrNull(row.last_used_at),
    revokedAt: dateOrNull(row.revoked_at),
  };
}

export class SqliteScimClientRepository implements ScimClientRepository {
  private readonly insert: Database.Statement<[Params], ScimClientRow>;
  private readonly byClientId: Database.Statement<[string], ScimClientRow>;
  private readonly byId: Database.Statement<[string], ScimClientRow>;
  private readonly byConnection: Database.Statement<[string], ScimClientRow>;
  private readonly touchStatement: Database.Statement<[number, string]>;
  private readonly revokeStatement: Database.Statement<[number, string], ScimClientRow>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(`
      INSERT INTO scim_clients (id, connection_id, tenant_id, client_id, secret_hash, created_at)
      VALUES (@id, @connectionId, @tenantId, @clientId, @secretHash, @now) RETURNING *`);
    this.byClientId = db.prepare('SELECT * FROM scim_clients WHERE client_id = ?');
    this.byId = db.prepare('SELECT * FROM scim_clients WHERE id = ?');
    this.byConnection = db.prepare('SELECT * FROM scim_clients WHERE connection_id = ? ORDER BY created_at DESC, id');
    this.touchStatement = db.prepare('UPDATE scim_clients SET last_used_at = ? WHERE id = ?');
    this.revokeStatement = db.prepare('UPDATE scim_clients SET revoked_at = coalesce(revoked_at, ?) WHERE id = ? RETURNING *');
  }

  async create(input: { connectionId: string; tenantId: string; clientId: string; secretHash: string }): Promise<ScimClient> {
    const row = translateConstraints(() => this.insert.get({ ...input, id: randomUUID(), now: Date.now() }), 'The client id exists.');
    return toClient(row!);
  }

  async findByClientId(clientId: string): Promise<(ScimClient & { secretHash: string }) | null> {
    const row = this.byClientId.get(clientId);
    return row ? { ...toClient(row), secretHash: row.secret_hash } : null;
  }

  async findById(id: string): Promise<ScimClient | null> {
    const row = this.byId.get(id);
    return row ? toClient(row) : null;
  }

  async listByConnection(connectionId: string): Promise<ScimClient[]> {
    return this.byConnection.all(connectionId).map(toClient);
  }

  async touch(id: string, at: Date): Promise<void> {
    this.touchStatement.run(at.getTime(), id);
  }

  async revoke(id: string, at: Date): Promise<ScimClient | null> {
    const row = this.revokeStatement.get(at.getTime(), id);
    return row ? toClient(row) : null;
  }
}
