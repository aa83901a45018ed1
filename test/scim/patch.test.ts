import { applyGroupPatch, applyUserPatch, MAX_PATCH_OPERATIONS, memberIdsTouched, PATCH_OP_SCHEMA, parsePatchRequest } from '../../src/scim/patch';
import type { ScimGroupResource, ScimUserResource } from '../../src/scim/resources';
import { CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, ScimSchemaRegistry } from '../../src/scim/schemas';
import { expectScimError, frozen, group, user } from './helpers';

const INFO = 'urn:ietf:params:scim:schemas:extension:info:2.0:User';
const registry = ScimSchemaRegistry.create([
  {
    id: INFO,
    name: 'Info',
    attributes: [
      { name: 'info1', type: 'string' },
      { name: 'info2', type: 'string' },
      { name: 'tags', type: 'string', multiValued: true },
    ],
  },
]);

function patch(...operations: unknown[]): unknown {
  return { schemas: [PATCH_OP_SCHEMA], Operations: operations };
}

/** The user of Microsoft's "Update User" samples. */
function entraUser(): ScimUserResource {
  return frozen(
    user({
      id: '6764549bef60420686bc',
      externalId: '6c75de36-30fa-4d2d-a196-6bdcdb6b6539',
      userName: 'Test_User_00aa00aa@testuser.com',
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      active: true,
      emails: [{ value: 'Test_User_11bb11bb@testuser.com', type: 'work', primary: true }],
    }),
  );
}

/** Applies a user PATCH and checks the input was not touched. */
function applyUser(current: ScimUserResource, body: unknown): ScimUserResource {
  const before = structuredClone(current);
  const result = applyUserPatch(current, body, registry);
  expect(current).toEqual(before);
  return result;
}

