import { ValidationError } from '../../src/common/errors';
import { LIST_RESPONSE_SCHEMA } from '../../src/scim/list';
import {
  CORE_GROUP_SCHEMA,
  CORE_USER_SCHEMA,
  ENTERPRISE_USER_SCHEMA,
  parseExtensionDeclarations,
  resourceTypeDocument,
  resourceTypesDocument,
  schemaDocument,
  schemasDocument,
  ScimSchemaRegistry,
  serviceProviderConfig,
  type ScimAttributeDefinition,
} from '../../src/scim/schemas';

const BASE = 'https://gatehouse.example.com/scim/v2';
const INFO = 'urn:ietf:params:scim:schemas:extension:info:2.0:User';
const info = { id: INFO, name: 'Info', attributes: [{ name: 'info1', type: 'string' }, { name: 'info2', type: 'string' }] };
const registry = ScimSchemaRegistry.create([info]);

/** Every value in a discovery document, recursively, so we can check none is null or undefined. */
function leaves(value: unknown): unknown[] {
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (typeof value === 'object' && value !== null) return Object.values(value).flatMap(leaves);
  return [value];
}

describe('custom extension declarations', () => {
  it('accepts the documented example', () => {
    expect(parseExtensionDeclarations([info])).toEqual([info]);
    expect(registry.customSchemas.map((schema) => schema.id)).toEqual([INFO]);
    expect(registry.userExtensions.map((schema) => schema.id)).toEqual([ENTERPRISE_USER_SCHEMA, INFO]);
  });

  it.each([
    ['an id that is not a URN', [{ ...info, id: 'info' }]],
    ['a URN with a space', [{ ...info, id: 'urn:acme:my ext' }]],
    ['the core User URN', [{ ...info, id: CORE_USER_SCHEMA }]],
    ['the enterprise URN', [{ ...info, id: ENTERPRISE_USER_SCHEMA }]],
    ['a SCIM message URN', [{ ...info, id: 'urn:ietf:params:scim:api:messages:2.0:Custom' }]],
    ['no attributes', [{ ...info, attributes: [] }]],
    ['an attribute name with a dot', [{ ...info, attributes: [{ name: 'info.1', type: 'string' }] }]],
    ['an attribute name starting with a digit', [{ ...info, attributes: [{ name: '1info', type: 'string' }] }]],
    ['a complex attribute', [{ ...info, attributes: [{ name: 'x', type: 'complex' }] }]],
    ['attribute names equal but for case', [{ ...info, attributes: [{ name: 'info1', type: 'string' }, { name: 'INFO1', type: 'boolean' }] }]],
    ['the same URN twice', [info, { ...info }]],
    ['a URN that prefixes another', [info, { ...info, id: `${INFO}:More` }]],
    ['an unknown property', [{ ...info, colour: 'red' }]],
    ['not an array', info],
  ])('refuses %s with a ValidationError', (_label, declarations) => {
    expect(() => ScimSchemaRegistry.create(declarations)).toThrow(ValidationError);
  });

  it('resolves fully qualified paths, longest URN first, case-insensitively', () => {
    expect(registry.splitSchemaPrefix('User', `${CORE_USER_SCHEMA}:name.givenName`)).toEqual({ kind: 'core', rest: 'name.givenName' });
    expect(registry.splitSchemaPrefix('User', `${INFO.toUpperCase()}:info1`)).toMatchObject({ kind: 'extension', rest: 'info1', schema: { id: INFO } });
    expect(registry.splitSchemaPrefix('User', ENTERPRISE_USER_SCHEMA)).toMatchObject({ kind: 'extension', rest: '' });
    expect(registry.splitSchemaPrefix('User', 'urn:acme:x:attr')).toEqual({ kind: 'unknownSchema' });
    expect(registry.splitSchemaPrefix('Group', `${INFO}:info1`)).toMatchObject({ kind: 'unknownSchema' });
    expect(registry.splitSchemaPrefix('Group', `${CORE_GROUP_SCHEMA}:displayName`)).toEqual({ kind: 'core', rest: 'displayName' });
  });
});

