/**
 * The SCIM schemas Gatehouse serves (RFC 7643 §4, §7, §8.7): core User and Group, the enterprise User extension,
 * and the custom User extensions each connection declares (for apps that define e.g.
 * `urn:ietf:params:scim:schemas:extension:info:2.0:User` with `info1`/`info2`).
 *
 * One ScimSchemaRegistry per connection is the single source of truth for: the discovery documents
 * (/ServiceProviderConfig, /ResourceTypes, /Schemas), request validation (resources.ts) and PATCH path resolution
 * (patch.ts). Filters are the exception: their attribute allow-list is fixed (query.ts) because every store adapter
 * has to translate each filterable attribute.
 */
import { z } from 'zod';
import { parseInput } from '../common/validation';
import { listResponse, MAX_RESULTS, type ListResponse } from './list';

export const CORE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const CORE_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
export const RESOURCE_TYPE_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
export const SERVICE_PROVIDER_CONFIG_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';

export type ScimResourceKind = 'User' | 'Group';
export type ScimAttributeType = 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'complex' | 'binary';
export type ScimMutability = 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
export type ScimReturned = 'always' | 'never' | 'default' | 'request';
export type ScimUniqueness = 'none' | 'server' | 'global';

/** One attribute definition, exactly as /Schemas shows it (RFC 7643 §7). */
export interface ScimAttributeDefinition {
  readonly name: string;
  readonly type: ScimAttributeType;
  readonly multiValued: boolean;
  readonly description: string;
  readonly required: boolean;
  readonly caseExact: boolean;
  readonly mutability: ScimMutability;
  readonly returned: ScimReturned;
  readonly uniqueness: ScimUniqueness;
  readonly canonicalValues?: readonly string[];
  readonly referenceTypes?: readonly string[];
  readonly subAttributes?: readonly ScimAttributeDefinition[];
}

export interface ScimSchemaDefinition {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly attributes: readonly ScimAttributeDefinition[];
}

type AttributeOptions = Partial<Omit<ScimAttributeDefinition, 'name' | 'type' | 'description'>>;

/** RFC 7643 §7 defaults: single-valued, optional, case-insensitive, readWrite, returned by default, not unique. */
function attr(name: string, type: ScimAttributeType, description: string, options: AttributeOptions = {}): ScimAttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}

function multiValuedComplex(name: string, description: string, subAttributes: ScimAttributeDefinition[]): ScimAttributeDefinition {
  return attr(name, 'complex', description, { multiValued: true, subAttributes });
}

/** The usual value/display/type/primary quadruple of emails, phoneNumbers, roles. */
function typedValues(kind: string, valueDescription: string, types: readonly string[] | undefined): ScimAttributeDefinition[] {
  return [
    attr('value', 'string', valueDescription),
    attr('display', 'string', `A human-readable name for the ${kind}, for display purposes.`),
    attr('type', 'string', `A label indicating the ${kind}'s function.`, types ? { canonicalValues: types } : {}),
    attr('primary', 'boolean', `Whether this is the preferred ${kind}. At most one value may be primary.`),
  ];
}

/**
 * id, externalId and meta (RFC 7643 §3.1): on every resource, resolvable in paths, but not listed in /Schemas
 * (the RFC's own schema representations leave them out).
 */
