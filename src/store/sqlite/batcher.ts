/**
 * Group commit for SQLite writes. Each write is a synchronous function; the writes queued during one turn of the
 * event loop run in one transaction, each inside its own SAVEPOINT, so one failing write (a unique-key conflict)
 * rolls back only itself. Every caller's promise settles after the COMMIT, so nothing is acknowledged before it is
 * durable. Under concurrent load (a SCIM sync) this turns N commits into one; alone, it costs one setImmediate hop.
 */
import type Database from 'better-sqlite3';

interface Queued {
  run: () => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

export class WriteBatcher {
  private queue: Queued[] = [];
  private scheduled = false;
  private readonly begin: Database.Statement;
  private readonly commit: Database.Statement;
  private readonly rollback: Database.Statement;
  private readonly savepoint: Database.Statement;
  private readonly release: Database.Statement;
  private readonly rollbackTo: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    this.savepoint = db.prepare('SAVEPOINT batched_write');
    this.release = db.prepare('RELEASE batched_write');
    this.rollbackTo = db.prepare('ROLLBACK TO batched_write');
  }

  /** Runs `write` (synchronous; it may use db.transaction, which nests as a savepoint) in the next group commit. */
  run<T>(write: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: write, resolve: resolve as (value: unknown) => void, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const results: { ok: boolean; value: unknown }[] = [];
    let started = false;
    try {
      this.begin.run();
      started = true;
      for (const op of batch) {
        this.savepoint.run();
        try {
          results.push({ ok: true, value: op.run() });
        } catch (error) {
          this.rollbackTo.run();
          results.push({ ok: false, value: error });
        }
        this.release.run();
      }
      this.commit.run();
    } catch (error) {
      // Roll back only a transaction this flush began (never someone else's).
      if (started && this.db.open && this.db.inTransaction) this.rollback.run();
      for (const op of batch) op.reject(error);
      return;
    }
    batch.forEach((op, index) => {
      const result = results[index]!;
      if (result.ok) op.resolve(result.value);
      else op.reject(result.value);
    });
  }
}

const batchers = new WeakMap<Database.Database, WriteBatcher>();

/** The one batcher of a connection (every repository on it shares the group commit). */
export function batcherFor(db: Database.Database): WriteBatcher {
  let batcher = batchers.get(db);
  if (!batcher) {
    batcher = new WriteBatcher(db);
    batchers.set(db, batcher);
  }
  return batcher;
}