describe('discovery documents', () => {
  it('/ServiceProviderConfig', () => {
    expect(serviceProviderConfig(`${BASE}/`)).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
      patch: { supported: true },
      bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
      filter: { supported: true, maxResults: 200 },
      changePassword: { supported: false },
      sort: { supported: false },
      etag: { supported: true },
      authenticationSchemes: [
        {
          type: 'oauthbearertoken',
          name: 'OAuth Bearer Token',
          description: expect.any(String),
          specUri: 'https://www.rfc-editor.org/info/rfc6750',
          primary: true,
        },
      ],
      meta: { resourceType: 'ServiceProviderConfig', location: `${BASE}/ServiceProviderConfig` },
    });
  });

  it('/ResourceTypes lists the enterprise and the declared custom extension on User', () => {
    const document = resourceTypesDocument(registry, BASE);
    expect(document).toEqual({
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: 2,
      startIndex: 1,
      itemsPerPage: 2,
      Resources: [
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
          id: 'User',
          name: 'User',
          endpoint: '/Users',
          description: 'User Account',
          schema: CORE_USER_SCHEMA,
          schemaExtensions: [
            { schema: ENTERPRISE_USER_SCHEMA, required: false },
            { schema: INFO, required: false },
          ],
          meta: { resourceType: 'ResourceType', location: `${BASE}/ResourceTypes/User` },
        },
        {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
          id: 'Group',
          name: 'Group',
          endpoint: '/Groups',
          description: 'Group',
          schema: CORE_GROUP_SCHEMA,
          schemaExtensions: [],
          meta: { resourceType: 'ResourceType', location: `${BASE}/ResourceTypes/Group` },
        },
      ],
    });
    expect(resourceTypeDocument(registry, BASE, 'group')?.endpoint).toBe('/Groups');
    expect(resourceTypeDocument(registry, BASE, 'Device')).toBeUndefined();
    expect(resourceTypesDocument(ScimSchemaRegistry.standard(), BASE).Resources[0]!.schemaExtensions).toEqual([
      { schema: ENTERPRISE_USER_SCHEMA, required: false },
    ]);
  });

  it('/Schemas has User, Group, enterprise and the custom extension with full attribute definitions', () => {
    const document = schemasDocument(registry, BASE);
    expect(document.schemas).toEqual([LIST_RESPONSE_SCHEMA]);
    expect(document.Resources.map((schema) => schema.id)).toEqual([CORE_USER_SCHEMA, CORE_GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA, INFO]);
    expect(document.totalResults).toBe(4);

    const userSchema = document.Resources[0]!;
    const attribute = (name: string): ScimAttributeDefinition | undefined => userSchema.attributes.find((candidate) => candidate.name === name);
    expect(attribute('userName')).toEqual({
      name: 'userName',
      type: 'string',
      multiValued: false,
      description: expect.any(String),
      required: true,
      caseExact: false,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'server',
    });
    expect(attribute('emails')).toMatchObject({ type: 'complex', multiValued: true });
    expect(attribute('emails')!.subAttributes!.map((sub) => sub.name)).toEqual(['value', 'display', 'type', 'primary']);
    expect(attribute('emails')!.subAttributes![2]).toMatchObject({ name: 'type', canonicalValues: ['work', 'home', 'other'] });
    // Common attributes are not part of a schema's attribute list (RFC 7643 §8.7.1).
    expect(attribute('id')).toBeUndefined();
    expect(attribute('meta')).toBeUndefined();
    expect(userSchema.meta).toEqual({ resourceType: 'Schema', location: `${BASE}/Schemas/${CORE_USER_SCHEMA}` });

    const members = document.Resources[1]!.attributes.find((candidate) => candidate.name === 'members')!;
    expect(members.subAttributes!.find((sub) => sub.name === 'value')).toMatchObject({ mutability: 'immutable', caseExact: true });

    const manager = document.Resources[2]!.attributes.find((candidate) => candidate.name === 'manager')!;
    expect(manager.subAttributes!.find((sub) => sub.name === 'displayName')).toMatchObject({ mutability: 'readOnly' });

    expect(document.Resources[3]).toEqual({
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'],
      id: INFO,
      name: 'Info',
      description: expect.any(String),
      attributes: ['info1', 'info2'].map((name) => ({
        name,
        type: 'string',
        multiValued: false,
        description: '',
        required: false,
        caseExact: false,
        mutability: 'readWrite',
        returned: 'default',
        uniqueness: 'none',
      })),
      meta: { resourceType: 'Schema', location: `${BASE}/Schemas/${INFO}` },
    });
  });

  it('never contains null or undefined (Entra: do not send nulls)', () => {
    for (const document of [serviceProviderConfig(BASE), resourceTypesDocument(registry, BASE), schemasDocument(registry, BASE)]) {
      expect(leaves(document).filter((value) => value === null || value === undefined)).toEqual([]);
      expect(JSON.parse(JSON.stringify(document))).toEqual(document);
    }
  });

  it('/Schemas/{urn} case-insensitively; unknown URN -> undefined', () => {
    expect(schemaDocument(registry, BASE, INFO.toLowerCase())?.id).toBe(INFO);
    expect(schemaDocument(registry, BASE, ENTERPRISE_USER_SCHEMA)?.name).toBe('EnterpriseUser');
    expect(schemaDocument(registry, BASE, 'urn:acme:nope')).toBeUndefined();
    expect(schemaDocument(ScimSchemaRegistry.standard(), BASE, INFO)).toBeUndefined();
  });

  it('a document is a copy: changing it does not change the registry', () => {
    const document = schemaDocument(registry, BASE, CORE_USER_SCHEMA)!;
    (document.attributes[1]!.subAttributes as ScimAttributeDefinition[]).length = 0; // name's sub-attributes
    document.attributes.length = 0;
    const fresh = schemaDocument(registry, BASE, CORE_USER_SCHEMA)!;
    expect(fresh.attributes[1]!.name).toBe('name');
    expect(fresh.attributes[1]!.subAttributes!.length).toBeGreaterThan(0);
    expect(registry.coreAttribute('User', 'name')!.subAttributes!.length).toBeGreaterThan(0);
  });
});
