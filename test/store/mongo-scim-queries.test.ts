/**
 * The MongoDB adapter's SCIM query builders without a server: the filter documents are checked by shape, and
 * evaluated in memory (sift, the MongoDB query-language evaluator mongoose itself ships) over the exact documents
 * the adapter stores for the shared fixture set, where they must find the same ids as the SQLite contract and as
 * matchesQuery on the served resources.
 */
import sift from 'sift';
import { scimGroupResource, scimScopeOf, scimUserResource } from '../../src/provisioning/scim';
import { matchesQuery, parseGroupFilter, parseUserFilter } from '../../src/scim/query';
import { ScimSchemaRegistry } from '../../src/scim/schemas';
import type { ScimScope } from '../../src/store/ports';
import { groupEnsureUpsert, newUserDoc, type GroupDoc, type MembershipDoc, type UserDoc } from '../../src/store/mongo/queries';
import { toGroupRecord, toUserRecord } from '../../src/store/mongo/scim';
import {
  alertClaim,
  escapeRegex,
  memberConditions,
  newScimGroupDoc,
  newScimUserDoc,
  ownedAt,
  scimGroupDetach,
  scimGroupFilter,
  scimGroupSave,
  scimUserDetach,
  scimUserFilter,
  scimUserSave,
  tokensExpiringFilter,
} from '../../src/store/mongo/scim-queries';
import { GROUP_FILTERS, GROUP_FIXTURES, newUserOf, stateOf, USER_FILTERS, USER_FIXTURES } from './scim-fixtures';

const NOW = new Date('2025-07-08T09:10:11.123Z');
const TENANT = 't-1';
const THIS = 'conn-this';
const OTHER = 'conn-other';
const scope: ScimScope = { tenantId: TENANT, connectionId: THIS, userNameKey: 'username' };
const BASE = 'https://gatehouse.test/scim/v2';
const registry = ScimSchemaRegistry.standard();

/** Applies the $set of an update document (what the server would do for these flat updates). */
function applySet<T extends object>(doc: T, update: { $set?: object; $inc?: Record<string, number> }): T {
  const next = { ...doc, ...update.$set } as Record<string, unknown>;
  for (const [key, by] of Object.entries(update.$inc ?? {})) next[key] = ((next[key] as number | undefined) ?? 1) + by;
  return next as T;
}

const ids = new Map<string, string>();
const users: UserDoc[] = USER_FIXTURES.map((fixture, index) => {
  const id = `u-${index}-${fixture.key}`;
  ids.set(fixture.key, id);
  const created = new Date(NOW.getTime() + index);
  const input = newUserOf(TENANT, fixture);
  if (fixture.owner === null) return newUserDoc(input, id, created);
  const doc = newScimUserDoc(fixture.owner === 'other' ? OTHER : THIS, input, stateOf(fixture), id, created);
  return fixture.detached ? applySet(doc, scimUserDetach(NOW)) : doc;
});

const groupIds = new Map<string, string>();
const memberships: MembershipDoc[] = [];
const groups: GroupDoc[] = GROUP_FIXTURES.map((fixture, index) => {
  const id = `g-${index}-${fixture.key}`;
  groupIds.set(fixture.key, id);
  const created = new Date(NOW.getTime() + index);
  for (const key of fixture.members) memberships.push({ userId: ids.get(key)!, groupId: id, source: `scim:${fixture.owner === 'other' ? OTHER : THIS}`, createdAt: created });
  for (const key of fixture.samlMembers ?? []) memberships.push({ userId: ids.get(key)!, groupId: id, source: `saml:${THIS}`, createdAt: created });
  if (fixture.owner === null) {
    return groupEnsureUpsert(TENANT, fixture.externalId!, { displayName: fixture.displayName, nameResolved: false }, id, created).update
      .$setOnInsert as unknown as GroupDoc;
  }
  const doc = newScimGroupDoc(fixture.owner === 'other' ? OTHER : THIS, TENANT, { displayName: fixture.displayName, externalId: fixture.externalId }, id, created);
  return fixture.detached ? applySet(doc, scimGroupDetach(NOW)) : doc;
});

const substitute = (filter: string) => filter.replace(/\$(\w+)/g, (_m, key: string) => ids.get(key)!);
const keysOf = (found: string[], map: Map<string, string>) => {
  const byId = new Map([...map].map(([key, id]) => [id, key]));
  return found.map((id) => byId.get(id) ?? id).sort();
};
const run = <T>(docs: T[], filter: object): T[] => docs.filter(sift(filter as never));
const inScope = run(users, scimUserFilter(scope, null));