export const COMMON_ATTRIBUTES: readonly ScimAttributeDefinition[] = [
  attr('id', 'string', 'Identifier of the resource, assigned by Gatehouse.', {
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
  }),
  attr('externalId', 'string', "The client's identifier for the resource.", { caseExact: true }),
  attr('meta', 'complex', 'Resource metadata, maintained by Gatehouse.', {
    mutability: 'readOnly',
    subAttributes: [
      attr('resourceType', 'string', 'The resource type.', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', 'When the resource was created.', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', 'When the resource was last changed.', { mutability: 'readOnly' }),
      attr('location', 'reference', 'The URI of the resource.', { mutability: 'readOnly', referenceTypes: ['uri'] }),
      attr('version', 'string', 'The entity tag of the resource.', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

const USER_SCHEMA: ScimSchemaDefinition = {
  id: CORE_USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', 'Unique identifier for the User, typically the UPN. Compared case-insensitively.', {
      required: true,
      uniqueness: 'server',
    }),
    attr('name', 'complex', "The components of the user's name.", {
      subAttributes: [
        attr('formatted', 'string', 'The full name, formatted for display.'),
        attr('familyName', 'string', 'The family name (last name).'),
        attr('givenName', 'string', 'The given name (first name).'),
        attr('middleName', 'string', 'The middle name(s).'),
        attr('honorificPrefix', 'string', 'The honorific prefix (title), e.g. "Ms.".'),
        attr('honorificSuffix', 'string', 'The honorific suffix, e.g. "III".'),
      ],
    }),
    attr('displayName', 'string', 'The name of the User, suitable for display.'),
    attr('nickName', 'string', 'The casual way to address the user.'),
    attr('profileUrl', 'reference', "A URI of the user's online profile.", { referenceTypes: ['external'] }),
    attr('title', 'string', "The user's title, e.g. \"Vice President\"."),
    attr('userType', 'string', 'The relationship between the organization and the user, e.g. "Employee".'),
    attr('preferredLanguage', 'string', "The user's preferred written or spoken language, e.g. \"en-US\"."),
    attr('locale', 'string', "The user's default location, e.g. \"en-US\"."),
    attr('timezone', 'string', "The user's time zone in IANA format, e.g. \"Europe/Paris\"."),
    attr('active', 'boolean', "The user's administrative status. Disabled users are kept and still returned."),
    multiValuedComplex(
      'emails',
      'Email addresses for the user.',
      typedValues('email address', 'The email address.', ['work', 'home', 'other']),
    ),
    multiValuedComplex(
      'phoneNumbers',
      'Phone numbers for the user.',
      typedValues('phone number', 'The phone number.', ['work', 'home', 'mobile', 'fax', 'pager', 'other']),
    ),
    multiValuedComplex('addresses', 'Physical mailing addresses for the user.', [
      attr('formatted', 'string', 'The full mailing address, formatted for display.'),
      attr('streetAddress', 'string', 'The street address.'),
      attr('locality', 'string', 'The city or locality.'),
      attr('region', 'string', 'The state or region.'),
      attr('postalCode', 'string', 'The zip or postal code.'),
      attr('country', 'string', 'The country.'),
      attr('type', 'string', "A label indicating the address's function.", { canonicalValues: ['work', 'home', 'other'] }),
      attr('primary', 'boolean', 'Whether this is the preferred address. At most one value may be primary.'),
    ]),
    multiValuedComplex('roles', 'Roles of the user (e.g. from app role assignments).', typedValues('role', 'The role.', undefined)),
  ],
};

const GROUP_SCHEMA: ScimSchemaDefinition = {
  id: CORE_GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group.', { required: true }),
    multiValuedComplex('members', 'The members of the Group. Members are added and removed; their sub-attributes are immutable.', [
      attr('value', 'string', 'The id of the member resource.', { caseExact: true, mutability: 'immutable', required: true }),
      attr('$ref', 'reference', 'The URI of the member resource.', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
      attr('type', 'string', 'The type of the member resource.', { mutability: 'immutable', canonicalValues: ['User', 'Group'] }),
      attr('display', 'string', 'A human-readable name of the member.', { mutability: 'immutable' }),
    ]),
  ],
};

const ENTERPRISE_SCHEMA: ScimSchemaDefinition = {
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('employeeNumber', 'string', 'Identifier assigned to the person by the organization (e.g. Entra employeeId).'),
    attr('costCenter', 'string', 'The cost center.'),
    attr('organization', 'string', 'The organization.'),
    attr('division', 'string', 'The division.'),
    attr('department', 'string', 'The department.'),
    attr('manager', 'complex', "The user's manager.", {
      subAttributes: [
        attr('value', 'string', 'The id of the manager (Entra sends its own object id or the manager\'s SCIM id).', { caseExact: true }),
        attr('$ref', 'reference', 'The URI of the manager resource.', { referenceTypes: ['User'] }),
        attr('displayName', 'string', "The manager's display name.", { mutability: 'readOnly' }),
      ],
    }),
  ],
};

// ---- custom extension declarations ------------------------------------------------------------------------------

/** The attribute types a connection may declare for a custom extension attribute. */
export type CustomAttributeType = 'string' | 'boolean' | 'integer' | 'dateTime' | 'reference';

/** A custom attribute is always optional and compared case-insensitively; it is stored and returned, not filtered. */
export interface CustomExtensionAttributeDeclaration {
  name: string;
  type: CustomAttributeType;
  multiValued?: boolean;
  description?: string;
}

/** A custom User extension as a connection declares it (stored with the connection's settings). */
export interface CustomExtensionDeclaration {
  id: string;
  name?: string;
  description?: string;
  attributes: CustomExtensionAttributeDeclaration[];
}

// RFC 8141 urn:<NID>:<NSS>, with the NSS narrowed to characters that cannot be confused with path or filter syntax.
const URN_PATTERN = /^urn:[a-z0-9][a-z0-9-]{0,30}[a-z0-9]:[a-z0-9._:-]*[a-z0-9]$/i;
// RFC 7643 §2.1 ATTRNAME.
const ATTRIBUTE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const RESERVED_URN_PREFIXES = ['urn:ietf:params:scim:schemas:core:', 'urn:ietf:params:scim:api:', ENTERPRISE_USER_SCHEMA.toLowerCase()];

const customAttributeSchema = z.strictObject({
  name: z.string().regex(ATTRIBUTE_NAME_PATTERN, 'must start with a letter and contain only letters, digits, "-" and "_"'),
  type: z.enum(['string', 'boolean', 'integer', 'dateTime', 'reference']),
  multiValued: z.boolean().optional(),
  description: z.string().max(1000).optional(),
});

const customExtensionSchema = z
  .strictObject({
    id: z
      .string()
      .max(200)
      .regex(URN_PATTERN, 'must be a URN such as urn:ietf:params:scim:schemas:extension:<name>:2.0:User')
      .refine((id) => !RESERVED_URN_PREFIXES.some((prefix) => id.toLowerCase().startsWith(prefix)), 'is a reserved SCIM schema URN'),
    name: z.string().min(1).max(100).optional(),
    description: z.string().max(1000).optional(),
    attributes: z.array(customAttributeSchema).min(1).max(100),
  })
  .superRefine((extension, ctx) => {
    const seen = new Set<string>();
    extension.attributes.forEach((attribute, index) => {
      const key = attribute.name.toLowerCase();
      // Attribute names are case-insensitive (RFC 7643 §2.1), so "Info1" and "info1" would be the same attribute.
      if (seen.has(key)) ctx.addIssue({ code: 'custom', path: ['attributes', index, 'name'], message: `duplicates "${attribute.name}"` });
      seen.add(key);
    });
  });

const customExtensionListSchema = z
  .array(customExtensionSchema)
  .max(20)
  .superRefine((extensions, ctx) => {
    const ids = extensions.map((extension) => extension.id.toLowerCase());
    ids.forEach((id, index) => {
      // A URN that is a prefix of another (followed by ':') would make "urn:a:b:c" ambiguous in PATCH paths.
      const clash = ids.findIndex((other, otherIndex) => otherIndex !== index && (other === id || other.startsWith(`${id}:`)));
      if (clash >= 0) ctx.addIssue({ code: 'custom', path: [index, 'id'], message: `clashes with extension ${extensions[clash]!.id}` });
    });
  });

/** Validates custom extension declarations (admin input): ValidationError naming the first bad field. */
export function parseExtensionDeclarations(input: unknown): CustomExtensionDeclaration[] {
  return parseInput(customExtensionListSchema, input ?? [], 'custom SCIM extension declarations');
}

function customSchemaDefinition(declaration: CustomExtensionDeclaration): ScimSchemaDefinition {
  return {
    id: declaration.id,
    name: declaration.name ?? declaration.id,
    description: declaration.description ?? 'Custom User extension declared for this connection.',
    attributes: declaration.attributes.map((attribute) =>
      attr(attribute.name, attribute.type, attribute.description ?? '', {
        multiValued: attribute.multiValued ?? false,
        ...(attribute.type === 'reference' ? { referenceTypes: ['external'] } : {}),
      }),
    ),
  };
}

// ---- the registry ---------------------------------------------------------------------------------------------

/** Where a path or key points after its optional schema URN prefix is taken off. */
export type SchemaPrefixSplit =
  | { kind: 'core'; rest: string }
  | { kind: 'extension'; schema: ScimSchemaDefinition; rest: string }
  | { kind: 'unknownSchema' };

/** Case-insensitive lookup of an attribute by name (RFC 7643 §2.1). */
export function findAttribute(
  attributes: readonly ScimAttributeDefinition[] | undefined,
  name: string,
): ScimAttributeDefinition | undefined {
  const key = name.toLowerCase();
  return attributes?.find((attribute) => attribute.name.toLowerCase() === key);
}

export class ScimSchemaRegistry {
  readonly userSchema: ScimSchemaDefinition = USER_SCHEMA;
  readonly groupSchema: ScimSchemaDefinition = GROUP_SCHEMA;
  readonly enterpriseSchema: ScimSchemaDefinition = ENTERPRISE_SCHEMA;
  /** The connection's custom User extensions, in declaration order. */
  readonly customSchemas: readonly ScimSchemaDefinition[];
  /** Every User extension: enterprise first, then the custom ones. */
  readonly userExtensions: readonly ScimSchemaDefinition[];

  private constructor(declarations: readonly CustomExtensionDeclaration[]) {
    this.customSchemas = declarations.map(customSchemaDefinition);
    this.userExtensions = [ENTERPRISE_SCHEMA, ...this.customSchemas];
  }

  /** The registry of a connection: validates the declarations (ValidationError when they are malformed). */
  static create(declarations: unknown = []): ScimSchemaRegistry {
    return new ScimSchemaRegistry(parseExtensionDeclarations(declarations));
  }

  private static standardRegistry: ScimSchemaRegistry | undefined;

  /** Core schemas and the enterprise extension only (no custom extension); shared, immutable. */
  static standard(): ScimSchemaRegistry {
    ScimSchemaRegistry.standardRegistry ??= new ScimSchemaRegistry([]);
    return ScimSchemaRegistry.standardRegistry;
  }

  /** Every schema, in /Schemas order. */
  allSchemas(): readonly ScimSchemaDefinition[] {
    return [USER_SCHEMA, GROUP_SCHEMA, ...this.userExtensions];
  }

  /** One schema by URN, case-insensitively; undefined when unknown. */
  findSchema(urn: string): ScimSchemaDefinition | undefined {
    const key = urn.toLowerCase();
    return this.allSchemas().find((schema) => schema.id.toLowerCase() === key);
  }

  /** A User extension (enterprise or custom) by URN, case-insensitively. */
  findUserExtension(urn: string): ScimSchemaDefinition | undefined {
    const key = urn.toLowerCase();
    return this.userExtensions.find((schema) => schema.id.toLowerCase() === key);
  }

  coreSchema(kind: ScimResourceKind): ScimSchemaDefinition {
    return kind === 'User' ? USER_SCHEMA : GROUP_SCHEMA;
  }

  extensionsOf(kind: ScimResourceKind): readonly ScimSchemaDefinition[] {
    return kind === 'User' ? this.userExtensions : [];
  }

  /** A core or common (id, externalId, meta) attribute of the resource type, by name, case-insensitively. */
  coreAttribute(kind: ScimResourceKind, name: string): ScimAttributeDefinition | undefined {
    return findAttribute(this.coreSchema(kind).attributes, name) ?? findAttribute(COMMON_ATTRIBUTES, name);
  }

  /**
   * Takes the schema URN off a fully qualified attribute path or key (case-insensitively):
   * `urn:...:core:2.0:User:name.givenName` -> core `name.givenName`;
   * `urn:...:enterprise:2.0:User:manager` -> enterprise `manager`; the bare extension URN -> that extension, rest ''.
   * A path that does not start with `urn:` is core. The longest matching URN wins.
   */
  splitSchemaPrefix(kind: ScimResourceKind, path: string): SchemaPrefixSplit {
    if (!/^urn:/i.test(path)) return { kind: 'core', rest: path };
    const lower = path.toLowerCase();
    const core = this.coreSchema(kind).id.toLowerCase();
    if (lower.startsWith(`${core}:`)) return { kind: 'core', rest: path.slice(core.length + 1) };
    const candidates = [...this.extensionsOf(kind)].sort((a, b) => b.id.length - a.id.length);
    for (const schema of candidates) {
      const id = schema.id.toLowerCase();
      if (lower === id) return { kind: 'extension', schema, rest: '' };
      if (lower.startsWith(`${id}:`)) return { kind: 'extension', schema, rest: path.slice(id.length + 1) };
    }
    return { kind: 'unknownSchema' };
  }
}

// ---- discovery documents ----------------------------------------------------------------------------------------

export interface DiscoveryMeta {
  resourceType: 'ServiceProviderConfig' | 'ResourceType' | 'Schema';
  location: string;
}

export interface ServiceProviderConfigDocument {
  schemas: [typeof SERVICE_PROVIDER_CONFIG_SCHEMA];
  patch: { supported: boolean };
  bulk: { supported: boolean; maxOperations: number; maxPayloadSize: number };
  filter: { supported: boolean; maxResults: number };
  changePassword: { supported: boolean };
  sort: { supported: boolean };
  etag: { supported: boolean };
  authenticationSchemes: Array<{ type: string; name: string; description: string; specUri: string; primary: boolean }>;
  meta: DiscoveryMeta;
}

export interface ResourceTypeDocument {
  schemas: [typeof RESOURCE_TYPE_SCHEMA];
  id: ScimResourceKind;
  name: ScimResourceKind;
  endpoint: '/Users' | '/Groups';
  description: string;
  schema: string;
  schemaExtensions: Array<{ schema: string; required: boolean }>;
  meta: DiscoveryMeta;
}

/** A /Schemas entry: the definition, JSON-shaped (absent optional properties are omitted, never null). */
export interface SchemaDocument {
  schemas: [typeof SCHEMA_SCHEMA];
  id: string;
  name: string;
  description: string;
  attributes: ScimAttributeDefinition[];
  meta: DiscoveryMeta;
}

/** `https://host/scim/v2/` and `https://host/scim/v2` name the same base. */
function trimBase(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}

/** GET /ServiceProviderConfig. `baseUrl` is the SCIM base, e.g. `https://gatehouse.example.com/scim/v2`. */
export function serviceProviderConfig(baseUrl: string): ServiceProviderConfigDocument {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: MAX_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: "The connection's SCIM token, sent as Authorization: Bearer <token>.",
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${trimBase(baseUrl)}/ServiceProviderConfig` },
  };
}

function resourceTypeDocuments(registry: ScimSchemaRegistry, baseUrl: string): ResourceTypeDocument[] {
  const base = trimBase(baseUrl);
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: CORE_USER_SCHEMA,
      schemaExtensions: registry.userExtensions.map((schema) => ({ schema: schema.id, required: false })),
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: CORE_GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${base}/ResourceTypes/Group` },
    },
  ];
}

