/**
 * express-session store on the Gatehouse SQLite database. Sessions live in the `sessions` table with the passport
 * user id in its own indexed column, so every session of a user can be revoked at once (account disabled, admin
 * "sign out everywhere").
 */
import type Database from 'better-sqlite3';
import session, { type SessionData } from 'express-session';

export interface SqliteSessionStoreOptions {
  /** Lifetime of a session whose cookie has no expiry (a browser-session cookie). */
  ttlSeconds: number;
}

type Callback = (error?: unknown) => void;

/** passport keeps the serialised user under session.passport.user; Gatehouse serialises the user id (a string). */
export function sessionUserId(data: SessionData): string | null {
  const passport = (data as SessionData & { passport?: { user?: unknown } }).passport;
  return typeof passport?.user === 'string' ? passport.user : null;
}

export class SqliteSessionStore extends session.Store {
  private readonly ttlMs: number;
  private readonly getStatement: Database.Statement<[string, number], { data: string }>;
  private readonly allStatement: Database.Statement<[number], { sid: string; data: string }>;
  private readonly upsertStatement: Database.Statement<[string, string | null, string, number]>;
  private readonly touchStatement: Database.Statement<[number, string, number]>;
  private readonly destroyStatement: Database.Statement<[string]>;
  private readonly destroyByUserStatement: Database.Statement<[string]>;
  private readonly destroyByUserAndConnectionStatement: Database.Statement<[string, string]>;
  private readonly clearStatement: Database.Statement<[]>;
  private readonly lengthStatement: Database.Statement<[number], { total: number }>;
  private readonly purgeStatement: Database.Statement<[number]>;

  constructor(db: Database.Database, options: SqliteSessionStoreOptions) {
    super();
    if (!(options.ttlSeconds > 0)) throw new RangeError('ttlSeconds must be a positive number.');
    this.ttlMs = options.ttlSeconds * 1000;
    this.getStatement = db.prepare('SELECT data FROM sessions WHERE sid = ? AND expires_at > ?');
    this.allStatement = db.prepare('SELECT sid, data FROM sessions WHERE expires_at > ? ORDER BY sid');
    this.upsertStatement = db.prepare(`
      INSERT INTO sessions (sid, user_id, data, expires_at) VALUES (?, ?, ?, ?)
      ON CONFLICT (sid) DO UPDATE SET user_id = excluded.user_id, data = excluded.data, expires_at = excluded.expires_at`);
    // An expired session is not brought back to life by a touch.
    this.touchStatement = db.prepare('UPDATE sessions SET expires_at = ? WHERE sid = ? AND expires_at > ?');
    this.destroyStatement = db.prepare('DELETE FROM sessions WHERE sid = ?');
    this.destroyByUserStatement = db.prepare('DELETE FROM sessions WHERE user_id = ?');
    // The user_id index narrows to one user's few sessions; the connection is read from their JSON.
    this.destroyByUserAndConnectionStatement = db.prepare(
      "DELETE FROM sessions WHERE user_id = ? AND json_extract(data, '$.connectionId') = ?",
    );
    this.clearStatement = db.prepare('DELETE FROM sessions');
    this.lengthStatement = db.prepare('SELECT count(*) AS total FROM sessions WHERE expires_at > ?');
    this.purgeStatement = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  }

  override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
    this.respond(callback, () => {
      const row = this.getStatement.get(sid, Date.now());
      return row ? (JSON.parse(row.data) as SessionData) : null;
    });
  }

  override set(sid: string, data: SessionData, callback?: Callback): void {
    this.respond(callback, () => {
      this.upsertStatement.run(sid, sessionUserId(data), JSON.stringify(data), this.expiresAt(data));
    });
  }

  override touch(sid: string, data: SessionData, callback?: Callback): void {
    this.respond(callback, () => {
      const now = Date.now();
      this.touchStatement.run(this.expiresAt(data, now), sid, now);
    });
  }

  override destroy(sid: string, callback?: Callback): void {
    this.respond(callback, () => {
      this.destroyStatement.run(sid);
    });
  }

  override clear(callback?: Callback): void {
    this.respond(callback, () => {
      this.clearStatement.run();
    });
  }

  override length(callback: (error: unknown, length?: number) => void): void {
    this.respond(callback, () => this.lengthStatement.get(Date.now())!.total);
  }

  override all(callback: (error: unknown, sessions?: SessionData[] | { [sid: string]: SessionData } | null) => void): void {
    this.respond(callback, () => {
      const sessions: { [sid: string]: SessionData } = {};
      for (const row of this.allStatement.all(Date.now())) sessions[row.sid] = JSON.parse(row.data) as SessionData;
      return sessions;
    });
  }

  /** Signs a user out everywhere (or of the sessions one connection started). Returns how many sessions were removed. */
  async destroyByUser(userId: string, options: { connectionId?: string } = {}): Promise<number> {
    if (options.connectionId !== undefined) return this.destroyByUserAndConnectionStatement.run(userId, options.connectionId).changes;
    return this.destroyByUserStatement.run(userId).changes;
  }

  /** Deletes sessions whose expiry has passed (they already read as absent). Returns how many. */
  async purgeExpired(now: Date = new Date()): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }

  private expiresAt(data: SessionData, now = Date.now()): number {
    const cookieExpiry = data.cookie?.expires;
    if (cookieExpiry) {
      const ms = new Date(cookieExpiry).getTime();
      if (!Number.isNaN(ms)) return ms;
    }
    return now + this.ttlMs;
  }

  /** Runs a synchronous operation and reports through express-session's callback style, never throwing. */
  private respond<T>(callback: ((error: unknown, result?: T) => void) | undefined, operation: () => T): void {
    let result: T;
    try {
      result = operation();
    } catch (error) {
      if (callback) process.nextTick(callback, error);
      return;
    }
    if (callback) process.nextTick(callback, null, result);
  }
}
