/** Background WAL checkpoints on a SQLite file store: commits only append to the WAL; a worker copies it back. */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openSqliteStore } from '../../src/store/sqlite';
import { SAFETY_AUTOCHECKPOINT_PAGES } from '../../src/store/sqlite/checkpointer';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('WAL checkpointer', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-wal-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function fill(file: string, checkpointIntervalMs: number) {
    const store = openSqliteStore({ kind: 'file', path: file }, { checkpointIntervalMs, housekeepingIntervalMs: 0 });
    const tenant = await store.tenants.create({ slug: 't', name: 'T', domains: [] });
    const before = statSync(file).size;
    for (let i = 0; i < 500; i++) {
      await store.users.create({ tenantId: tenant.id, username: `u${i}`, usernameKey: `u${i}`, email: null, givenName: null, familyName: null, displayName: 'x'.repeat(200), fullName: 'u', active: true });
    }
    return { store, before };
  }

  it('copies committed pages into the database file in the background, off the writing thread', async () => {
    const file = path.join(dir, 'bg.db');
    const { store, before } = await fill(file, 100);
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(SAFETY_AUTOCHECKPOINT_PAGES);
    // The writes are in the WAL; nothing on this thread has checkpointed them yet.
    expect(statSync(file).size).toBe(before);
    await sleep(600);
    expect(statSync(file).size).toBeGreaterThan(before + 100_000);
    await store.close();
    // A re-open sees every row.
    const again = openSqliteStore({ kind: 'file', path: file }, { checkpointIntervalMs: 0, housekeepingIntervalMs: 0 });
    expect((await again.users.listByTenant((await again.tenants.findBySlug('t'))!.id, { offset: 0, limit: 1 })).total).toBe(500);
    await again.close();
  });

  it('is off with checkpointIntervalMs 0 (SQLite checkpoints by itself) and for memory stores', async () => {
    const file = path.join(dir, 'fg.db');
    const { store, before } = await fill(file, 0);
    await sleep(300);
    expect(store.checkpointer).toBeNull();
    expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(statSync(file).size).toBe(before);
    await store.close();
    const memory = openSqliteStore({ kind: 'memory' }, { housekeepingIntervalMs: 0 });
    expect(memory.checkpointer).toBeNull();
    await memory.close();
  });
});
