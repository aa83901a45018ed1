import {
  EMPLOYEE_NUMBER_FIELD,
  matchesQuery,
  MAX_FILTER_BYTES,
  parseGroupFilter,
  parseUserFilter,
  type CompareNode,
  type ScimField,
} from '../../src/scim/query';
import { ENTERPRISE_USER_SCHEMA } from '../../src/scim/schemas';
import { expectScimError, group, user } from './helpers';

/** A compare node as the parser builds it for an ordinary (non-key) field. */
function cmp<F extends ScimField>(field: F, op: CompareNode['op'], value: CompareNode['value'], caseExact = false): CompareNode<F> {
  return { kind: 'compare', field, op, value, caseExact, normalisedKey: false };
}

function userNameCmp(op: CompareNode['op'], key: string): CompareNode<'userName'> {
  return { kind: 'compare', field: 'userName', op, value: key, caseExact: true, normalisedKey: true };
}

describe('parseUserFilter: what Entra sends', () => {
  it('Test Connection: userName eq "<random GUID>" compares the normalised key', () => {
    expect(parseUserFilter('userName eq "5B50642D-79FC-4410-9E90-4C077CDD1A59"')).toEqual(
      userNameCmp('eq', '5b50642d-79fc-4410-9e90-4c077cdd1a59'),
    );
  });

  it('externalId eq is exact (caseExact per RFC 7643)', () => {
    expect(parseUserFilter('externalId eq "Jyoung"')).toEqual(cmp('externalId', 'eq', 'Jyoung', true));
  });

  it('accepts the unquoted value of Microsoft\'s own example, and digits for a string attribute, verbatim', () => {
    expect(parseUserFilter('externalId eq jyoung')).toEqual(cmp('externalId', 'eq', 'jyoung', true));
    expect(parseUserFilter('externalId eq 00701984')).toEqual(cmp('externalId', 'eq', '00701984', true));
  });

  it('emails[type eq "work"].value eq "x" becomes ONE valuePath: type and value must match the same email', () => {
    expect(parseUserFilter('emails[type eq "work"].value eq "a@b.com"')).toEqual({
      kind: 'valuePath',
      attribute: 'emails',
      filter: { kind: 'and', children: [cmp('emails.type', 'eq', 'work'), cmp('emails.value', 'eq', 'a@b.com')] },
    });
  });

  it('keeps a user-written "emails[...] and emails.value ..." as two independent conditions', () => {
    expect(parseUserFilter('emails[type eq "work"] and emails.value eq "a@b.com"')).toEqual({
      kind: 'and',
      children: [{ kind: 'valuePath', attribute: 'emails', filter: cmp('emails.type', 'eq', 'work') }, cmp('emails.value', 'eq', 'a@b.com')],
    });
  });

  it('recombines inside larger expressions and with pr', () => {
    expect(parseUserFilter('active eq true and emails[type eq "work"].value pr')).toEqual({
      kind: 'and',
      children: [
        cmp('active', 'eq', true),
        {
          kind: 'valuePath',
          attribute: 'emails',
          filter: { kind: 'and', children: [cmp('emails.type', 'eq', 'work'), { kind: 'present', field: 'emails.value' }] },
        },
      ],
    });
  });

  it('a valuePath with a conjunction inside', () => {
    expect(parseUserFilter('emails[type eq "work" and value co "@contoso.com"]')).toEqual({
      kind: 'valuePath',
      attribute: 'emails',
      filter: { kind: 'and', children: [cmp('emails.type', 'eq', 'work'), cmp('emails.value', 'co', '@contoso.com')] },
    });
  });

  it('a multi-valued attribute without a sub-attribute means its value', () => {
    expect(parseUserFilter('emails co "@contoso.com"')).toEqual(cmp('emails.value', 'co', '@contoso.com'));
  });
});