/** A user filter finds the expected fixtures, and the same ones matchesQuery finds on the served resources in scope. */
function expectUserFilter(filter: string, expected: string[]): void {
  const query = parseUserFilter(filter);
  const found = keysOf(run(users, scimUserFilter(scope, query)).map((d) => d._id), ids);
  expect(found).toEqual([...expected].sort());
  const reference = inScope
    .filter((doc) => matchesQuery(query, scimUserResource(toUserRecord(doc), { matchBy: 'upn', baseUrl: BASE, registry })))
    .map((d) => d._id);
  expect(keysOf(reference, ids)).toEqual(found);
}

describe('mongo SCIM filters evaluated on the stored documents (shared fixture set)', () => {
  it.each(USER_FILTERS)('users: $filter', ({ filter, expect: expected }) => {
    expectUserFilter(substitute(filter), expected);
  });

  it.each(GROUP_FILTERS)('groups: $filter', ({ filter, expect: expected }) => {
    const query = parseGroupFilter(substitute(filter));
    const resolved = memberConditions(THIS, query).map((condition) => [...new Set(run(memberships, condition).map((m) => m.groupId))]);
    const found = keysOf(run(groups, scimGroupFilter(scope, query, resolved)).map((d) => d._id), groupIds);
    expect(found).toEqual([...expected].sort());
    const reference = run(groups, scimGroupFilter(scope, null))
      .filter((doc) => {
        const members = memberships.filter((m) => m.groupId === doc._id && m.source === `scim:${THIS}`).map((m) => m.userId);
        return matchesQuery(query, scimGroupResource(toGroupRecord(doc), members, BASE));
      })
      .map((d) => d._id);
    expect(keysOf(reference, groupIds)).toEqual(found);
  });
});

describe('mongo SCIM date filters on the stored documents', () => {
  // The fixture documents were created 1 ms apart, in fixture order (NOW + index).
  const at = (index: number) => new Date(NOW.getTime() + index).toISOString();
  const userIndex = (key: string) => USER_FIXTURES.findIndex((f) => f.key === key);

  it.each([
    [`meta.created gt "${at(userIndex('grace'))}"`, ['linus', 'star']],
    [`meta.created ge "${at(userIndex('grace'))}"`, ['grace', 'linus', 'star']],
    [`meta.created lt "${at(userIndex('aerzte'))}"`, ['ada']],
    [`meta.created le "${at(userIndex('aerzte'))}"`, ['ada', 'aerzte']],
    [`meta.created eq "${at(userIndex('bob'))}"`, ['bob']],
    [`meta.created ne "${at(userIndex('bob'))}"`, ['ada', 'aerzte', 'grace', 'linus', 'star']],
    [`not (meta.lastModified gt "${at(userIndex('aerzte'))}")`, ['ada', 'aerzte']],
    [`meta.lastModified gt "${at(userIndex('aerzte'))}" and meta.lastModified lt "${at(userIndex('linus'))}"`, ['bob', 'grace']],
  ])('users: %s', (filter, expected) => {
    expectUserFilter(filter, expected);
  });

  it('groups: meta.created and meta.lastModified cutoffs', () => {
    const groupsAt = (filter: string) => keysOf(run(groups, scimGroupFilter(scope, parseGroupFilter(filter))).map((d) => d._id), groupIds);
    expect(groupsAt(`meta.created gt "${at(0)}"`)).toEqual(['aerzte', 'sales']);
    expect(groupsAt(`meta.lastModified le "${at(1)}"`)).toEqual(['eng', 'sales']);
    expect(scimGroupFilter(scope, parseGroupFilter(`meta.created ge "${at(0)}"`)).$and).toContainEqual({ createdAt: { $gte: NOW } });
  });
});

