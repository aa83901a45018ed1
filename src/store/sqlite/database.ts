/** Opening a SQLite database the way Gatehouse needs it, and mapping SQLite errors onto the app's vocabulary. */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { ConflictError, ValidationError } from '../../common/errors';

/** ':memory:' or a file path. */
export type SqliteLocation = { kind: 'memory' } | { kind: 'file'; path: string };

export function openSqliteDatabase(location: SqliteLocation): Database.Database {
  if (location.kind === 'file') mkdirSync(path.dirname(location.path), { recursive: true });
  const db = new Database(location.kind === 'memory' ? ':memory:' : location.path);
  try {
    // WAL lets readers run while one writer commits; NORMAL sync is durable across app crashes in WAL mode.
    if (location.kind === 'file') db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    // Statement and savepoint journals (every group-committed write runs in its own savepoint) in memory: with the
    // build's default they spill to temporary files, which tripled the cost of each insert of a SCIM sync.
    db.pragma('temp_store = MEMORY');
    db.pragma('foreign_keys = ON');
    // Several processes (server + CLI) may share one file: wait for a lock instead of failing with SQLITE_BUSY.
    db.pragma('busy_timeout = 5000');
    // Up to 32 MB of page cache (SQLite's default is 2 MB): the indexes of a 100k-user tenant stay in memory, so a
    // SCIM sync or a login storm does not turn into one read syscall per index page.
    db.pragma('cache_size = -32768');
    return db;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * The SQLite result code of a better-sqlite3 error. Duck-typed, not `instanceof SqliteError`: the native addon keeps
 * the SqliteError class of the first load in a process, so a re-loaded module (jest's per-file registries, a cleared
 * require cache) would see the addon's errors fail instanceof.
 */
function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === 'SqliteError' && typeof code === 'string' ? code : undefined;
}

export function isUniqueViolation(error: unknown): boolean {
  const code = sqliteCode(error);
  return code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function isForeignKeyViolation(error: unknown): boolean {
  return sqliteCode(error) === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/**
 * Runs a write and translates constraint violations: unique -> ConflictError (the port's rule), foreign key ->
 * ValidationError (a reference to a tenant/user/group that does not exist is a caller bug, not a server fault).
 */
export function translateConstraints<T>(write: () => T, conflictMessage: string, code = 'conflict'): T {
  try {
    return write();
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError(conflictMessage, code);
    if (isForeignKeyViolation(error)) throw new ValidationError('The referenced record does not exist.', undefined, 'invalid_reference');
    throw error;
  }
}