describe('parseUserFilter: operators and types', () => {
  it.each(['eq', 'ne', 'co', 'sw', 'ew'] as const)('%s on a string attribute', (op) => {
    expect(parseUserFilter(`displayName ${op} "Ann"`)).toEqual(cmp('displayName', op, 'Ann'));
  });

  it.each(['eq', 'ne', 'co', 'sw', 'ew'] as const)('%s on userName uses the normalised key', (op) => {
    expect(parseUserFilter(`userName ${op} "ANN@Contoso.COM"`)).toEqual(userNameCmp(op, 'ann@contoso.com'));
  });

  it.each(['eq', 'ne', 'gt', 'ge', 'lt', 'le'] as const)('%s on a date parses an ISO date-time', (op) => {
    expect(parseUserFilter(`meta.lastModified ${op} "2011-05-13T04:42:34Z"`)).toEqual(
      cmp('meta.lastModified', op, new Date('2011-05-13T04:42:34.000Z')),
    );
    expect(parseUserFilter(`meta.created ${op} "2011-05-13T06:42:34+02:00"`)).toEqual(
      cmp('meta.created', op, new Date('2011-05-13T04:42:34.000Z')),
    );
  });

  it('pr on any filterable attribute', () => {
    expect(parseUserFilter('externalId pr')).toEqual({ kind: 'present', field: 'externalId' });
    expect(parseUserFilter('name.givenName pr')).toEqual({ kind: 'present', field: 'name.givenName' });
  });

  it('booleans: true/false, and Entra\'s "True"/"False" strings', () => {
    expect(parseUserFilter('active eq true')).toEqual(cmp('active', 'eq', true));
    expect(parseUserFilter('active eq "False"')).toEqual(cmp('active', 'eq', false));
    expect(parseUserFilter('active ne "True"')).toEqual(cmp('active', 'ne', true));
  });

  it('id is compared exactly, eq/ne only', () => {
    expect(parseUserFilter('id eq "2819c223-7f76-453a"')).toEqual({ ...cmp('id', 'eq', '2819c223-7f76-453a'), caseExact: true });
  });
});

describe('parseUserFilter: names', () => {
  it('attribute names, operators and logical keywords are case-insensitive', () => {
    expect(parseUserFilter('USERNAME EQ "x" AND Active Eq TRUE')).toEqual({
      kind: 'and',
      children: [userNameCmp('eq', 'x'), cmp('active', 'eq', true)],
    });
    expect(parseUserFilter('Emails[TYPE eq "work"].VALUE eq "a@b.com"')).toEqual(parseUserFilter('emails[type eq "work"].value eq "a@b.com"'));
  });

  it('accepts URN-qualified core and enterprise names, in any case', () => {
    expect(parseUserFilter('urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"')).toEqual(userNameCmp('eq', 'x'));
    expect(parseUserFilter('URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:name.familyName eq "Doe"')).toEqual(cmp('name.familyName', 'eq', 'Doe'));
    expect(parseUserFilter(`${ENTERPRISE_USER_SCHEMA}:employeeNumber eq "701984"`)).toEqual(cmp(EMPLOYEE_NUMBER_FIELD, 'eq', '701984'));
    expect(parseUserFilter(`${ENTERPRISE_USER_SCHEMA.toLowerCase()}:EMPLOYEENUMBER eq "1"`)).toEqual(cmp(EMPLOYEE_NUMBER_FIELD, 'eq', '1'));
    expect(parseUserFilter('urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq "work"]')).toEqual({
      kind: 'valuePath',
      attribute: 'emails',
      filter: cmp('emails.type', 'eq', 'work'),
    });
  });

  it('normalises a Unicode userName with the one matching-key rule (NFC, full case folding, trim)', () => {
    expect(parseUserFilter('userName eq "ÄLICE@Contoso.com"')).toEqual(userNameCmp('eq', 'älice@contoso.com'));
    expect(parseUserFilter('userName eq "A\u0308lice@contoso.com"')).toEqual(userNameCmp('eq', 'älice@contoso.com'));
    expect(parseUserFilter('userName eq " Straße@contoso.com "')).toEqual(userNameCmp('eq', 'strasse@contoso.com'));
  });
});

describe('parseUserFilter: logic', () => {
  const a = 'userName eq "a"';
  const b = 'displayName eq "b"';
  const c = 'active eq true';
  const A = userNameCmp('eq', 'a');
  const B = cmp('displayName', 'eq', 'b');
  const C = cmp('active', 'eq', true);

  it('and binds tighter than or', () => {
    expect(parseUserFilter(`${a} or ${b} and ${c}`)).toEqual({ kind: 'or', children: [A, { kind: 'and', children: [B, C] }] });
    expect(parseUserFilter(`${a} and ${b} or ${c}`)).toEqual({ kind: 'or', children: [{ kind: 'and', children: [A, B] }, C] });
  });

  it('parentheses override precedence; not applies to its group only', () => {
    expect(parseUserFilter(`(${a} or ${b}) and ${c}`)).toEqual({ kind: 'and', children: [{ kind: 'or', children: [A, B] }, C] });
    expect(parseUserFilter(`not (${a} or ${b}) and ${c}`)).toEqual({
      kind: 'and',
      children: [{ kind: 'not', child: { kind: 'or', children: [A, B] } }, C],
    });
  });

  it('flattens chains of the same operator', () => {
    expect(parseUserFilter(`${a} and ${b} and ${c}`)).toEqual({ kind: 'and', children: [A, B, C] });
    expect(parseUserFilter(`(${a} and ${b}) and ${c}`)).toEqual({ kind: 'and', children: [A, B, C] });
    expect(parseUserFilter(`((${a}))`)).toEqual(A);
  });
});