describe('applyUserPatch: the requests Microsoft documents', () => {
  it('Update User [multi-valued]: Replace emails[type eq "work"].value and name.familyName', () => {
    const result = applyUser(
      entraUser(),
      patch(
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'updatedEmail@microsoft.com' },
        { op: 'Replace', path: 'name.familyName', value: 'updatedFamilyName' },
      ),
    );
    expect(result).toEqual({
      ...entraUser(),
      name: { formatted: 'givenName familyName', familyName: 'updatedFamilyName', givenName: 'givenName' },
      emails: [{ value: 'updatedEmail@microsoft.com', type: 'work', primary: true }],
    });
  });

  it('Update User [single-valued]: Replace userName', () => {
    const result = applyUser(entraUser(), patch({ op: 'Replace', path: 'userName', value: '5b50642d@testuser.com' }));
    expect(result).toEqual({ ...entraUser(), userName: '5b50642d@testuser.com' });
  });

  it('Disable user: "False" (default) and false (aadOptscim062020) both give active false', () => {
    expect(applyUser(entraUser(), patch({ op: 'Replace', path: 'active', value: 'False' }))).toEqual({ ...entraUser(), active: false });
    expect(applyUser(entraUser(), patch({ op: 'replace', path: 'active', value: false }))).toEqual({ ...entraUser(), active: false });
    const disabled = frozen({ ...entraUser(), active: false });
    expect(applyUser(disabled, patch({ op: 'Replace', path: 'active', value: 'True' }))).toEqual({ ...entraUser(), active: true });
  });

  it('Add a single-valued string attribute, with and without a path', () => {
    const expected = { ...entraUser(), nickName: 'Babs' };
    expect(applyUser(entraUser(), patch({ op: 'Add', path: 'nickName', value: 'Babs' }))).toEqual(expected);
    expect(applyUser(entraUser(), patch({ op: 'Add', value: { nickName: 'Babs' } }))).toEqual(expected);
  });

  it('Replace multiple attributes, default behaviour: one operation per attribute, extension by full URN', () => {
    const result = applyUser(
      entraUser(),
      patch(
        { op: 'Replace', path: 'displayName', value: 'Pvlo' },
        { op: 'Replace', path: 'emails[type eq "work"].value', value: 'TestBcwqnm@test.microsoft.com' },
        { op: 'Replace', path: 'name.givenName', value: 'Gtfd' },
        { op: 'Replace', path: 'name.familyName', value: 'Pkqf' },
        { op: 'Replace', path: 'externalId', value: 'Eqpj' },
        { op: 'Replace', path: `${ENTERPRISE_USER_SCHEMA}:employeeNumber`, value: 'Eqpj' },
      ),
    );
    expect(result).toEqual({
      ...entraUser(),
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      displayName: 'Pvlo',
      externalId: 'Eqpj',
      name: { formatted: 'givenName familyName', familyName: 'Pkqf', givenName: 'Gtfd' },
      emails: [{ value: 'TestBcwqnm@test.microsoft.com', type: 'work', primary: true }],
      [ENTERPRISE_USER_SCHEMA]: { employeeNumber: 'Eqpj' },
    });
  });

  it('Replace multiple attributes, aadOptscim062020: a path-less value with dotted and URN keys', () => {
    const result = applyUser(
      entraUser(),
      patch(
        { op: 'replace', path: 'emails[type eq "work"].value', value: 'TestMhvaes@test.microsoft.com' },
        {
          op: 'replace',
          value: {
            displayName: 'Bjfe',
            'name.givenName': 'Kkom',
            'name.familyName': 'Unua',
            [`${ENTERPRISE_USER_SCHEMA}:employeeNumber`]: 'Aklq',
          },
        },
      ),
    );
    expect(result).toEqual({
      ...entraUser(),
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      displayName: 'Bjfe',
      name: { formatted: 'givenName familyName', familyName: 'Unua', givenName: 'Kkom' },
      emails: [{ value: 'TestMhvaes@test.microsoft.com', type: 'work', primary: true }],
      [ENTERPRISE_USER_SCHEMA]: { employeeNumber: 'Aklq' },
    });
  });

  it('Add on a work email that does not exist creates it; a second sub-attribute Add merges into the same entry', () => {
    const current = frozen(user({ id: 'u1', userName: 'ann@contoso.com' }));
    const result = applyUser(
      current,
      patch(
        { op: 'Add', path: 'emails[type eq "work"].value', value: 'ann@contoso.com' },
        { op: 'Add', path: 'emails[type eq "work"].primary', value: 'True' },
        { op: 'Add', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' },
        { op: 'Replace', path: 'addresses[type eq "work"].postalCode', value: '98052' },
      ),
    );
    expect(result).toEqual({
      ...current,
      emails: [{ type: 'work', value: 'ann@contoso.com', primary: true }],
      phoneNumbers: [{ type: 'mobile', value: '+1 555 0100' }],
      addresses: [{ type: 'work', postalCode: '98052' }],
    });
  });

  it('a path-less value may use a filtered path as a key', () => {
    const current = frozen(user({ id: 'u1', userName: 'ann@contoso.com' }));
    const result = applyUser(current, patch({ op: 'Add', value: { 'emails[type eq "work"].value': 'ann@contoso.com', displayName: 'Ann' } }));
    expect(result).toEqual({ ...current, displayName: 'Ann', emails: [{ type: 'work', value: 'ann@contoso.com' }] });
  });

  it('the order of the merged sub-attribute Adds does not matter', () => {
    const current = frozen(user({ id: 'u1', userName: 'ann@contoso.com' }));
    const result = applyUser(
      current,
      patch(
        { op: 'Add', path: 'emails[type eq "work"].primary', value: true },
        { op: 'Add', path: 'emails[type eq "work"].value', value: 'ann@contoso.com' },
      ),
    );
    expect(result.emails).toEqual([{ type: 'work', primary: true, value: 'ann@contoso.com' }]);
  });

  it('filter values follow caseExact (type is case-insensitive), and paths are case-insensitive', () => {
    const result = applyUser(entraUser(), patch({ op: 'Replace', path: 'EMAILS[Type eq "WORK"].Value', value: 'x@contoso.com' }));
    expect(result.emails).toEqual([{ value: 'x@contoso.com', type: 'work', primary: true }]);
    expect(applyUser(entraUser(), patch({ op: 'Replace', path: 'DisplayName', value: 'D' })).displayName).toBe('D');
  });
});

