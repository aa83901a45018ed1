/**
 * express-session store on MongoDB: connect-mongo on the store's own MongoClient, plus per-user revocation.
 * connect-mongo keeps {_id: sid, session, expires} documents with a TTL index on `expires`; with stringify: false the
 * session is a sub-document, so passport's user id is queryable at session.passport.user.
 */
import type { Collection, Document, MongoClient } from 'mongodb';
import { MongoStore } from 'connect-mongo';
import { COLLECTIONS } from './models';
import { expiredSessions, sessionsOfUser, SESSION_USER_PATH } from './queries';

export interface MongoSessionStoreOptions {
  /** The store's client (mongoose Connection#getClient()); closing it is the store's job, not this class's. */
  client: MongoClient;
  /** The database the store uses (the mongoose connection's), which may differ from the URI's default. */
  dbName: string;
  /** Lifetime of a session whose cookie has no expiry. */
  ttlSeconds: number;
}

export class MongoSessionStore extends MongoStore {
  private readonly sessions: Collection<Document>;

  constructor(options: MongoSessionStoreOptions) {
    if (!(options.ttlSeconds > 0)) throw new RangeError('ttlSeconds must be a positive number.');
    super({
      client: options.client,
      dbName: options.dbName,
      collectionName: COLLECTIONS.sessions,
      ttl: options.ttlSeconds,
      stringify: false,
      autoRemove: 'native',
    });
    // An untyped handle on the same collection, for the queries connect-mongo has no method for.
    this.sessions = options.client.db(options.dbName).collection(COLLECTIONS.sessions);
  }

  /** Signs a user out everywhere (or of the sessions one connection started). Returns how many sessions were removed. */
  async destroyByUser(userId: string, options: { connectionId?: string } = {}): Promise<number> {
    return (await this.sessions.deleteMany(sessionsOfUser(userId, options.connectionId))).deletedCount;
  }

  /** Deletes expired sessions now instead of waiting for the TTL monitor. Returns how many. */
  async purgeExpired(now: Date = new Date()): Promise<number> {
    return (await this.sessions.deleteMany(expiredSessions(now))).deletedCount;
  }

  /** The mongoose connection owns the client: closing a session store must not close it under the other repositories. */
  override async close(): Promise<void> {}
}

/** Index for destroyByUser, created once at store open. */
export async function ensureSessionIndexes(client: MongoClient, dbName: string): Promise<void> {
  await client
    .db(dbName)
    .collection(COLLECTIONS.sessions)
    .createIndex({ [SESSION_USER_PATH]: 1 }, { name: 'session_user', sparse: true });
}