describe('parseGroupFilter', () => {
  it('displayName eq "Group A" (what Entra sends before creating a group) is case-insensitive, not folded', () => {
    expect(parseGroupFilter('displayName eq "Group A"')).toEqual(cmp('displayName', 'eq', 'Group A'));
  });

  it('members[value eq "id"] and members.value eq', () => {
    const member = { ...cmp('members.value', 'eq', '7f4bc1a3'), caseExact: true };
    expect(parseGroupFilter('members[value eq "7f4bc1a3"]')).toEqual({ kind: 'valuePath', attribute: 'members', filter: member });
    expect(parseGroupFilter('members.value eq "7f4bc1a3"')).toEqual(member);
    expect(parseGroupFilter('urn:ietf:params:scim:schemas:core:2.0:Group:externalId eq "8aa1a0c0"')).toEqual(
      cmp('externalId', 'eq', '8aa1a0c0', true),
    );
  });

  it('displayName eq "x" and members pr, with dates', () => {
    expect(parseGroupFilter('meta.created lt "2024-01-01T00:00:00Z" and members pr')).toEqual({
      kind: 'and',
      children: [cmp('meta.created', 'lt', new Date('2024-01-01T00:00:00Z')), { kind: 'present', field: 'members.value' }],
    });
  });
});

describe('bad filters are 400 invalidFilter', () => {
  it.each([
    ['an empty filter', ''],
    ['an attribute outside the allow-list', 'nickName eq "x"'],
    ['an unknown attribute', 'foo eq "x"'],
    ['an unknown schema URN', 'urn:example:foo:bar eq "x"'],
    ['the Group URN on a user', 'urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"'],
    ['a group attribute on a user', 'members[value eq "x"]'],
    ['co on a boolean', 'active co "t"'],
    ['gt on a string', 'userName gt "a"'],
    ['co on an id', 'id co "x"'],
    ['co on a date', 'meta.created co "2011"'],
    ['a date that is not ISO 8601', 'meta.created gt "yesterday"'],
    ['a date without a zone', 'meta.created gt "2011-05-13T04:42:34"'],
    ['a boolean that is not true/false', 'active eq "yes"'],
    ['a string attribute compared with a boolean', 'displayName eq true'],
    ['null as a value', 'userName eq null'],
    ['a missing value', 'userName eq'],
    ['a missing operator', 'userName "x"'],
    ['an unknown operator', 'userName like "x"'],
    ['an unclosed parenthesis', '(userName eq "x"'],
    ['an unclosed bracket', 'emails[type eq "work"'],
    ['trailing tokens', 'userName eq "x" "y"'],
    ['a dangling and', 'userName eq "x" and'],
    ['an unterminated string', 'userName eq "x'],
    ['a character outside the grammar', 'userName eq "x" & active eq true'],
    ['a nested valuePath', 'emails[type eq "work" and emails[value eq "x"]]'],
    ['a valuePath on a single-valued attribute', 'userName[value eq "x"]'],
    ['a sub-attribute outside the allow-list', 'emails[primary eq true]'],
    ['a dotted name inside a valuePath', 'emails[emails.value eq "x"]'],
    ['a sub-attribute after ]. without a comparison', 'emails[type eq "work"].value'],
  ])('%s: %s', (_label, filter) => {
    expectScimError(() => parseUserFilter(filter), 400, 'invalidFilter');
  });

  it('a filter over 4 KiB', () => {
    const long = `userName eq "${'a'.repeat(MAX_FILTER_BYTES)}"`;
    expectScimError(() => parseUserFilter(long), 400, 'invalidFilter');
    // Bytes, not characters: 1400 three-byte characters are over the limit.
    expectScimError(() => parseUserFilter(`displayName eq "${'€'.repeat(1400)}"`), 400, 'invalidFilter');
  });

  it('nesting deeper than the limit, by parentheses or by not', () => {
    expect(() => parseUserFilter(`${'('.repeat(10)}userName eq "x"${')'.repeat(10)}`)).not.toThrow();
    expectScimError(() => parseUserFilter(`${'('.repeat(11)}userName eq "x"${')'.repeat(11)}`), 400, 'invalidFilter');
    expectScimError(() => parseUserFilter(`${'not '.repeat(12)}(userName eq "x")`), 400, 'invalidFilter');
  });

  it('group filters: user attributes, and operators a member id does not support', () => {
    expectScimError(() => parseGroupFilter('userName eq "x"'), 400, 'invalidFilter');
    expectScimError(() => parseGroupFilter('members.value sw "x"'), 400, 'invalidFilter');
    expectScimError(() => parseGroupFilter('emails[type eq "work"]'), 400, 'invalidFilter');
  });

  it('the detail names the problem, and never carries the internal marker', () => {
    expect(expectScimError(() => parseUserFilter('emails[type eq "work"].value foo "x"'), 400, 'invalidFilter').detail).not.toContain('\u0000');
    expect(expectScimError(() => parseUserFilter('nickName eq "x"'), 400, 'invalidFilter').detail).toContain('nickName');
    expect(expectScimError(() => parseUserFilter('active co "t"'), 400, 'invalidFilter').detail).toMatch(/"co".*active/);
  });
});