describe('applyUserPatch: the enterprise manager and extensions', () => {
  const withManager = frozen({ ...entraUser(), schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA], [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '7', manager: { value: 'old' } } });

  it('manager by bare id, by object, and by a path-less URN key', () => {
    const expected = { ...withManager, [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '7', manager: { value: '2819c223' } } };
    expect(applyUser(withManager, patch({ op: 'Replace', path: `${ENTERPRISE_USER_SCHEMA}:manager`, value: '2819c223' }))).toEqual(expected);
    expect(applyUser(withManager, patch({ op: 'Add', path: `${ENTERPRISE_USER_SCHEMA}:manager`, value: { value: '2819c223' } }))).toEqual(expected);
    expect(applyUser(withManager, patch({ op: 'Replace', value: { [`${ENTERPRISE_USER_SCHEMA}:manager`]: { value: '2819c223' } } }))).toEqual(expected);
    expect(applyUser(entraUser(), patch({ op: 'Add', path: `${ENTERPRISE_USER_SCHEMA}:manager`, value: 'm1' }))).toEqual({
      ...entraUser(),
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      [ENTERPRISE_USER_SCHEMA]: { manager: { value: 'm1' } },
    });
  });

  it('removing the manager, and the last extension attribute drops the extension from schemas', () => {
    const withoutManager = applyUser(withManager, patch({ op: 'Remove', path: `${ENTERPRISE_USER_SCHEMA}:manager` }));
    expect(withoutManager[ENTERPRISE_USER_SCHEMA]).toEqual({ employeeNumber: '7' });
    const empty = applyUser(frozen(withoutManager), patch({ op: 'Remove', path: `${ENTERPRISE_USER_SCHEMA}:employeeNumber` }));
    expect(empty).toEqual(entraUser());
  });

  it('a path-less value keyed by the extension URN merges into the extension', () => {
    const result = applyUser(withManager, patch({ op: 'Replace', value: { [ENTERPRISE_USER_SCHEMA]: { department: 'HR', manager: 'boss' } } }));
    expect(result[ENTERPRISE_USER_SCHEMA]).toEqual({ employeeNumber: '7', manager: { value: 'boss' }, department: 'HR' });
  });

  it('a path naming the whole extension: replace merges attribute by attribute, remove drops it', () => {
    const merged = applyUser(withManager, patch({ op: 'Replace', path: ENTERPRISE_USER_SCHEMA, value: { department: 'R&D', employeeNumber: '8' } }));
    expect(merged[ENTERPRISE_USER_SCHEMA]).toEqual({ employeeNumber: '8', manager: { value: 'old' }, department: 'R&D' });
    expect(applyUser(withManager, patch({ op: 'Remove', path: ENTERPRISE_USER_SCHEMA }))).toEqual(entraUser());
  });

  it('a custom multi-valued attribute: add appends without duplicates, remove by value', () => {
    const tagged = applyUser(entraUser(), patch({ op: 'Add', path: `${INFO}:tags`, value: ['a', 'b'] }, { op: 'Add', path: `${INFO}:tags`, value: ['b', 'c'] }));
    expect(tagged[INFO]).toEqual({ tags: ['a', 'b', 'c'] });
    expect(applyUser(frozen(tagged), patch({ op: 'Remove', path: `${INFO}:tags`, value: ['b', 'x'] }))[INFO]).toEqual({ tags: ['a', 'c'] });
  });

  it('a declared custom extension is accepted, stored and listed in schemas', () => {
    const result = applyUser(
      entraUser(),
      patch({ op: 'Add', path: `${INFO}:info1`, value: 'one' }, { op: 'Replace', value: { [`${INFO.toUpperCase()}:INFO2`]: 'two' } }),
    );
    expect(result).toEqual({ ...entraUser(), schemas: [CORE_USER_SCHEMA, INFO], [INFO]: { info1: 'one', info2: 'two' } });
  });
});

