/**
 * Design 4.10: the SAML/XML stack must stay at or above the versions that fixed the known signature-wrapping and
 * parser bugs. The registry audit endpoint is unreachable from the build machines, so the floors are checked here,
 * against every copy npm installed (nested copies included), from package-lock.json.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

type Version = [number, number, number];

/** Parses "1.2.3" (a pre-release suffix such as "-rc.1" makes it sort just below "1.2.3"). */
function parseVersion(text: string): { version: Version; prerelease: boolean } {
  const match = /^(\d+)\.(\d+)\.(\d+)(-[0-9A-Za-z.-]+)?(\+.*)?$/.exec(text);
  if (!match) throw new Error(`not a semantic version: ${text}`);
  return { version: [Number(match[1]), Number(match[2]), Number(match[3])], prerelease: match[4] !== undefined };
}

/** -1, 0 or 1, like a comparator. */
function compareVersions(a: string, b: string): number {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  for (let i = 0; i < 3; i += 1) {
    const diff = (pa.version[i] ?? 0) - (pb.version[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  if (pa.prerelease !== pb.prerelease) return pa.prerelease ? -1 : 1;
  return 0;
}

interface LockPackage {
  version?: string;
  link?: boolean;
}

const lock = JSON.parse(readFileSync(path.resolve(__dirname, '..', 'package-lock.json'), 'utf8')) as {
  lockfileVersion: number;
  packages?: Record<string, LockPackage>;
};

/** Every installed copy of a package: the lockfile key ends with node_modules/<name>. */
function installedVersions(name: string): Array<{ where: string; version: string }> {
  const suffix = `node_modules/${name}`;
  return Object.entries(lock.packages ?? {})
    .filter(([where, entry]) => (where === suffix || where.endsWith(`/${suffix}`)) && !entry.link)
    .map(([where, entry]) => ({ where, version: entry.version ?? '' }));
}

const FLOORS: Array<{ name: string; min: string; below?: string }> = [
  { name: '@node-saml/node-saml', min: '5.1.0' },
  { name: 'xml-crypto', min: '6.1.2' },
  // The 0.8 line: 0.9 changed parsing behaviour node-saml and our parser rely on (design.md 4.10).
  { name: '@xmldom/xmldom', min: '0.8.15', below: '0.9.0' },
];

describe('compareVersions', () => {
  it.each([
    ['5.1.0', '5.1.0', 0],
    ['5.1.1', '5.1.0', 1],
    ['5.0.9', '5.1.0', -1],
    ['6.10.0', '6.9.9', 1],
    ['0.8.15', '0.8.9', 1],
    ['0.9.0-rc.1', '0.9.0', -1],
    ['10.0.0', '9.99.99', 1],
  ])('%s vs %s -> %i', (a, b, expected) => {
    expect(compareVersions(a, b)).toBe(expected);
  });
});

describe('package-lock.json security floors', () => {
  it('is a lockfile with a packages map (lockfileVersion >= 2)', () => {
    expect(lock.lockfileVersion).toBeGreaterThanOrEqual(2);
    expect(lock.packages).toBeDefined();
  });

  it.each(FLOORS)('every installed $name is >= $min', ({ name, min, below }) => {
    const copies = installedVersions(name);
    expect(copies.length).toBeGreaterThan(0);
    for (const { where, version } of copies) {
      expect({ where, version, atLeastFloor: compareVersions(version, min) >= 0 }).toEqual({ where, version, atLeastFloor: true });
      if (below) {
        expect({ where, version, belowCeiling: compareVersions(version, below) < 0 }).toEqual({ where, version, belowCeiling: true });
      }
    }
  });
});