describe('matchesQuery (reference semantics for the store adapters)', () => {
  const alice = user({
    id: 'alice',
    userName: 'Alice@Contoso.com',
    externalId: 'alice',
    displayName: 'Alice Liddell',
    active: true,
    name: { givenName: 'Alice', familyName: 'Liddell' },
    emails: [
      { value: 'alice@contoso.com', type: 'work', primary: true },
      { value: 'alice@home.example', type: 'home' },
    ],
    [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '1001' },
    meta: { resourceType: 'User', created: '2024-01-01T00:00:00Z', lastModified: '2024-03-01T00:00:00Z' },
  });
  const bob = user({
    id: 'bob',
    userName: 'bob@contoso.com',
    active: false,
    emails: [
      { value: 'bob@home.example', type: 'home' },
      { value: 'robert@contoso.com', type: 'other' },
    ],
    meta: { resourceType: 'User', created: '2024-02-01T00:00:00Z', lastModified: '2024-02-15T00:00:00Z' },
  });
  const strasse = user({
    id: 'strasse',
    userName: 'Straße@contoso.com',
    meta: { resourceType: 'User', created: '2024-03-01T00:00:00Z', lastModified: '2024-03-01T00:00:00Z' },
  });
  const users = [alice, bob, strasse];

  it.each([
    ['userName eq "ALICE@contoso.com"', ['alice']],
    ['userName eq "STRASSE@CONTOSO.COM"', ['strasse']],
    ['userName sw "bob@"', ['bob']],
    ['userName ne "bob@contoso.com"', ['alice', 'strasse']],
    ['externalId eq "alice"', ['alice']],
    ['externalId eq "ALICE"', []],
    ['emails[type eq "work"].value eq "alice@contoso.com"', ['alice']],
    ['emails[type eq "work"].value eq "robert@contoso.com"', []],
    ['emails[type eq "other"] and emails.value eq "bob@home.example"', ['bob']],
    ['emails[type eq "other" and value eq "bob@home.example"]', []],
    ['emails.value ew ".EXAMPLE"', ['alice', 'bob']],
    ['emails.value ne "bob@home.example"', ['alice', 'strasse']],
    ['emails pr', ['alice', 'bob']],
    ['active eq false', ['bob']],
    ['active eq "True"', ['alice']],
    ['active ne true', ['bob', 'strasse']],
    ['displayName pr', ['alice']],
    ['not (displayName pr)', ['bob', 'strasse']],
    ['name.familyName sw "lid"', ['alice']],
    ['meta.created gt "2024-01-15T00:00:00Z"', ['bob', 'strasse']],
    ['meta.created ge "2024-02-01T01:00:00+01:00"', ['bob', 'strasse']],
    ['meta.lastModified le "2024-02-15T00:00:00Z"', ['bob']],
    ['meta.lastModified lt "2024-02-15T00:00:00Z"', []],
    [`${ENTERPRISE_USER_SCHEMA}:employeeNumber eq "1001"`, ['alice']],
    ['userName eq "bob@contoso.com" or active eq true and displayName pr', ['alice', 'bob']],
    ['(userName eq "bob@contoso.com" or active eq true) and not (displayName pr)', ['bob']],
  ])('%s', (filter, expected) => {
    const query = parseUserFilter(filter);
    expect(users.filter((candidate) => matchesQuery(query, candidate)).map((candidate) => candidate.id)).toEqual(expected);
  });

  const engineering = group({ id: 'g1', displayName: 'Engineering', externalId: 'E-1', members: [{ value: 'alice' }, { value: 'bob' }] });
  const sales = group({ id: 'g2', displayName: 'Sales' });

  it.each([
    ['members[value eq "alice"]', ['g1']],
    ['members[value eq "ALICE"]', []],
    ['displayName eq "engineering"', ['g1']],
    ['members pr', ['g1']],
    ['not (members pr)', ['g2']],
    ['externalId eq "E-1" or displayName sw "sa"', ['g1', 'g2']],
  ])('%s', (filter, expected) => {
    const query = parseGroupFilter(filter);
    expect([engineering, sales].filter((candidate) => matchesQuery(query, candidate)).map((candidate) => candidate.id)).toEqual(expected);
  });
});