describe('applyUserPatch: add, replace and remove semantics', () => {
  it('Add to emails appends; a new primary takes primary from the old one', () => {
    const result = applyUser(entraUser(), patch({ op: 'Add', path: 'emails', value: [{ value: 'ann@home.example', type: 'home', primary: true }] }));
    expect(result.emails).toEqual([
      { value: 'Test_User_11bb11bb@testuser.com', type: 'work', primary: false },
      { value: 'ann@home.example', type: 'home', primary: true },
    ]);
  });

  it('re-adding an existing email does not duplicate it', () => {
    const result = applyUser(entraUser(), patch({ op: 'Add', path: 'emails', value: [{ value: 'TEST_USER_11bb11bb@testuser.com', type: 'work' }] }));
    expect(result.emails).toEqual([{ value: 'TEST_USER_11bb11bb@testuser.com', type: 'work', primary: true }]);
  });

  it('Replace emails replaces the whole list; replace on name merges sub-attributes', () => {
    const result = applyUser(
      entraUser(),
      patch({ op: 'Replace', path: 'emails', value: [{ value: 'new@contoso.com', type: 'work' }] }, { op: 'replace', value: { name: { givenName: 'G' } } }),
    );
    expect(result.emails).toEqual([{ value: 'new@contoso.com', type: 'work' }]);
    expect(result.name).toEqual({ formatted: 'givenName familyName', familyName: 'familyName', givenName: 'G' });
  });

  it('Remove a filtered entry, a sub-attribute, and an attribute', () => {
    const current = frozen({ ...entraUser(), title: 'Boss', emails: [...entraUser().emails!, { value: 'h@home.example', type: 'home' }] });
    const result = applyUser(
      current,
      patch({ op: 'Remove', path: 'emails[type eq "home"]' }, { op: 'Remove', path: 'name.givenName' }, { op: 'Remove', path: 'title' }),
    );
    expect(result).toEqual({ ...entraUser(), name: { formatted: 'givenName familyName', familyName: 'familyName' } });
  });

  it('removing the value of the only email removes the email entirely', () => {
    const result = applyUser(entraUser(), patch({ op: 'Remove', path: 'emails[type eq "work"].value' }));
    const { emails: _emails, ...rest } = entraUser();
    expect(result).toEqual(rest);
  });

  it('removing an attribute that is not there is a no-op', () => {
    expect(applyUser(entraUser(), patch({ op: 'Remove', path: 'title' }, { op: 'Remove', path: `${ENTERPRISE_USER_SCHEMA}:manager` }))).toEqual(entraUser());
  });

  it('add/replace with null removes (null means unassigned)', () => {
    const result = applyUser(entraUser(), patch({ op: 'Replace', path: 'name.formatted', value: null }, { op: 'Replace', value: { externalId: null } }));
    const { externalId: _externalId, ...rest } = entraUser();
    expect(result).toEqual({ ...rest, name: { familyName: 'familyName', givenName: 'givenName' } });
  });

  it('a path-less value may echo schemas, meta and the same id', () => {
    const current = entraUser();
    const result = applyUser(current, patch({ op: 'Replace', value: { schemas: [CORE_USER_SCHEMA], id: current.id, meta: {}, title: 'T' } }));
    expect(result).toEqual({ ...current, title: 'T' });
  });
});