describe('mongo SCIM query builders (shapes)', () => {
  it('scopes to the tenant, unowned or own documents, not detached ones', () => {
    expect(scimUserFilter(scope, null)).toEqual({ tenantId: TENANT, scimDeletedAt: null, scimConnectionId: { $in: [null, THIS] } });
  });

  it('userName eq is an equality on the normalised key, other attributes on their folded copy', () => {
    expect(scimUserFilter(scope, parseUserFilter('userName eq "ADA@X"'))).toEqual({
      $and: [{ tenantId: TENANT, scimDeletedAt: null, scimConnectionId: { $in: [null, THIS] } }, { usernameKey: 'ada@x' }],
    });
    expect((scimUserFilter(scope, parseUserFilter('displayName co "A.B"')) as { $and: unknown[] }).$and[1]).toEqual({
      displayNameFold: { $regex: 'a\\.b' },
    });
    expect((scimUserFilter(scope, parseUserFilter('externalId ne "x"')) as { $and: unknown[] }).$and[1]).toEqual({ $nor: [{ scimConnectionId: { $ne: null }, scimExternalId: 'x' }] });
  });

  it('matchBy email compares the SCIM userName of owned accounts', () => {
    const email: ScimScope = { ...scope, userNameKey: 'scim' };
    expect((scimUserFilter(email, parseUserFilter('userName eq "u"')) as { $and: unknown[] }).$and[1]).toEqual({
      $or: [
        { scimConnectionId: null, usernameKey: 'u' },
        { scimConnectionId: { $ne: null }, scimUserNameKey: 'u' },
      ],
    });
  });

  it('a valuePath is one $elemMatch on the stored emails (and the account email for unowned accounts)', () => {
    const doc = (scimUserFilter(scope, parseUserFilter('emails[type eq "work" and value eq "A@X"]')) as { $and: unknown[] }).$and[1];
    expect(doc).toEqual({
      $or: [
        { scimConnectionId: { $ne: null }, scimEmails: { $elemMatch: { $and: [{ typeFold: 'work' }, { valueFold: 'a@x' }] } } },
        { $and: [{ scimConnectionId: null, emailFold: { $nin: [null, ''] } }, { $and: [{}, { emailFold: 'a@x' }] }] },
      ],
    });
  });

  it('member conditions are resolved first and inlined as id lists', () => {
    const query = parseGroupFilter('members.value eq "u1" or displayName eq "x"');
    expect(memberConditions(THIS, query)).toEqual([{ source: `scim:${THIS}`, userId: 'u1' }]);
    expect((scimGroupFilter(scope, query, [['g1', 'g2']]) as { $and: unknown[] }).$and[1]).toEqual({
      $or: [{ _id: { $in: ['g1', 'g2'] } }, { displayNameFold: 'x' }],
    });
    expect(() => scimGroupFilter(scope, query, [])).toThrow(/not resolved/);
  });

  it('regex values are escaped', () => {
    expect(escapeRegex('a.b*c(d)[e]^$')).toBe('a\\.b\\*c\\(d\\)\\[e\\]\\^\\$');
  });

  it('writes: conditional on version and owner, bump the version, fold what filters compare', () => {
    expect(ownedAt(THIS, 'u1', 3)).toEqual({ $and: [{ _id: 'u1', scimConnectionId: { $in: [null, THIS] } }, { version: 3 }] });
    expect(ownedAt(THIS, 'u1', 1).$and).toContainEqual({ $or: [{ version: 1 }, { version: { $exists: false } }] });
    const update = scimUserSave(THIS, { displayName: 'ÄDA', active: false }, stateOf(USER_FIXTURES.find((f) => f.key === 'grace')!), NOW);
    expect(update.$inc).toEqual({ version: 1 });
    expect(update.$set).toMatchObject({
      displayName: 'ÄDA',
      displayNameFold: 'äda',
      active: false,
      scimConnectionId: THIS,
      scimExternalId: 'grace',
      scimEmployeeNumberFold: 'e-100',
      scimDeletedAt: null,
      scimEmails: [
        { valueFold: 'grace@contoso.example', typeFold: 'work', primary: true },
        { valueFold: 'g.hopper@home.example', typeFold: 'home', primary: false },
      ],
    });
    expect(scimUserDetach(NOW).$set).toMatchObject({ active: false, scimConnectionId: null, scimDeletedAt: NOW });
    expect(scimGroupSave(THIS, { displayName: 'X', externalId: null }, NOW).$set).not.toHaveProperty('externalId');
    expect(scimGroupSave(THIS, { displayName: 'X', externalId: 'e' }, NOW).$set).toMatchObject({ externalId: 'e', scimExternalId: 'e' });
  });

  it('tokens: expiring query and the once-per-threshold alert claim', () => {
    const later = new Date(NOW.getTime() + 1000);
    expect(tokensExpiringFilter(NOW, later)).toEqual({ kind: 'token', revokedAt: null, expiresAt: { $gt: NOW, $lte: later } });
    const claim = alertClaim('t1', 7);
    expect(claim).toEqual({ filter: { _id: 't1', alertsSent: { $ne: 7 } }, update: { $push: { alertsSent: 7 } } });
    expect(run([{ _id: 't1', alertsSent: [30] }], claim.filter)).toHaveLength(1);
    expect(run([{ _id: 't1', alertsSent: [30, 7] }], claim.filter)).toHaveLength(0);
  });
});

it('scimScopeOf picks the userName column from the connection', () => {
  expect(scimScopeOf({ id: 't' }, { id: 'c', settings: { matchBy: 'email' } as never }).userNameKey).toBe('scim');
  expect(scimScopeOf({ id: 't' }, { id: 'c', settings: { matchBy: 'upn' } as never }).userNameKey).toBe('username');
});
