import { projectAttributes, primaryEmailOf, validateGroupCreate, validateUserCreate } from '../../src/scim/resources';
import { CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, ScimSchemaRegistry } from '../../src/scim/schemas';
import { expectScimError, frozen, group, user } from './helpers';

const INFO = 'urn:ietf:params:scim:schemas:extension:info:2.0:User';
const registry = ScimSchemaRegistry.create([
  {
    id: INFO,
    name: 'Info',
    attributes: [
      { name: 'info1', type: 'string' },
      { name: 'info2', type: 'string' },
      { name: 'level', type: 'integer' },
      { name: 'contractor', type: 'boolean' },
      { name: 'tags', type: 'string', multiValued: true },
    ],
  },
]);

describe('validateUserCreate', () => {
  it("accepts Microsoft's Create User request as sent, and canonicalises it", () => {
    const body = {
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_11bb11bb@testuser.com' }],
      meta: { resourceType: 'User' },
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
      roles: [],
    };
    expect(validateUserCreate(frozen(body), registry)).toEqual({
      schemas: [CORE_USER_SCHEMA],
      externalId: '0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef',
      userName: 'Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee',
      active: true,
      emails: [{ primary: true, type: 'work', value: 'Test_User_11bb11bb@testuser.com' }],
      name: { formatted: 'givenName familyName', familyName: 'familyName', givenName: 'givenName' },
    });
  });

  it('keeps enterprise and declared custom extension data, coerces types, and lists the extensions in schemas', () => {
    const result = validateUserCreate(
      {
        schemas: [CORE_USER_SCHEMA],
        userName: 'ann@contoso.com',
        active: 'False',
        [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '701984', manager: 'boss-id', department: null },
        [INFO]: { info1: 'a', LEVEL: '3', contractor: 'True', tags: ['x', null, 'y'] },
        [`${INFO}:info2`]: 'b',
      },
      registry,
    );
    expect(result).toEqual({
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, INFO],
      userName: 'ann@contoso.com',
      active: false,
      [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '701984', manager: { value: 'boss-id' } },
      [INFO]: { info1: 'a', info2: 'b', level: 3, contractor: true, tags: ['x', 'y'] },
    });
  });

  it('matches attribute names case-insensitively; ignores readOnly and unmodelled core attributes and nulls', () => {
    const result = validateUserCreate(
      {
        SCHEMAS: [CORE_USER_SCHEMA.toUpperCase()],
        USERNAME: 'ann@contoso.com',
        Name: { GivenName: 'Ann', middle: 'ignored' },
        id: 'client-chosen',
        meta: { created: 'x' },
        x509Certificates: [{ value: 'MII...' }],
        title: null,
        [ENTERPRISE_USER_SCHEMA]: { manager: { value: 'm', displayName: 'readOnly, ignored' } },
      },
      registry,
    );
    expect(result).toEqual({
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      userName: 'ann@contoso.com',
      name: { givenName: 'Ann' },
      [ENTERPRISE_USER_SCHEMA]: { manager: { value: 'm' } },
    });
  });

  it.each([
    ['a body that is not an object', 'invalidSyntax', []],
    ['no schemas', 'invalidSyntax', { userName: 'a' }],
    ['schemas without the core User schema', 'invalidSyntax', { schemas: [CORE_GROUP_SCHEMA], userName: 'a' }],
    ['no userName', 'invalidValue', { schemas: [CORE_USER_SCHEMA] }],
    ['a blank userName', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: '  ' }],
    ['a userName that is not a string', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 42 }],
    ['active that is not a boolean', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', active: 'yes' }],
    ['an email without a string value', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', emails: [{ value: 5 }] }],
    ['two primary emails', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', emails: [{ value: 'a', primary: true }, { value: 'b', primary: 'True' }] }],
    ['an undeclared extension', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', 'urn:ietf:params:scim:schemas:extension:other:2.0:User': { x: '1' } }],
    ['an undeclared attribute of a declared extension', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', [INFO]: { info3: 'x' } }],
    ['an extension that is not an object', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', [INFO]: 'x' }],
    ['an integer attribute given text', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a', [INFO]: { level: 'high' } }],
    ['an overlong string', 'invalidValue', { schemas: [CORE_USER_SCHEMA], userName: 'a'.repeat(2049) }],
  ])('%s -> 400 %s', (_label, scimType, body) => {
    expectScimError(() => validateUserCreate(body, registry), 400, scimType as never);
  });

  it('names the offending attribute in the detail', () => {
    const error = expectScimError(() => validateUserCreate({ schemas: [CORE_USER_SCHEMA], userName: 'a', emails: [{ value: 5 }] }, registry), 400, 'invalidValue');
    expect(error.detail).toContain('emails.0.value');
  });
});

describe('validateGroupCreate', () => {
  it("accepts Microsoft's Create Group request (with its extra non-URN schema)", () => {
    expect(
      validateGroupCreate({
        schemas: [CORE_GROUP_SCHEMA, 'http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group'],
        externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159',
        displayName: 'displayName',
        meta: { resourceType: 'Group' },
      }),
    ).toEqual({ schemas: [CORE_GROUP_SCHEMA], externalId: '8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159', displayName: 'displayName' });
  });

  it('de-duplicates members by value and drops null $ref', () => {
    expect(
      validateGroupCreate({ schemas: [CORE_GROUP_SCHEMA], displayName: 'G', members: [{ value: 'a', $ref: null }, { value: 'b' }, { value: 'a', display: 'A' }] }),
    ).toEqual({ schemas: [CORE_GROUP_SCHEMA], displayName: 'G', members: [{ value: 'a' }, { value: 'b' }] });
  });

  it.each([
    ['no displayName', 'invalidValue', { schemas: [CORE_GROUP_SCHEMA] }],
    ['a member without a value', 'invalidValue', { schemas: [CORE_GROUP_SCHEMA], displayName: 'G', members: [{ display: 'x' }] }],
    ['the User schema', 'invalidSyntax', { schemas: [CORE_USER_SCHEMA], displayName: 'G' }],
    ['an extension (groups have none)', 'invalidValue', { schemas: [CORE_GROUP_SCHEMA], displayName: 'G', [ENTERPRISE_USER_SCHEMA]: {} }],
  ])('%s -> 400 %s', (_label, scimType, body) => {
    expectScimError(() => validateGroupCreate(body), 400, scimType as never);
  });
});

describe('projectAttributes', () => {
  const ann = frozen(
    user({
      id: 'u1',
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      userName: 'ann@contoso.com',
      displayName: 'Ann',
      name: { givenName: 'Ann', familyName: 'Lee' },
      emails: [
        { value: 'ann@contoso.com', type: 'work', primary: true },
        { value: 'ann@home.example', type: 'home' },
      ],
      [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '7', department: 'HR' },
    }),
  );
  const always = { id: ann.id, meta: ann.meta };

  it('returns everything by default, as a copy', () => {
    const projected = projectAttributes(ann, {});
    expect(projected).toEqual(ann);
    expect(projected).not.toBe(ann);
    expect(projected.emails).not.toBe(ann.emails);
  });

  it('excludedAttributes=members for groups (what Entra asks for)', () => {
    const engineering = frozen(group({ id: 'g1', displayName: 'Engineering', externalId: 'e', members: [{ value: 'u1' }] }));
    expect(projectAttributes(engineering, { excludedAttributes: ['members'] })).toEqual({
      schemas: [CORE_GROUP_SCHEMA],
      id: 'g1',
      meta: engineering.meta,
      displayName: 'Engineering',
      externalId: 'e',
    });
  });

  it('attributes keeps only those (plus id, schemas, meta), case-insensitively, with sub-attributes', () => {
    expect(projectAttributes(ann, { attributes: ['USERNAME', 'name.givenName', 'emails.value'] })).toEqual({
      ...always,
      schemas: [CORE_USER_SCHEMA],
      userName: 'ann@contoso.com',
      name: { givenName: 'Ann' },
      emails: [{ value: 'ann@contoso.com' }, { value: 'ann@home.example' }],
    });
  });

  it('understands URN-qualified names and whole extensions', () => {
    expect(projectAttributes(ann, { attributes: [`${CORE_USER_SCHEMA}:displayName`, `${ENTERPRISE_USER_SCHEMA}:employeeNumber`] })).toEqual({
      ...always,
      schemas: [CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA],
      displayName: 'Ann',
      [ENTERPRISE_USER_SCHEMA]: { employeeNumber: '7' },
    });
    const withoutExtension = projectAttributes(ann, { excludedAttributes: [ENTERPRISE_USER_SCHEMA.toLowerCase()] });
    expect(withoutExtension[ENTERPRISE_USER_SCHEMA]).toBeUndefined();
    expect(withoutExtension.schemas).toEqual([CORE_USER_SCHEMA]);
  });

  it('never drops id, schemas or meta, and ignores names that match nothing', () => {
    expect(projectAttributes(ann, { attributes: ['nope'], excludedAttributes: ['id', 'meta', 'schemas'] })).toEqual({ ...always, schemas: [CORE_USER_SCHEMA] });
  });

  it('excludes sub-attributes', () => {
    const projected = projectAttributes(ann, { excludedAttributes: ['name.familyName', 'emails.type', `${ENTERPRISE_USER_SCHEMA}:department`] });
    expect(projected.name).toEqual({ givenName: 'Ann' });
    expect(projected.emails).toEqual([{ value: 'ann@contoso.com', primary: true }, { value: 'ann@home.example' }]);
    expect(projected[ENTERPRISE_USER_SCHEMA]).toEqual({ employeeNumber: '7' });
  });
});

describe('primaryEmailOf', () => {
  it('primary first, then type work, then the first; blanks skipped', () => {
    expect(primaryEmailOf({ emails: [{ value: 'a@x', type: 'work' }, { value: 'b@x', primary: true }] })).toBe('b@x');
    expect(primaryEmailOf({ emails: [{ value: 'a@x', type: 'home' }, { value: 'b@x', type: 'Work' }] })).toBe('b@x');
    expect(primaryEmailOf({ emails: [{ value: 'a@x', type: 'home' }, { value: 'b@x', type: 'other' }] })).toBe('a@x');
    expect(primaryEmailOf({ emails: [{ value: ' ', primary: true }, { value: 'c@x' }] })).toBe('c@x');
    expect(primaryEmailOf({ emails: [] })).toBeNull();
    expect(primaryEmailOf({})).toBeNull();
  });
});