describe('applyUserPatch: bad requests leave the resource untouched', () => {
  it.each([
    ['a body that is not an object', 'invalidSyntax', 'nope'],
    ['no schemas', 'invalidSyntax', { Operations: [{ op: 'add', path: 'title', value: 'x' }] }],
    ['the wrong schema', 'invalidSyntax', { schemas: [CORE_USER_SCHEMA], Operations: [{ op: 'add', path: 'title', value: 'x' }] }],
    ['no Operations', 'invalidSyntax', { schemas: [PATCH_OP_SCHEMA] }],
    ['empty Operations', 'invalidSyntax', patch()],
    ['an unknown op', 'invalidSyntax', patch({ op: 'Copy', path: 'title', value: 'x' })],
    ['an operation that is not an object', 'invalidSyntax', patch('add')],
    ['a remove without a path', 'noTarget', patch({ op: 'Remove' })],
    ['an add without a value', 'invalidValue', patch({ op: 'Add', path: 'title' })],
    ['a path that is not a string', 'invalidPath', patch({ op: 'Add', path: 5, value: 'x' })],
    ['an unknown attribute', 'invalidPath', patch({ op: 'Replace', path: 'nickname2', value: 'x' })],
    ['an unknown sub-attribute', 'invalidPath', patch({ op: 'Replace', path: 'name.middle', value: 'x' })],
    ['an undeclared extension', 'invalidPath', patch({ op: 'Replace', path: 'urn:ietf:params:scim:schemas:extension:other:2.0:User:x', value: 'x' })],
    ['an unknown attribute of a declared extension', 'invalidPath', patch({ op: 'Replace', path: `${INFO}:info3`, value: 'x' })],
    ['an unknown key in a path-less value', 'invalidPath', patch({ op: 'Replace', value: { nickname2: 'x' } })],
    ['a filter on a single-valued attribute', 'invalidPath', patch({ op: 'Replace', path: 'userName[value eq "x"]', value: 'x' })],
    ['a malformed filter in the path', 'invalidPath', patch({ op: 'Replace', path: 'emails[type eq].value', value: 'x' })],
    ['a malformed path', 'invalidPath', patch({ op: 'Replace', path: 'name..givenName', value: 'x' })],
    ['replacing id', 'mutability', patch({ op: 'Replace', path: 'id', value: 'other' })],
    ['replacing meta', 'mutability', patch({ op: 'Replace', path: 'meta.lastModified', value: '2020-01-01T00:00:00Z' })],
    ['a different id in a path-less value', 'mutability', patch({ op: 'Replace', value: { id: 'other' } })],
    ['replacing schemas', 'mutability', patch({ op: 'Replace', path: 'schemas', value: [] })],
    ['removing userName (required)', 'mutability', patch({ op: 'Remove', path: 'userName' })],
    ['replacing userName with null', 'mutability', patch({ op: 'Replace', path: 'userName', value: null })],
    ['a blank userName', 'invalidValue', patch({ op: 'Replace', path: 'userName', value: '  ' })],
    ['a userName that is not a string', 'invalidValue', patch({ op: 'Replace', path: 'userName', value: 5 })],
    ['active that is not a boolean', 'invalidValue', patch({ op: 'Replace', path: 'active', value: 'maybe' })],
    ['emails that are not objects', 'invalidValue', patch({ op: 'Add', path: 'emails', value: ['a@b.c'] })],
    ['a path-less add whose value is not an object', 'invalidValue', patch({ op: 'Add', value: 'x' })],
    ['a filtered remove that matches nothing', 'noTarget', patch({ op: 'Remove', path: 'emails[type eq "home"]' })],
    ['creating from a filter that is not eq', 'noTarget', patch({ op: 'Add', path: 'emails[type co "ho"].value', value: 'x' })],
  ])('%s -> %s', (_label, scimType, body) => {
    const current = entraUser();
    const before = structuredClone(current);
    expectScimError(() => applyUserPatch(current, body, registry), 400, scimType as never);
    expect(current).toEqual(before);
  });

  it(`more than ${MAX_PATCH_OPERATIONS} operations`, () => {
    const operations = Array.from({ length: MAX_PATCH_OPERATIONS + 1 }, () => ({ op: 'add', path: 'title', value: 'x' }));
    expectScimError(() => applyUserPatch(entraUser(), patch(...operations), registry), 400, 'invalidSyntax');
    expect(() => applyUserPatch(entraUser(), patch(...operations.slice(1)), registry)).not.toThrow();
  });

  it('is atomic, and the detail says which operation failed', () => {
    const error = expectScimError(
      () => applyUserPatch(entraUser(), patch({ op: 'Replace', path: 'title', value: 'ok' }, { op: 'Replace', path: 'id', value: 'x' }), registry),
      400,
      'mutability',
    );
    expect(error.detail).toMatch(/^Operations\[1\]: /);
  });
});

describe('parsePatchRequest', () => {
  it('lower-cases op, trims path, and treats a blank path as none', () => {
    expect(parsePatchRequest({ schemas: [PATCH_OP_SCHEMA], operations: [{ Op: 'REPLACE', Path: ' title ', Value: 'x' }, { op: 'Add', path: '', value: { title: 'y' } }] })).toEqual([
      { op: 'replace', path: 'title', value: 'x' },
      { op: 'add', path: undefined, value: { title: 'y' } },
    ]);
  });
});

