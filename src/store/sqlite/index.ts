/** The embedded SQLite store: every repository of ports.ts on one better-sqlite3 connection. */
import type Database from 'better-sqlite3';
import type { Logger } from '../../common/log';
import type {
  ConnectionRepository,
  EventRepository,
  ExpiringMap,
  GroupRepository,
  IdentityLinkRepository,
  MembershipRepository,
  OnceCache,
  ScimClientRepository,
  ScimGroupRepository,
  ScimTokenRepository,
  ScimUserRepository,
  Store,
  TenantRepository,
  UserRepository,
} from '../ports';
import { SqliteExpiringMap, SqliteOnceCache } from './caches';
import { openSqliteDatabase, type SqliteLocation } from './database';
import { WalCheckpointer } from './checkpointer';
import { applyMigrations } from './migrations';
import {
  SqliteConnectionRepository,
  SqliteEventRepository,
  SqliteGroupRepository,
  SqliteIdentityLinkRepository,
  SqliteMembershipRepository,
  SqliteTenantRepository,
  SqliteUserRepository,
} from './repositories';
import { SqliteScimClientRepository, SqliteScimGroupRepository, SqliteScimTokenRepository, SqliteScimUserRepository } from './scim';
import { SqliteSessionStore } from './session-store';

export { SqliteSessionStore } from './session-store';
export type { SqliteLocation } from './database';

export interface SqliteStoreOptions {
  logger?: Logger;
  /** How often expired replay/request-cache entries and sessions are deleted. 0 disables. Default one minute. */
  housekeepingIntervalMs?: number;
  /**
   * File databases: how often a background worker checkpoints the WAL (keeping fsyncs off the request path).
   * 0 leaves checkpoints to SQLite's automatic ones. Default one second.
   */
  checkpointIntervalMs?: number;
}

const DEFAULT_CHECKPOINT_MS = 1000;

const DEFAULT_HOUSEKEEPING_MS = 60_000;

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly tenants: TenantRepository;
  readonly connections: ConnectionRepository;
  readonly users: UserRepository;
  readonly identityLinks: IdentityLinkRepository;
  readonly groups: GroupRepository;
  readonly memberships: MembershipRepository;
  readonly events: EventRepository;
  readonly replayCache: OnceCache;
  readonly requestCache: ExpiringMap;
  readonly scimUsers: ScimUserRepository;
  readonly scimGroups: ScimGroupRepository;
  readonly scimTokens: ScimTokenRepository;
  readonly scimClients: ScimClientRepository;

  private readonly pingStatement: Database.Statement<[]>;
  private readonly purgeSessionsStatement: Database.Statement<[number]>;
  private housekeeping: NodeJS.Timeout | undefined;
  private closed = false;
  /** Set by openSqliteStore for file databases. */
  checkpointer: WalCheckpointer | null = null;

  constructor(
    /** The underlying connection, for sqlite-only tooling and tests. */
    readonly db: Database.Database,
    private readonly options: SqliteStoreOptions = {},
  ) {
    this.tenants = new SqliteTenantRepository(db);
    this.connections = new SqliteConnectionRepository(db);
    this.users = new SqliteUserRepository(db);
    this.identityLinks = new SqliteIdentityLinkRepository(db);
    this.groups = new SqliteGroupRepository(db);
    this.memberships = new SqliteMembershipRepository(db);
    const events = new SqliteEventRepository(db);
    this.events = events;
    this.replayCache = new SqliteOnceCache(db);
    this.requestCache = new SqliteExpiringMap(db);
    this.scimUsers = new SqliteScimUserRepository(db, events);
    this.scimGroups = new SqliteScimGroupRepository(db);
    this.scimTokens = new SqliteScimTokenRepository(db);
    this.scimClients = new SqliteScimClientRepository(db);
    this.pingStatement = db.prepare('SELECT 1');
    this.purgeSessionsStatement = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');

    const interval = options.housekeepingIntervalMs ?? DEFAULT_HOUSEKEEPING_MS;
    if (interval > 0) {
      this.housekeeping = setInterval(() => void this.purgeExpired(), interval);
      // Housekeeping must never keep the process (or a test run) alive.
      this.housekeeping.unref();
    }
  }

  createSessionStore(options: { ttlSeconds: number }): SqliteSessionStore {
    return new SqliteSessionStore(this.db, options);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new Error('The SQLite store is closed.');
    this.pingStatement.get();
  }

  /** Deletes expired cache entries and sessions. Runs on the housekeeping timer; callable directly. */
  async purgeExpired(now: Date = new Date()): Promise<{ replay: number; requests: number; sessions: number }> {
    if (this.closed) return { replay: 0, requests: 0, sessions: 0 };
    try {
      const replay = await this.replayCache.purgeExpired(now);
      const requests = await this.requestCache.purgeExpired(now);
      // Every session store of this database shares the one table, so one purge covers them all.
      const sessions = this.purgeSessionsStatement.run(now.getTime()).changes;
      return { replay, requests, sessions };
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'sqlite housekeeping failed');
      return { replay: 0, requests: 0, sessions: 0 };
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.housekeeping) clearInterval(this.housekeeping);
    this.db.close();
    await this.checkpointer?.close();
  }
}

/** Opens (creating and migrating as needed) a SQLite store. */
export function openSqliteStore(location: SqliteLocation, options: SqliteStoreOptions = {}): SqliteStore {
  const db = openSqliteDatabase(location);
  try {
    const applied = applyMigrations(db);
    if (applied.length > 0) {
      options.logger?.info(
        { migrations: applied.map((m) => m.version), database: location.kind === 'file' ? location.path : ':memory:' },
        'sqlite schema migrated',
      );
    }
    const store = new SqliteStore(db, options);
    const interval = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_MS;
    if (location.kind === 'file' && interval > 0) store.checkpointer = new WalCheckpointer(db, location.path, interval);
    return store;
  } catch (error) {
    db.close();
    throw error;
  }
}
