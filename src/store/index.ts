/**
 * Opens the store named by DATABASE_URL:
 * - `sqlite::memory:`            a fresh in-memory database (tests)
 * - `sqlite:<path>`              a database file, relative to the working directory or absolute; parent dirs created
 * - `mongodb://...`, `mongodb+srv://...`   MongoDB through mongoose (loaded only when used)
 */
import path from 'node:path';
import { ValidationError } from '../common/errors';
import type { Logger } from '../common/log';
import type { Store } from './ports';
import type { SqliteLocation } from './sqlite/database';

export type DatabaseTarget = { kind: 'sqlite'; location: SqliteLocation } | { kind: 'mongo'; uri: string };

export interface OpenStoreOptions {
  logger?: Logger;
}

const MONGO_URI = /^mongodb(\+srv)?:\/\/[^/?#\s]+/u;

/** Hides the password of a URL-like string, so it can appear in an error message. */
function redactCredentials(url: string): string {
  return url.replace(/\/\/[^@/]*@/u, '//***@');
}

/** Validates DATABASE_URL and says which adapter it selects. Throws ValidationError naming DATABASE_URL. */
export function parseDatabaseUrl(url: string): DatabaseTarget {
  const value = url.trim();
  if (value === 'sqlite::memory:') return { kind: 'sqlite', location: { kind: 'memory' } };
  if (value.startsWith('sqlite:')) {
    const file = value.slice('sqlite:'.length);
    if (file === '' || file.startsWith('//')) {
      throw new ValidationError(
        `DATABASE_URL "${value}" does not name a database file; use "sqlite:./data/gatehouse.db", "sqlite:/absolute/path.db" or "sqlite::memory:".`,
        { variable: 'DATABASE_URL' },
        'invalid_config',
      );
    }
    return { kind: 'sqlite', location: { kind: 'file', path: path.resolve(file) } };
  }
  if (value.startsWith('mongodb://') || value.startsWith('mongodb+srv://')) {
    if (!MONGO_URI.test(value)) {
      throw new ValidationError(
        `DATABASE_URL "${redactCredentials(value)}" has no host; expected "mongodb://host[:port]/database".`,
        { variable: 'DATABASE_URL' },
        'invalid_config',
      );
    }
    return { kind: 'mongo', uri: value };
  }
  throw new ValidationError(
    `DATABASE_URL "${redactCredentials(value)}" is not supported; use "sqlite:./data/gatehouse.db", "sqlite::memory:" or "mongodb://host/database" (or "mongodb+srv://...").`,
    { variable: 'DATABASE_URL' },
    'invalid_config',
  );
}

export async function openStore(databaseUrl: string, options: OpenStoreOptions = {}): Promise<Store> {
  const target = parseDatabaseUrl(databaseUrl);
  if (target.kind === 'sqlite') {
    const { openSqliteStore } = await import('./sqlite');
    return openSqliteStore(target.location, { logger: options.logger });
  }
  // mongoose is only loaded by deployments that use it.
  const { openMongoStore } = await import('./mongo');
  return openMongoStore(target.uri, { logger: options.logger });
}