/** GET /ResourceTypes: User (with the enterprise and custom extensions) and Group, as a ListResponse. */
export function resourceTypesDocument(registry: ScimSchemaRegistry, baseUrl: string): ListResponse<ResourceTypeDocument> {
  const documents = resourceTypeDocuments(registry, baseUrl);
  return listResponse(documents, documents.length, 1);
}

/** GET /ResourceTypes/{User|Group}; undefined (404) for anything else. Case-insensitive. */
export function resourceTypeDocument(registry: ScimSchemaRegistry, baseUrl: string, id: string): ResourceTypeDocument | undefined {
  return resourceTypeDocuments(registry, baseUrl).find((document) => document.id.toLowerCase() === id.toLowerCase());
}

function toSchemaDocument(schema: ScimSchemaDefinition, baseUrl: string): SchemaDocument {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes.map(copyAttribute),
    meta: { resourceType: 'Schema', location: `${trimBase(baseUrl)}/Schemas/${schema.id}` },
  };
}

/** A deep, mutable copy, so a caller serialising or decorating the document cannot alter the shared definitions. */
function copyAttribute(attribute: ScimAttributeDefinition): ScimAttributeDefinition {
  return {
    ...attribute,
    ...(attribute.canonicalValues ? { canonicalValues: [...attribute.canonicalValues] } : {}),
    ...(attribute.referenceTypes ? { referenceTypes: [...attribute.referenceTypes] } : {}),
    ...(attribute.subAttributes ? { subAttributes: attribute.subAttributes.map(copyAttribute) } : {}),
  };
}

/** GET /Schemas: every schema with full attribute definitions, as a ListResponse. */
export function schemasDocument(registry: ScimSchemaRegistry, baseUrl: string): ListResponse<SchemaDocument> {
  const documents = registry.allSchemas().map((schema) => toSchemaDocument(schema, baseUrl));
  return listResponse(documents, documents.length, 1);
}

/** GET /Schemas/{urn}; undefined (404) when the URN is not served. Case-insensitive. */
export function schemaDocument(registry: ScimSchemaRegistry, baseUrl: string, urn: string): SchemaDocument | undefined {
  const schema = registry.findSchema(urn);
  return schema ? toSchemaDocument(schema, baseUrl) : undefined;
}
