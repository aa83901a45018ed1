/** The storage contract on SQLite, plus what only SQLite has: migrations, files, URL parsing. */
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ValidationError } from '../../src/common/errors';
import { openStore, parseDatabaseUrl } from '../../src/store';
import { SqliteSessionStore, SqliteStore } from '../../src/store/sqlite';
import { applyMigrations, listAppliedMigrations, MIGRATIONS } from '../../src/store/sqlite/migrations';
import { runStoreContract, sampleIdp, sampleSettings } from './contract';
import { runMatchingContract } from './matching-contract';
import { runScimContract } from './scim-contract';
import { userWhere } from '../../src/store/sqlite/scim-filter';
import type { UserQuery } from '../../src/scim/query';

runStoreContract('sqlite (:memory:)', () => openStore('sqlite::memory:'));
runMatchingContract('sqlite (:memory:)', () => openStore('sqlite::memory:'));
runScimContract('sqlite (:memory:)', () => openStore('sqlite::memory:'));

describe('sqlite adapter', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'gatehouse-store-'));
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('records every migration once and re-opens a file database without re-applying them', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'gatehouse.db');
    const first = (await openStore(`sqlite:${file}`)) as SqliteStore;
    expect(existsSync(file)).toBe(true);
    const applied = listAppliedMigrations(first.db);
    expect(applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(applied[0].appliedAt).toBeInstanceOf(Date);
    expect(first.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(first.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(first.db.pragma('busy_timeout', { simple: true })).toBe(5000);
    // 2 = MEMORY: savepoint and statement journals never spill to temporary files (a 3x slower insert).
    expect(first.db.pragma('temp_store', { simple: true })).toBe(2);
    await first.close();

    const second = (await openStore(`sqlite:${file}`)) as SqliteStore;
    expect(listAppliedMigrations(second.db)).toEqual(applied);
    // Applying again is a no-op.
    expect(applyMigrations(second.db)).toEqual([]);
    await second.close();
  });

  it('applies only the migrations newer than the database, each recorded with its name', () => {
    const db = new Database(':memory:');
    try {
      const extra = { version: MIGRATIONS.length + 1, name: 'add a column', sql: 'ALTER TABLE tenants ADD COLUMN note TEXT' };
      expect(applyMigrations(db).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(applyMigrations(db, [...MIGRATIONS, extra])).toEqual([extra]);
      expect(listAppliedMigrations(db).at(-1)).toMatchObject({ version: extra.version, name: 'add a column' });
      const columns = db.prepare<[], { name: string }>('PRAGMA table_info(tenants)').all().map((c) => c.name);
      expect(columns).toContain('note');
    } finally {
      db.close();
    }
  });

  it('rolls a failing migration back entirely and leaves the version where it was', () => {
    const db = new Database(':memory:');
    try {
      applyMigrations(db);
      const broken = {
        version: MIGRATIONS.length + 1,
        name: 'broken',
        sql: 'CREATE TABLE half_done (id TEXT); INSERT INTO no_such_table VALUES (1);',
      };
      expect(() => applyMigrations(db, [...MIGRATIONS, broken])).toThrow(/no_such_table/);
      expect(listAppliedMigrations(db).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name = 'half_done'").get()).toBeUndefined();
    } finally {
      db.close();
    }
  });

  it('refuses a database migrated by a newer Gatehouse', () => {
    const db = new Database(':memory:');
    try {
      applyMigrations(db);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(99, 'future', Date.now());
      expect(() => applyMigrations(db)).toThrow(/newer than this Gatehouse build knows/);
    } finally {
      db.close();
    }
  });

  it('keeps data in a file database across close and re-open', async () => {
    const file = path.join(dir, 'persist.db');
    const first = await openStore(`sqlite:${file}`);
    const tenant = await first.tenants.create({ slug: 'contoso', name: 'Contoso', domains: ['contoso.com'] });
    const connection = await first.connections.create({
      tenantId: tenant.id,
      slug: 'entra',
      name: 'Entra',
      spEntityId: 'https://gatehouse.test/sso/entra/metadata',
      idp: sampleIdp(),
      settings: sampleSettings(),
    });
    await first.replayCache.claim('entra:_abc', new Date(Date.now() + 60_000));
    await first.close();

    const second = await openStore(`sqlite:${file}`);
    expect(await second.tenants.findBySlug('contoso')).toEqual(tenant);
    expect(await second.connections.findById(connection.id)).toEqual(connection);
    // The replay cache is shared through the file too: a replay after a restart is still caught.
    expect(await second.replayCache.claim('entra:_abc', new Date(Date.now() + 60_000))).toBe(false);
    await second.close();
  });

  it('shares the replay cache between two stores on one file (two Gatehouse processes)', async () => {
    const file = path.join(dir, 'shared.db');
    const a = await openStore(`sqlite:${file}`);
    const b = await openStore(`sqlite:${file}`);
    try {
      const expires = new Date(Date.now() + 60_000);
      const results = await Promise.all([a.replayCache.claim('k', expires), b.replayCache.claim('k', expires)]);
      expect(results.filter(Boolean)).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('refuses a user of a tenant that does not exist (foreign keys are on)', async () => {
    const store = await openStore('sqlite::memory:');
    try {
      await expect(
        store.users.create({
          tenantId: 'no-such-tenant',
          username: 'ada',
          usernameKey: 'ada',
          email: null,
          givenName: null,
          familyName: null,
          displayName: null,
          fullName: 'ada',
          active: true,
        }),
      ).rejects.toBeInstanceOf(ValidationError);
    } finally {
      await store.close();
    }
  });

  it('gives each in-memory store its own database', async () => {
    const a = await openStore('sqlite::memory:');
    const b = await openStore('sqlite::memory:');
    await a.tenants.create({ slug: 'only-in-a', name: 'A', domains: [] });
    expect(await b.tenants.findBySlug('only-in-a')).toBeNull();
    await a.close();
    await b.close();
  });

  it('session store: records the passport user id and takes its ttl when the cookie has no expiry', async () => {
    const store = (await openStore('sqlite::memory:')) as SqliteStore;
    try {
      const sessions = store.createSessionStore({ ttlSeconds: 120 });
      expect(sessions).toBeInstanceOf(SqliteSessionStore);
      const before = Date.now();
      await new Promise<void>((resolve, reject) =>
        sessions.set('sid-1', { cookie: { originalMaxAge: null }, passport: { user: 'u-1' } } as never, (e) => (e ? reject(e) : resolve())),
      );
      const row = store.db.prepare<[], { user_id: string; expires_at: number }>("SELECT user_id, expires_at FROM sessions WHERE sid = 'sid-1'").get();
      expect(row?.user_id).toBe('u-1');
      expect(row!.expires_at).toBeGreaterThanOrEqual(before + 120_000);
      expect(row!.expires_at).toBeLessThanOrEqual(Date.now() + 120_000);
      expect(() => store.createSessionStore({ ttlSeconds: 0 })).toThrow(RangeError);
    } finally {
      await store.close();
    }
  });

  it('housekeeping purges expired rows of every cache', async () => {
    const store = (await openStore('sqlite::memory:')) as SqliteStore;
    try {
      const past = new Date(Date.now() - 1000);
      await store.replayCache.claim('r', past);
      await store.requestCache.put('q', 'v', past);
      store.db.prepare('INSERT INTO sessions (sid, user_id, data, expires_at) VALUES (?, ?, ?, ?)').run('s', null, '{}', past.getTime());
      expect(await store.purgeExpired()).toEqual({ replay: 1, requests: 1, sessions: 1 });
      await store.close();
      expect(await store.purgeExpired()).toEqual({ replay: 0, requests: 0, sessions: 0 });
    } finally {
      await store.close();
    }
  });
});

describe('sqlite query plans', () => {
  it('every per-user membership statement seeks by the primary key, never scans a whole source', async () => {
    const db = new Database(':memory:');
    applyMigrations(db);
    const statements: string[] = [];
    const prepare = db.prepare.bind(db);
    (db as unknown as { prepare: (sql: string) => unknown }).prepare = (sql: string) => {
      statements.push(sql);
      return prepare(sql);
    };
    const store = new SqliteStore(db, { housekeepingIntervalMs: 0 });
    try {
      const perUser = statements.filter((sql) => /FROM memberships\b/.test(sql) && /\buser_id = \?/.test(sql) && !/@/.test(sql));
      expect(perUser.length).toBeGreaterThanOrEqual(3);
      for (const sql of perUser) {
        const params = Array.from(sql.matchAll(/\?/g), () => 'x');
        const plan = prepare(`EXPLAIN QUERY PLAN ${sql}`)
          .all(...params)
          .map((row) => (row as { detail: string }).detail)
          .join('; ');
        expect({ sql, plan }).toEqual({ sql, plan: expect.stringMatching(/USING (COVERING INDEX sqlite_autoindex|PRIMARY KEY)[^;]*user_id=\?/) });
      }
    } finally {
      await store.close();
    }
  });
});

describe('sqlite SCIM filter plans', () => {
  it.each(['username', 'scim'] as const)('userName eq seeks an index (userName key: %s), never walks the tenant', (userNameKey) => {
    const db = new Database(':memory:');
    try {
      applyMigrations(db);
      const filter = { kind: 'and', children: [
        { kind: 'compare', field: 'userName', op: 'eq', value: 'alice@contoso.com', normalisedKey: true },
        { kind: 'compare', field: 'active', op: 'eq', value: true },
      ] } as unknown as UserQuery;
      const where = userWhere({ tenantId: 't', connectionId: 'c', userNameKey }, filter);
      const plan = db
        .prepare(`EXPLAIN QUERY PLAN SELECT u.id FROM users u WHERE ${where.sql}`)
        .all(...where.params)
        .map((row) => (row as { detail: string }).detail);
      expect(plan.every((step) => !/^SCAN|\(tenant_id=\?\)$/.test(step))).toBe(true);
      expect(plan.join(' | ')).toMatch(/USING INDEX users_tenant_username_key \(tenant_id=\? AND username_key=\?\)/);
      if (userNameKey === 'scim') expect(plan.join(' | ')).toMatch(/users_tenant_scim_user_name_key \(tenant_id=\? AND scim_user_name_key=\?\)/);
    } finally {
      db.close();
    }
  });
});

describe('parseDatabaseUrl / openStore', () => {
  it('accepts the documented forms', () => {
    expect(parseDatabaseUrl('sqlite::memory:')).toEqual({ kind: 'sqlite', location: { kind: 'memory' } });
    expect(parseDatabaseUrl('sqlite:./data/gatehouse.db')).toEqual({
      kind: 'sqlite',
      location: { kind: 'file', path: path.resolve('data/gatehouse.db') },
    });
    expect(parseDatabaseUrl('sqlite:/var/lib/gatehouse/g.db')).toEqual({ kind: 'sqlite', location: { kind: 'file', path: '/var/lib/gatehouse/g.db' } });
    expect(parseDatabaseUrl('mongodb://db1:27017,db2:27017/gatehouse?replicaSet=rs0')).toEqual({
      kind: 'mongo',
      uri: 'mongodb://db1:27017,db2:27017/gatehouse?replicaSet=rs0',
    });
    expect(parseDatabaseUrl('mongodb+srv://user:pw@cluster0.example.net/gatehouse').kind).toBe('mongo');
  });

  it.each(['postgres://localhost/db', 'sqlite:', 'mysql:x', '', 'mongodb://', 'sqlite://host/file.db', './data/gatehouse.db'])(
    'refuses %j with a ValidationError naming DATABASE_URL',
    (url) => {
      expect(() => parseDatabaseUrl(url)).toThrow(ValidationError);
      expect(() => parseDatabaseUrl(url)).toThrow(/DATABASE_URL/);
    },
  );

  it('never echoes a password in the error', () => {
    expect(() => parseDatabaseUrl('redis://admin:hunter2@cache/0')).toThrow(/\/\/\*\*\*@cache/);
    expect(() => parseDatabaseUrl('redis://admin:hunter2@cache/0')).not.toThrow(/hunter2/);
  });

  it('openStore rejects an unsupported URL', async () => {
    await expect(openStore('oracle://db')).rejects.toBeInstanceOf(ValidationError);
  });
});
