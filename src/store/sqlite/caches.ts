/**
 * The replay cache (OnceCache) and the request cache (ExpiringMap) on SQLite. Each operation is one statement, so it
 * is atomic both within this process and against other processes sharing the database file.
 * An entry is alive while expires_at > now; expired entries read as absent and are removed by purgeExpired().
 */
import type Database from 'better-sqlite3';
import type { ExpiringMap, OnceCache } from '../ports';

export class SqliteOnceCache implements OnceCache {
  private readonly claimStatement: Database.Statement<[{ key: string; expiresAt: number; now: number }]>;
  private readonly purgeStatement: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    // Inserts a new key, or takes over an expired one; a live key is left alone and changes stays 0.
    this.claimStatement = db.prepare(`
      INSERT INTO replay_cache (key, expires_at) VALUES (@key, @expiresAt)
      ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_cache.expires_at <= @now`);
    this.purgeStatement = db.prepare('DELETE FROM replay_cache WHERE expires_at <= ?');
  }

  async claim(key: string, expiresAt: Date): Promise<boolean> {
    return this.claimStatement.run({ key, expiresAt: expiresAt.getTime(), now: Date.now() }).changes === 1;
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }
}

export class SqliteExpiringMap implements ExpiringMap {
  private readonly putStatement: Database.Statement<[string, string, number]>;
  private readonly getStatement: Database.Statement<[string, number], { value: string }>;
  private readonly takeStatement: Database.Statement<[string], { value: string; expires_at: number }>;
  private readonly deleteStatement: Database.Statement<[string]>;
  private readonly purgeStatement: Database.Statement<[number]>;

  constructor(db: Database.Database) {
    this.putStatement = db.prepare(`
      INSERT INTO request_cache (key, value, expires_at) VALUES (?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`);
    this.getStatement = db.prepare('SELECT value FROM request_cache WHERE key = ? AND expires_at > ?');
    // Deleting whatever is there (live or expired) keeps the table clean; expiry is checked on the returned row.
    this.takeStatement = db.prepare('DELETE FROM request_cache WHERE key = ? RETURNING value, expires_at');
    this.deleteStatement = db.prepare('DELETE FROM request_cache WHERE key = ?');
    this.purgeStatement = db.prepare('DELETE FROM request_cache WHERE expires_at <= ?');
  }

  async put(key: string, value: string, expiresAt: Date): Promise<void> {
    this.putStatement.run(key, value, expiresAt.getTime());
  }

  async get(key: string): Promise<string | null> {
    return this.getStatement.get(key, Date.now())?.value ?? null;
  }

  async take(key: string): Promise<string | null> {
    const row = this.takeStatement.get(key);
    return row && row.expires_at > Date.now() ? row.value : null;
  }

  async delete(key: string): Promise<void> {
    this.deleteStatement.run(key);
  }

  async purgeExpired(now: Date = new Date()): Promise<number> {
    return this.purgeStatement.run(now.getTime()).changes;
  }
}