describe('applyGroupPatch', () => {
  const A = 'f648f8d5ea4e4cd38e9c';
  const B = '7f4bc1a3-285e-48ae-8202-5accb43efb0e';
  const C = 'u1091';
  const empty = (): ScimGroupResource => frozen(group({ id: 'a99962b9f99d4c4fac67', externalId: '8aa1a0c0', displayName: 'displayName' }));
  const withMembers = (): ScimGroupResource => frozen({ ...empty(), members: [{ value: A }, { value: B, display: 'Bea' }] });

  function applyGroup(current: ScimGroupResource, body: unknown) {
    const before = structuredClone(current);
    const result = applyGroupPatch(current, body);
    expect(current).toEqual(before);
    return result;
  }

  it('Add members: several per operation, $ref null', () => {
    const result = applyGroup(empty(), patch({ op: 'Add', path: 'members', value: [{ $ref: null, value: A }, { $ref: null, value: B }] }));
    expect(result).toEqual({ resource: { ...empty(), members: [{ value: A }, { value: B }] }, membersAdded: [A, B], membersRemoved: [] });
  });

  it('Add one member given as an object rather than an array', () => {
    expect(applyGroup(empty(), patch({ op: 'add', path: 'members', value: { value: A } }))).toEqual({
      resource: { ...empty(), members: [{ value: A }] },
      membersAdded: [A],
      membersRemoved: [],
    });
  });

  it('re-adding an existing member is a no-op; only the new one is reported', () => {
    const result = applyGroup(withMembers(), patch({ op: 'Add', path: 'members', value: [{ $ref: null, value: B }, { value: C }] }));
    expect(result).toEqual({ resource: { ...empty(), members: [{ value: A }, { value: B, display: 'Bea' }, { value: C }] }, membersAdded: [C], membersRemoved: [] });
    expect(applyGroup(withMembers(), patch({ op: 'Add', path: 'members', value: [{ value: A }] }))).toEqual({
      resource: withMembers(),
      membersAdded: [],
      membersRemoved: [],
    });
  });

  it('Remove with a value array (default Entra behaviour); absent members are ignored', () => {
    const result = applyGroup(withMembers(), patch({ op: 'Remove', path: 'members', value: [{ $ref: null, value: B }, { value: C }] }));
    expect(result).toEqual({ resource: { ...empty(), members: [{ value: A }] }, membersAdded: [], membersRemoved: [B] });
  });

  it('Remove with a filter path (aadOptscim062020); an absent member is a no-op', () => {
    const result = applyGroup(withMembers(), patch({ op: 'remove', path: `members[value eq "${B}"]` }));
    expect(result).toEqual({ resource: { ...empty(), members: [{ value: A }] }, membersAdded: [], membersRemoved: [B] });
    expect(applyGroup(withMembers(), patch({ op: 'remove', path: `members[value eq "${C}"]` }))).toEqual({
      resource: withMembers(),
      membersAdded: [],
      membersRemoved: [],
    });
  });

  it('removing the last member leaves no members attribute', () => {
    const result = applyGroup(withMembers(), patch({ op: 'Remove', path: 'members', value: [{ value: A }, { value: B }] }));
    expect(result).toEqual({ resource: empty(), membersAdded: [], membersRemoved: [A, B] });
    expect(applyGroup(withMembers(), patch({ op: 'Remove', path: 'members' }))).toEqual({ resource: empty(), membersAdded: [], membersRemoved: [A, B] });
  });

  it('Replace displayName (Update Group [non-member attributes])', () => {
    const result = applyGroup(withMembers(), patch({ op: 'Replace', path: 'displayName', value: '1879db59updatedDisplayName' }));
    expect(result).toEqual({ resource: { ...withMembers(), displayName: '1879db59updatedDisplayName' }, membersAdded: [], membersRemoved: [] });
  });

  it('Replace members reports the difference; a path-less add of members works too', () => {
    expect(applyGroup(withMembers(), patch({ op: 'Replace', path: 'members', value: [{ value: B }, { value: C }] }))).toEqual({
      resource: { ...empty(), members: [{ value: B }, { value: C }] },
      membersAdded: [C],
      membersRemoved: [A],
    });
    expect(applyGroup(empty(), patch({ op: 'Add', value: { members: [{ value: C }], externalId: 'new' } }))).toEqual({
      resource: { ...empty(), externalId: 'new', members: [{ value: C }] },
      membersAdded: [C],
      membersRemoved: [],
    });
  });

  it('adding then removing a member in one request nets to nothing', () => {
    const result = applyGroup(empty(), patch({ op: 'Add', path: 'members', value: [{ value: C }] }, { op: 'Remove', path: 'members', value: [{ value: C }] }));
    expect(result).toEqual({ resource: empty(), membersAdded: [], membersRemoved: [] });
  });

  it.each([
    ['changing a member in place', 'mutability', patch({ op: 'Replace', path: `members[value eq "${A}"].display`, value: 'x' })],
    ['rewriting a member element', 'mutability', patch({ op: 'Replace', path: `members[value eq "${A}"]`, value: { value: 'x' } })],
    ['removing displayName', 'mutability', patch({ op: 'Remove', path: 'displayName' })],
    ['a member without a value', 'invalidValue', patch({ op: 'Add', path: 'members', value: [{ display: 'x' }] })],
    ['removing a member without a value', 'invalidValue', patch({ op: 'Remove', path: 'members', value: [{ display: 'x' }] })],
    ['a user attribute', 'invalidPath', patch({ op: 'Replace', path: 'userName', value: 'x' })],
    ['an extension', 'invalidPath', patch({ op: 'Replace', path: `${ENTERPRISE_USER_SCHEMA}:employeeNumber`, value: 'x' })],
  ])('%s -> %s', (_label, scimType, body) => {
    const current = withMembers();
    expectScimError(() => applyGroupPatch(current, body), 400, scimType as never);
  });
});

