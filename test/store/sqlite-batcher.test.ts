/** Group commit: writes queued in one turn share a transaction; a failing one rolls back alone. */
import Database from 'better-sqlite3';
import { batcherFor, WriteBatcher } from '../../src/store/sqlite/batcher';

describe('WriteBatcher', () => {
  let db: Database.Database;
  beforeEach(() => {
    db = new Database(':memory:');
    db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER)');
  });
  afterEach(() => db.close());

  it('runs the writes of one turn in one transaction, isolating a failing write', async () => {
    const batcher = new WriteBatcher(db);
    const insert = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const commits: number[] = [];
    db.function('probe', () => (commits.push(db.inTransaction ? 1 : 0), 1));
    const nested = db.transaction((k: string) => {
      insert.run(`${k}-1`, 1);
      insert.run(`${k}-2`, 2);
    });
    const results = await Promise.allSettled([
      batcher.run(() => insert.run('a', 1).changes),
      batcher.run(() => {
        insert.run('b', 1);
        insert.run('a', 2); // conflict: b must be rolled back with it
      }),
      batcher.run(() => nested('n')),
      batcher.run(() => db.prepare('SELECT probe() AS p').get()),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'SQLITE_CONSTRAINT_PRIMARYKEY' });
    expect(db.prepare('SELECT k FROM t ORDER BY k').all().map((r) => (r as { k: string }).k)).toEqual(['a', 'n-1', 'n-2']);
    expect(commits).toEqual([1]);
    expect(db.inTransaction).toBe(false);
  });

  it('settles only after the commit, and rejects every write when the transaction cannot start', async () => {
    const batcher = batcherFor(db);
    expect(batcherFor(db)).toBe(batcher);
    let sawCommitted = false;
    const done = batcher.run(() => db.prepare("INSERT INTO t VALUES ('x', 1)").run()).then(() => {
      sawCommitted = !db.inTransaction && db.prepare("SELECT count(*) AS n FROM t WHERE k = 'x'").get() !== undefined;
    });
    await done;
    expect(sawCommitted).toBe(true);
    db.exec('BEGIN');
    // better-sqlite3's SqliteError belongs to the realm that loaded the addon first, so match its shape, not its class.
    await expect(batcher.run(() => 1)).rejects.toMatchObject({ message: expect.stringMatching(/transaction/) });
    db.exec('ROLLBACK');
  });
});
