/**
 * Versioned schema migrations for the SQLite adapter. Append new migrations to the end of MIGRATIONS; never edit
 * or reorder one that has shipped. Each runs in its own transaction together with its schema_migrations row, so a
 * failed migration leaves the database at the previous version and re-opening is always safe.
 *
 * Conventions: ids are TEXT UUIDs, every timestamp is INTEGER epoch milliseconds (exact round-trip, cheap range
 * scans), JSON documents are TEXT.
 */
import type Database from 'better-sqlite3';
import { foldCase } from '../../scim/query';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE tenants (
        id          TEXT PRIMARY KEY,
        slug        TEXT NOT NULL UNIQUE,
        name        TEXT NOT NULL,
        domains     TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL
      );

      CREATE TABLE connections (
        id            TEXT PRIMARY KEY,
        tenant_id     TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        slug          TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        sp_entity_id  TEXT NOT NULL,
        idp           TEXT NOT NULL,
        settings      TEXT NOT NULL,
        version       INTEGER NOT NULL DEFAULT 1,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );
      CREATE INDEX connections_tenant ON connections (tenant_id);

      CREATE TABLE users (
        id             TEXT PRIMARY KEY,
        tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        username       TEXT NOT NULL,
        -- Computed by the caller (NFC + full Unicode case folding); the database only enforces its uniqueness.
        username_key   TEXT NOT NULL,
        email          TEXT,
        given_name     TEXT,
        family_name    TEXT,
        display_name   TEXT,
        full_name      TEXT NOT NULL,
        active         INTEGER NOT NULL,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL,
        last_login_at  INTEGER
      );
      CREATE UNIQUE INDEX users_tenant_username_key ON users (tenant_id, username_key);
      CREATE INDEX users_tenant_created ON users (tenant_id, created_at, id);

      CREATE TABLE identity_links (
        connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        subject        TEXT NOT NULL,
        user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at     INTEGER NOT NULL,
        PRIMARY KEY (connection_id, subject)
      ) WITHOUT ROWID;
      CREATE INDEX identity_links_user ON identity_links (user_id);

      CREATE TABLE groups (
        id             TEXT PRIMARY KEY,
        tenant_id      TEXT NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        external_id    TEXT NOT NULL,
        display_name   TEXT NOT NULL,
        name_resolved  INTEGER NOT NULL,
        created_at     INTEGER NOT NULL,
        updated_at     INTEGER NOT NULL
      );
      CREATE UNIQUE INDEX groups_tenant_external_id ON groups (tenant_id, external_id);
      CREATE INDEX groups_tenant_created ON groups (tenant_id, created_at, id);

      CREATE TABLE memberships (
        user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        group_id    TEXT NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        source      TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        PRIMARY KEY (user_id, group_id, source)
      ) WITHOUT ROWID;
      CREATE INDEX memberships_group ON memberships (group_id);

      -- No foreign keys: the provisioning log outlives the connections and tenants it mentions.
      CREATE TABLE events (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        id             TEXT NOT NULL UNIQUE,
        tenant_id      TEXT,
        connection_id  TEXT,
        channel        TEXT NOT NULL,
        type           TEXT NOT NULL,
        outcome        TEXT NOT NULL,
        subject        TEXT,
        reason         TEXT,
        details        TEXT NOT NULL,
        at             INTEGER NOT NULL
      );
      CREATE INDEX events_connection_at ON events (connection_id, at);
      CREATE INDEX events_tenant_at ON events (tenant_id, at);
      CREATE INDEX events_at ON events (at);

      CREATE TABLE replay_cache (
        key         TEXT PRIMARY KEY,
        expires_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX replay_cache_expires ON replay_cache (expires_at);

      CREATE TABLE request_cache (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX request_cache_expires ON request_cache (expires_at);

      CREATE TABLE sessions (
        sid         TEXT PRIMARY KEY,
        -- passport's serialised user id, so every session of a user can be revoked at once.
        user_id     TEXT,
        data        TEXT NOT NULL,
        expires_at  INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX sessions_user ON sessions (user_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);
    `,
  },
  {
    version: 2,
    name: 'scim: versions, case-folded filter columns, SCIM ownership, emails, tokens and OAuth clients',
    // gh_fold (registered by applyMigrations) is the Unicode lower-casing SCIM filters compare with; SQLite's
    // lower() folds ASCII only. The repositories fill the *_fold columns in code on every write.
    sql: `
      ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE users ADD COLUMN display_name_fold TEXT;
      ALTER TABLE users ADD COLUMN given_name_fold TEXT;
      ALTER TABLE users ADD COLUMN family_name_fold TEXT;
      ALTER TABLE users ADD COLUMN email_fold TEXT;
      -- The connection whose SCIM client owns the account (NULL: none, e.g. a JIT account).
      ALTER TABLE users ADD COLUMN scim_connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL;
      ALTER TABLE users ADD COLUMN scim_external_id TEXT;
      ALTER TABLE users ADD COLUMN scim_user_name_key TEXT;
      ALTER TABLE users ADD COLUMN scim_employee_number_fold TEXT;
      ALTER TABLE users ADD COLUMN scim_resource TEXT;
      -- Set by a SCIM soft delete (the account is hidden from SCIM until a POST relinks it).
      ALTER TABLE users ADD COLUMN scim_deleted_at INTEGER;
      UPDATE users SET display_name_fold = gh_fold(display_name), given_name_fold = gh_fold(given_name),
                       family_name_fold = gh_fold(family_name), email_fold = gh_fold(email);
      CREATE INDEX users_tenant_scim_external_id ON users (tenant_id, scim_external_id);

      CREATE TABLE scim_user_emails (
        user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        position    INTEGER NOT NULL,
        value_fold  TEXT,
        type_fold   TEXT,
        is_primary  INTEGER NOT NULL,
        PRIMARY KEY (user_id, position)
      ) WITHOUT ROWID;
      CREATE INDEX scim_user_emails_value ON scim_user_emails (value_fold);

      ALTER TABLE groups ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE groups ADD COLUMN display_name_fold TEXT;
      ALTER TABLE groups ADD COLUMN scim_connection_id TEXT REFERENCES connections(id) ON DELETE SET NULL;
      -- What the SCIM client sent as externalId (NULL: none; external_id then holds an internal value).
      ALTER TABLE groups ADD COLUMN scim_external_id TEXT;
      ALTER TABLE groups ADD COLUMN scim_deleted_at INTEGER;
      UPDATE groups SET display_name_fold = gh_fold(display_name);
      CREATE INDEX groups_tenant_display_name ON groups (tenant_id, display_name_fold);
      CREATE INDEX memberships_source_group ON memberships (source, group_id);

      CREATE TABLE scim_tokens (
        id             TEXT PRIMARY KEY,
        connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        tenant_id      TEXT NOT NULL,
        kind           TEXT NOT NULL,
        hash           TEXT NOT NULL UNIQUE,
        prefix         TEXT NOT NULL,
        client_id      TEXT,
        created_at     INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        last_used_at   INTEGER,
        revoked_at     INTEGER,
        alerts_sent    TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX scim_tokens_connection ON scim_tokens (connection_id, kind, created_at);
      CREATE INDEX scim_tokens_expiry ON scim_tokens (kind, expires_at);

      CREATE TABLE scim_clients (
        id             TEXT PRIMARY KEY,
        connection_id  TEXT NOT NULL REFERENCES connections(id) ON DELETE CASCADE,
        tenant_id      TEXT NOT NULL,
        client_id      TEXT NOT NULL UNIQUE,
        secret_hash    TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        last_used_at   INTEGER,
        revoked_at     INTEGER
      );
      CREATE INDEX scim_clients_connection ON scim_clients (connection_id, created_at);
    `,
  },
  {
    version: 3,
    name: 'index the SCIM userName key (userName eq lookups of connections that match by email)',
    sql: `CREATE INDEX users_tenant_scim_user_name_key ON users (tenant_id, scim_user_name_key);`,
  },
];

export interface AppliedMigration {
  version: number;
  name: string;
  appliedAt: Date;
}

/** Applies every migration newer than the database's version, each in its own transaction. Returns those applied. */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): Migration[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    applied_at  INTEGER NOT NULL
  )`);
  assertOrdered(migrations);
  // Migrations may call it (backfilling the *_fold columns); deterministic, so it is safe in indexes too.
  db.function('gh_fold', { deterministic: true }, (value: unknown) => (typeof value === 'string' ? foldCase(value) : null));
  const currentVersion = db.prepare<[], { v: number | null }>('SELECT max(version) AS v FROM schema_migrations').get()?.v ?? 0;
  const latestKnown = migrations.length > 0 ? migrations[migrations.length - 1].version : 0;
  if (currentVersion > latestKnown) {
    // A newer Gatehouse migrated this file; running old code against it could corrupt data.
    throw new Error(
      `The database schema is at version ${currentVersion}, newer than this Gatehouse build knows (${latestKnown}). Upgrade Gatehouse.`,
    );
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
  const applied: Migration[] = [];
  for (const migration of migrations) {
    if (migration.version <= currentVersion) continue;
    // IMMEDIATE takes the write lock up front, so two processes opening the same file cannot both migrate.
    db.transaction(() => {
      const already = db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(migration.version);
      if (already) return;
      db.exec(migration.sql);
      record.run(migration.version, migration.name, Date.now());
      applied.push(migration);
    }).immediate();
  }
  return applied;
}

export function listAppliedMigrations(db: Database.Database): AppliedMigration[] {
  return db
    .prepare<[], { version: number; name: string; applied_at: number }>(
      'SELECT version, name, applied_at FROM schema_migrations ORDER BY version',
    )
    .all()
    .map((row) => ({ version: row.version, name: row.name, appliedAt: new Date(row.applied_at) }));
}

function assertOrdered(migrations: readonly Migration[]): void {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new Error(`Migrations must be numbered 1..n in order; found version ${migration.version} at position ${index + 1}.`);
    }
  });
}