describe('memberIdsTouched', () => {
  it("names the members of Entra's membership updates", () => {
    expect(memberIdsTouched(patch({ op: 'Add', path: 'members', value: [{ $ref: null, value: 'a' }, { value: 'b' }] }))).toEqual(['a', 'b']);
    expect(memberIdsTouched(patch({ op: 'Remove', path: 'Members', value: [{ value: 'a' }] }, { op: 'remove', path: 'members[value eq "c"]' }))).toEqual(['a', 'c']);
    expect(memberIdsTouched(patch({ op: 'add', path: 'urn:ietf:params:scim:schemas:core:2.0:Group:members', value: { value: 'a' } }))).toEqual(['a']);
    expect(memberIdsTouched(patch({ op: 'Add', path: 'members', value: [] }))).toEqual([]);
  });

  it.each([
    ['a replace of members', patch({ op: 'Replace', path: 'members', value: [{ value: 'a' }] })],
    ['a remove of every member', patch({ op: 'Remove', path: 'members' })],
    ['another attribute as well', patch({ op: 'Add', path: 'members', value: [{ value: 'a' }] }, { op: 'Replace', path: 'displayName', value: 'x' })],
    ['a path-less add', patch({ op: 'Add', value: { members: [{ value: 'a' }] } })],
    ['a bare id', patch({ op: 'Add', path: 'members', value: ['a'] })],
    ['a value that is not a string', patch({ op: 'Add', path: 'members', value: [{ value: 7 }] })],
    ['another filter', patch({ op: 'Remove', path: 'members[display eq "a"]' })],
    ['an escaped id', patch({ op: 'Remove', path: 'members[value eq "a\\"b"]' })],
    ['an add on a filter', patch({ op: 'Add', path: 'members[value eq "a"]', value: { value: 'a' } })],
    ['an invalid body', { Operations: [] }],
  ])('is null (the general path) for %s', (_name, body) => {
    expect(memberIdsTouched(body)).toBeNull();
  });

  it('applying the PATCH to the named members alone gives the same change as applying it to the whole list', () => {
    const body = patch({ op: 'Add', path: 'members', value: [{ value: 'c' }, { value: 'a' }] }, { op: 'Remove', path: 'members[value eq "b"]' });
    const whole = applyGroupPatch(frozen(group({ id: 'g', displayName: 'G', members: ['a', 'b', 'x', 'y'].map((value) => ({ value })) })), body);
    const touched = memberIdsTouched(body)!;
    const partial = applyGroupPatch(frozen(group({ id: 'g', displayName: 'G', members: ['a', 'b'].filter((v) => touched.includes(v)).map((value) => ({ value })) })), body);
    expect(partial.membersAdded).toEqual(whole.membersAdded);
    expect(partial.membersRemoved).toEqual(whole.membersRemoved);
    expect(whole).toMatchObject({ membersAdded: ['c'], membersRemoved: ['b'] });
  });
});
