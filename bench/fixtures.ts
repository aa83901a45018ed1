/** Test fixtures (test-only keys) read from the repository, whether running from bench/ or dist/bench/. */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const FIXTURES_DIR = [path.resolve(__dirname, '../test/fixtures'), path.resolve(__dirname, '../../test/fixtures')].find((d) =>
  existsSync(d),
) ?? path.resolve(__dirname, '../test/fixtures');

export function readFixture(name: string): string {
  return readFileSync(path.join(FIXTURES_DIR, name), 'utf8');
}
