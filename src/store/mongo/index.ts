/**
 * The MongoDB store: every repository of ports.ts through mongoose, on a Connection of its own. Uniqueness comes from
 * unique indexes created at open; idempotency from single-document upserts. No multi-document transactions, so a
 * plain replica set (or a standalone server in development) is enough.
 */
import mongoose, { type Connection } from 'mongoose';
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
import { bindModels, ensureIndexes, type MongoModels } from './models';
import { createMongoRepositories } from './repositories';
import { createMongoScimRepositories } from './scim';
import { ensureSessionIndexes, MongoSessionStore } from './session-store';

export { MongoSessionStore } from './session-store';

export interface MongoStoreOptions {
  logger?: Logger;
  /** Overrides the database named in the URI (tests use one database per run). */
  dbName?: string;
  /** How long to look for a server before failing (mongoose default 30 s). */
  serverSelectionTimeoutMS?: number;
}

export class MongoStore implements Store {
  readonly kind = 'mongo' as const;
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
  private closed = false;

  constructor(
    /** This store's own mongoose connection (never mongoose's global default). */
    readonly connection: Connection,
    /** Its models, bound once (a second bind of the same names would throw OverwriteModelError). */
    readonly models: MongoModels = bindModels(connection),
  ) {
    const repositories = createMongoRepositories(models);
    this.tenants = repositories.tenants;
    this.connections = repositories.connections;
    this.users = repositories.users;
    this.identityLinks = repositories.identityLinks;
    this.groups = repositories.groups;
    this.memberships = repositories.memberships;
    this.events = repositories.events;
    this.replayCache = repositories.replayCache;
    this.requestCache = repositories.requestCache;
    const scim = createMongoScimRepositories(models, repositories);
    this.scimUsers = scim.scimUsers;
    this.scimGroups = scim.scimGroups;
    this.scimTokens = scim.scimTokens;
    this.scimClients = scim.scimClients;
  }

  /** The database this store works in. */
  get databaseName(): string {
    return this.connection.name;
  }

  createSessionStore(options: { ttlSeconds: number }): MongoSessionStore {
    return new MongoSessionStore({ client: this.connection.getClient(), dbName: this.databaseName, ttlSeconds: options.ttlSeconds });
  }

  async ping(): Promise<void> {
    const db = this.connection.db;
    if (this.closed || !db) throw new Error('The MongoDB store is not connected.');
    await db.command({ ping: 1 });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connection.close();
  }
}

/** Connects, creates the indexes the store's rules depend on, and returns the store. */
export async function openMongoStore(uri: string, options: MongoStoreOptions = {}): Promise<MongoStore> {
  const connection = mongoose.createConnection(uri, {
    dbName: options.dbName,
    // Indexes are created explicitly below, before the store is handed out, rather than lazily in the background.
    autoIndex: false,
    // Fail fast instead of queueing operations while disconnected: /readyz and callers should see the outage.
    bufferCommands: false,
    ...(options.serverSelectionTimeoutMS !== undefined ? { serverSelectionTimeoutMS: options.serverSelectionTimeoutMS } : {}),
  });
  try {
    await connection.asPromise();
    const store = new MongoStore(connection);
    await ensureIndexes(store.models);
    await ensureSessionIndexes(connection.getClient(), store.databaseName);
    options.logger?.info({ database: store.databaseName }, 'mongodb store ready');
    return store;
  } catch (error) {
    await connection.close().catch(() => undefined);
    throw error;
  }
}
