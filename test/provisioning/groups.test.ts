import { applyGroupFilters, looksLikeGuid, matchesEntry } from '../../src/provisioning/groups';
import type { Group } from '../../src/provisioning/types';

const ENG = 'a1b2c3d4-0000-4000-8000-000000000001';
const SALES = 'a1b2c3d4-0000-4000-8000-000000000002';
const CONTRACTORS = 'a1b2c3d4-0000-4000-8000-000000000003';

function group(externalId: string, displayName: string, nameResolved = true): Group {
  const now = new Date();
  return { id: `g-${externalId}`, tenantId: 't', externalId, displayName, nameResolved, createdAt: now, updatedAt: now };
}

const known = new Map<string, Group>([
  [ENG, group(ENG, 'Engineering')],
  [SALES, group(SALES, SALES, false)],
]);

const none = { requireAnyGroup: [] as string[], onlyGroups: [] as string[], excludeGroups: [] as string[] };

describe('matchesEntry', () => {
  it('matches by external id, case-insensitively', () => {
    expect(matchesEntry([ENG.toUpperCase()], ENG, undefined)).toBe(true);
  });
  it('matches by resolved name only once the name is known', () => {
    expect(matchesEntry(['engineering'], ENG, known.get(ENG))).toBe(true);
    expect(matchesEntry([SALES], SALES, known.get(SALES))).toBe(true);
    expect(matchesEntry(['Sales'], SALES, known.get(SALES))).toBe(false);
  });
  it('matches nothing with no entries', () => {
    expect(matchesEntry([], ENG, known.get(ENG))).toBe(false);
  });
});

describe('applyGroupFilters', () => {
  it('keeps everything and admits everyone with no filters', () => {
    expect(applyGroupFilters(none, [ENG, SALES], known)).toEqual({ kept: [ENG, SALES], ignored: [], admitted: true });
  });

  it('requireAnyGroup admits members of a listed group (by name or id) and refuses the rest', () => {
    expect(applyGroupFilters({ ...none, requireAnyGroup: ['Engineering'] }, [ENG], known).admitted).toBe(true);
    expect(applyGroupFilters({ ...none, requireAnyGroup: [SALES] }, [ENG, SALES], known).admitted).toBe(true);
    expect(applyGroupFilters({ ...none, requireAnyGroup: ['Engineering'] }, [SALES], known).admitted).toBe(false);
    expect(applyGroupFilters({ ...none, requireAnyGroup: ['Engineering'] }, [], known).admitted).toBe(false);
  });

  it('an excluded group never satisfies requireAnyGroup', () => {
    expect(applyGroupFilters({ ...none, requireAnyGroup: [ENG], excludeGroups: [ENG] }, [ENG], known).admitted).toBe(false);
  });

  it('onlyGroups keeps only the listed groups; excludeGroups drops the listed ones', () => {
    expect(applyGroupFilters({ ...none, onlyGroups: ['engineering'] }, [ENG, SALES, CONTRACTORS], known)).toEqual({
      kept: [ENG],
      ignored: [SALES, CONTRACTORS],
      admitted: true,
    });
    expect(applyGroupFilters({ ...none, excludeGroups: [CONTRACTORS] }, [ENG, CONTRACTORS], known)).toEqual({
      kept: [ENG],
      ignored: [CONTRACTORS],
      admitted: true,
    });
  });

  it('on overage judges requireAnyGroup on the memberships the user already has', () => {
    const jit = { ...none, requireAnyGroup: ['Engineering'] };
    expect(applyGroupFilters(jit, null, known, [group(ENG, 'Engineering')]).admitted).toBe(true);
    expect(applyGroupFilters(jit, null, known, []).admitted).toBe(false);
    expect(applyGroupFilters(none, null, known, []).admitted).toBe(true);
  });
});

describe('looksLikeGuid', () => {
  it('recognises Entra object ids only', () => {
    expect(looksLikeGuid(ENG)).toBe(true);
    expect(looksLikeGuid('Engineering')).toBe(false);
    expect(looksLikeGuid(`${ENG}x`)).toBe(false);
  });
});
