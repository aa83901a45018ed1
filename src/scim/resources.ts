/**
 * SCIM resource shapes (RFC 7643 §4) and the request-side rules for them: validating a POST body, projecting a
 * response with `attributes` / `excludedAttributes`, and picking the email used for matching.
 *
 * Decisions where the RFC leaves room (documented once here, applied by validateUserCreate and patch.ts):
 * - Attribute names are matched case-insensitively and stored in their canonical spelling.
 * - readOnly attributes in a request body (id, meta, groups, manager.displayName) are ignored (RFC 7644 §3.3).
 * - An unknown core attribute (`roles` is known; `x509Certificates`, `ims`, `photos`, ... are not) is ignored, so one
 *   attribute mapping we do not model does not fail every user. An extension URN the connection has not declared,
 *   or an undeclared attribute inside a declared extension, is 400 invalidValue: that is an admin's data being lost,
 *   and Entra's provisioning log is where the admin will see the message.
 * - null means unassigned (RFC 7643 §2.5); Entra's "True"/"False" strings are read as booleans everywhere.
 * - At most one `primary: true` per multi-valued attribute (RFC 7643 §2.4): a POST with two is 400 invalidValue.
 */
import { z } from 'zod';
import { badRequest } from './errors';
import { parseScimDateTime } from './query';
import {
  CORE_GROUP_SCHEMA,
  CORE_USER_SCHEMA,
  ENTERPRISE_USER_SCHEMA,
  findAttribute,
  ScimSchemaRegistry,
  type ScimAttributeDefinition,
  type ScimResourceKind,
  type ScimSchemaDefinition,
} from './schemas';

// ---- shapes -----------------------------------------------------------------------------------------------------

export type ScimJsonValue = string | number | boolean | null | ScimJsonValue[] | ScimJsonObject;
export type ScimJsonObject = { [key: string]: ScimJsonValue | undefined };

export interface ScimMeta {
  resourceType: ScimResourceKind;
  /** ISO 8601. */
  created: string;
  /** ISO 8601. The store bumps it; PATCH application here never touches meta. */
  lastModified: string;
  location?: string;
  /** ETag value, e.g. W/"3". */
  version?: string;
}

export type ScimName = {
  formatted?: string;
  familyName?: string;
  givenName?: string;
  middleName?: string;
  honorificPrefix?: string;
  honorificSuffix?: string;
};

/** An element of emails, phoneNumbers or roles. */
export type ScimMultiValue = { value?: string; display?: string; type?: string; primary?: boolean };

export type ScimAddress = {
  formatted?: string;
  streetAddress?: string;
  locality?: string;
  region?: string;
  postalCode?: string;
  country?: string;
  type?: string;
  primary?: boolean;
};

export type ScimManager = { value?: string; $ref?: string; displayName?: string };

export type ScimEnterpriseUser = {
  employeeNumber?: string;
  costCenter?: string;
  organization?: string;
  division?: string;
  department?: string;
  manager?: ScimManager;
};

/** A custom extension's attributes (string, boolean, integer, dateTime, reference; possibly arrays of them). */
export type ScimExtensionObject = ScimJsonObject;

export interface ScimUserResource {
  schemas: string[];
  id: string;
  externalId?: string;
  userName: string;
  name?: ScimName;
  displayName?: string;
  nickName?: string;
  profileUrl?: string;
  title?: string;
  userType?: string;
  preferredLanguage?: string;
  locale?: string;
  timezone?: string;
  active?: boolean;
  emails?: ScimMultiValue[];
  phoneNumbers?: ScimMultiValue[];
  addresses?: ScimAddress[];
  roles?: ScimMultiValue[];
  [ENTERPRISE_USER_SCHEMA]?: ScimEnterpriseUser;
  /** Declared custom extensions, keyed by their URN. */
  [extension: `urn:${string}`]: ScimExtensionObject | undefined;
  meta: ScimMeta;
}

export type ScimMember = { value: string; display?: string; $ref?: string; type?: string };

export interface ScimGroupResource {
  schemas: string[];
  id: string;
  externalId?: string;
  displayName: string;
  members?: ScimMember[];
  meta: ScimMeta;
}

/** A validated POST /Users body: everything but what the server assigns. */
export type ScimUserInput = Omit<ScimUserResource, 'id' | 'meta'>;
/** A validated POST /Groups body. */
export type ScimGroupInput = Omit<ScimGroupResource, 'id' | 'meta'>;

// ---- value validation (shared with patch.ts) -------------------------------------------------------------------

/** Longest string value accepted in any attribute. */
export const MAX_STRING_LENGTH = 2048;

function readBoolean(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const lower = value.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : value;
}

function readNumber(value: unknown): unknown {
  return typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : value;
}

/**
 * A JSON object (not an array, Date or other class instance). Realm-independent: structuredClone and other
 * contexts (vm, jest) hand back objects whose Object.prototype is not this module's.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === null || Object.getPrototypeOf(prototype) === null;
}

/** Renames keys to the canonical sub-attribute names and drops nulls; unknown keys are kept for zod to strip. */
function canonicalSubAttributes(definition: ScimAttributeDefinition, value: unknown): unknown {
  // A bare id where an object with `value` is expected: Entra's manager by id.
  if (typeof value === 'string' && !definition.multiValued && findAttribute(definition.subAttributes, 'value')) return { value };
  if (!isPlainObject(value)) return value;
  const result: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    if (item === null || item === undefined) continue;
    result[findAttribute(definition.subAttributes, key)?.name ?? key] = item;
  }
  return result;
}

function singleValueSchema(definition: ScimAttributeDefinition): z.ZodType {
  switch (definition.type) {
    case 'string':
    case 'reference':
    case 'binary':
      return z.string().max(MAX_STRING_LENGTH);
    case 'boolean':
      return z.preprocess(readBoolean, z.boolean());
    case 'integer':
      return z.preprocess(readNumber, z.number().int());
    case 'decimal':
      return z.preprocess(readNumber, z.number());
    case 'dateTime':
      return z.string().refine((text) => parseScimDateTime(text) !== undefined, 'must be an ISO 8601 date-time with a time zone');
    case 'complex': {
      const shape: Record<string, z.ZodType> = {};
      for (const sub of definition.subAttributes ?? []) {
        if (sub.mutability === 'readOnly') continue; // ignored on input, like every readOnly attribute
        const schema = valueSchema(sub);
        shape[sub.name] = sub.required ? schema : schema.optional();
      }
      // z.object strips sub-attributes we do not model (unknown core data is ignored, see the module comment).
      return z.preprocess((value) => canonicalSubAttributes(definition, value), z.object(shape));
    }
  }
}

/**
 * The zod schema for one attribute's value as a client sends it. Multi-valued attributes accept one value or an
 * array (nulls in arrays dropped); complex values get canonical sub-attribute names.
 */
function valueSchema(definition: ScimAttributeDefinition): z.ZodType {
  const cached = valueSchemas.get(definition);
  if (cached) return cached;
  const single = singleValueSchema(definition);
  const asArray = (value: unknown): unknown[] =>
    Array.isArray(value) ? value.filter((item) => item !== null && item !== undefined) : [value];
  const schema = definition.multiValued ? z.preprocess(asArray, z.array(single)) : single;
  valueSchemas.set(definition, schema);
  return schema;
}

/** Definitions are immutable, so their zod schemas are built once. */
const valueSchemas = new WeakMap<ScimAttributeDefinition, z.ZodType>();

/**
 * Validates and coerces one attribute value (shared with patch.ts); 400 invalidValue naming the attribute when it
 * does not fit. Returns undefined when nothing is left (an empty array or object means unassigned).
 */
export function parseAttributeValue(definition: ScimAttributeDefinition, value: unknown, label: string): unknown {
  const result = valueSchema(definition).safeParse(value);
  if (result.success) return pruneEmpty(result.data);
  const issue = result.error.issues[0]!;
  const where = [label, ...issue.path.map(String)].join('.');
  throw badRequest('invalidValue', `${where}: ${issue.message}`);
}

/** Drops undefined, empty objects and empty arrays, recursively (they mean "unassigned"). */
export function pruneEmpty(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(pruneEmpty).filter((item) => item !== undefined);
    return items.length > 0 ? items : undefined;
  }
  if (isPlainObject(value)) {
    const entries = Object.entries(value)
      .map(([key, item]) => [key, pruneEmpty(item)] as const)
      .filter(([, item]) => item !== undefined);
    return entries.length > 0 ? Object.fromEntries(entries) : undefined;
  }
  return value;
}

/**
 * The `schemas` value for a resource: the core URN, then the extensions it has data for (declared ones in the
 * registry's order, then any other URN key, e.g. data kept from an extension a connection no longer declares).
 */
export function schemasFor(kind: ScimResourceKind, resource: Readonly<Record<string, unknown>>, registry: ScimSchemaRegistry): string[] {
  const core = kind === 'User' ? CORE_USER_SCHEMA : CORE_GROUP_SCHEMA;
  const declared = registry.extensionsOf(kind).map((schema) => schema.id);
  const others = Object.keys(resource).filter((key) => key.startsWith('urn:') && !declared.includes(key));
  return [core, ...[...declared, ...others].filter((urn) => resource[urn] !== undefined)];
}

/** The multi-valued attributes in which more than one element claims to be primary. */
function primaryViolations(resource: Readonly<Record<string, unknown>>): string[] {
  return Object.entries(resource)
    .filter(([, value]) => Array.isArray(value) && value.filter((item) => isPlainObject(item) && item.primary === true).length > 1)
    .map(([name]) => name);
}

// ---- POST bodies ------------------------------------------------------------------------------------------------

/**
 * Validates a POST /Users body against the connection's schemas and returns it canonicalised (see the module
 * comment for what is ignored and what is refused). `schemas` must list the core User schema (400 invalidSyntax);
 * userName must be a non-blank string (400 invalidValue). The returned `schemas` is recomputed from the extensions
 * actually present.
 */
export function validateUserCreate(body: unknown, registry: ScimSchemaRegistry): ScimUserInput {
  const input = readResourceBody('User', body, registry);
  const userName = input.userName;
  if (typeof userName !== 'string' || userName.trim() === '') {
    throw badRequest('invalidValue', 'userName is required and must not be blank.');
  }
  const violations = primaryViolations(input);
  if (violations.length > 0) throw badRequest('invalidValue', `${violations[0]}: at most one value may be primary.`);
  // The canonical object was built from the registry's definitions, so it has the ScimUserInput shape.
  return { ...input, schemas: schemasFor('User', input, registry) } as ScimUserInput;
}

/**
 * Validates a POST /Groups body: displayName is required; members (usually absent: Entra creates groups empty) are
 * de-duplicated by value. Extra schema URIs in `schemas` (Entra has sent a non-URN one) are ignored.
 */
export function validateGroupCreate(body: unknown): ScimGroupInput {
  const registry = ScimSchemaRegistry.standard();
  const input = readResourceBody('Group', body, registry);
  if (typeof input.displayName !== 'string' || input.displayName.trim() === '') {
    throw badRequest('invalidValue', 'displayName is required and must not be blank.');
  }
  const members = Array.isArray(input.members) ? uniqueBy(input.members as ScimMember[], (member) => member.value) : undefined;
  return { ...input, ...(members ? { members } : {}), schemas: [CORE_GROUP_SCHEMA] } as ScimGroupInput;
}

/** The first item for each key, in order. */
function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) if (!byKey.has(key(item))) byKey.set(key(item), item);
  return [...byKey.values()];
}

function readResourceBody(kind: ScimResourceKind, body: unknown, registry: ScimSchemaRegistry): Record<string, unknown> {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'The request body must be a JSON object.');
  const core = registry.coreSchema(kind).id;
  const schemas = Object.entries(body).find(([key]) => key.toLowerCase() === 'schemas')?.[1];
  if (!Array.isArray(schemas) || !schemas.some((urn) => typeof urn === 'string' && urn.toLowerCase() === core.toLowerCase())) {
    throw badRequest('invalidSyntax', `"schemas" must be an array that includes ${core}.`);
  }

  const coreValues: Record<string, unknown> = {};
  const extensionValues = new Map<ScimSchemaDefinition, Record<string, unknown>>();
  for (const [key, value] of Object.entries(body)) {
    if (key.toLowerCase() === 'schemas' || value === null || value === undefined) continue;
    const split = registry.splitSchemaPrefix(kind, key);
    if (split.kind === 'unknownSchema') {
      throw badRequest('invalidValue', `"${key}" belongs to a schema extension that is not declared for this connection.`);
    }
    if (split.kind === 'core') {
      const definition = registry.coreAttribute(kind, split.rest);
      if (definition && definition.mutability !== 'readOnly') coreValues[definition.name] = value;
      continue;
    }
    // An extension object, or (rarely) one of its attributes as a fully qualified top-level key.
    const target = extensionValues.get(split.schema) ?? {};
    extensionValues.set(split.schema, target);
    if (split.rest === '') {
      if (!isPlainObject(value)) throw badRequest('invalidValue', `${split.schema.id} must be an object.`);
      Object.assign(target, value);
    } else {
      target[split.rest] = value;
    }
  }

  const result: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(coreValues)) {
    const parsed = parseAttributeValue(registry.coreAttribute(kind, name)!, value, name);
    if (parsed !== undefined) result[name] = parsed;
  }
  for (const [schema, values] of extensionValues) {
    const parsed = parseExtensionObject(schema, values);
    if (parsed) result[schema.id] = parsed;
  }
  return result;
}

/** Validates an extension object: every attribute must be declared. Returns undefined when nothing is left. */
function parseExtensionObject(
  schema: ScimSchemaDefinition,
  values: Readonly<Record<string, unknown>>,
): Record<string, unknown> | undefined {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) {
    const definition = findAttribute(schema.attributes, key);
    if (!definition) throw badRequest('invalidValue', `The attribute "${key}" is not declared in ${schema.id}.`);
    if (definition.mutability === 'readOnly' || value === null || value === undefined) continue;
    const parsed = parseAttributeValue(definition, value, `${schema.id}:${definition.name}`);
    if (parsed !== undefined) result[definition.name] = parsed;
  }
  return Object.keys(result).length > 0 ? result : undefined;
}

// ---- responses --------------------------------------------------------------------------------------------------

export interface AttributeSelection {
  /** `attributes=`: return only these (plus id, schemas, meta). Empty/absent = every attribute. */
  attributes?: readonly string[];
  /** `excludedAttributes=`: drop these (id, schemas and meta are always returned). */
  excludedAttributes?: readonly string[];
}

/** A resource after projection: id, schemas and meta are always there. */
export type ProjectedResource<T extends { schemas: string[]; id: string; meta: ScimMeta }> = Partial<T> &
  Pick<T, 'schemas' | 'id' | 'meta'>;

const ALWAYS_RETURNED = new Set(['id', 'schemas', 'meta']);
const CORE_SCHEMAS = [CORE_USER_SCHEMA, CORE_GROUP_SCHEMA];

/**
 * Applies `attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9). Names are case-insensitive and may be
 * fully qualified (`urn:...:User:userName`, `urn:...:enterprise:2.0:User:employeeNumber`, or a bare extension URN
 * for the whole extension); sub-attributes (`name.givenName`, `emails.value`) select inside complex and
 * multi-valued attributes. Names that match nothing are ignored. When both lists are given, `attributes` selects
 * first and `excludedAttributes` then removes. `schemas` keeps only the extensions still present.
 * Never mutates the input.
 */
export function projectAttributes<T extends ScimUserResource | ScimGroupResource>(
  resource: T,
  selection: AttributeSelection,
): ProjectedResource<T> {
  const source = resource as unknown as Record<string, unknown>;
  let result: Record<string, unknown>;
  if (selection.attributes && selection.attributes.length > 0) {
    result = {};
    for (const name of ALWAYS_RETURNED) if (source[name] !== undefined) result[name] = structuredClone(source[name]);
    for (const name of selection.attributes) {
      const path = resolveProjectionPath(source, name);
      if (path) mergeInto(result, pick(source, path));
    }
  } else {
    result = structuredClone(source);
  }
  for (const name of selection.excludedAttributes ?? []) {
    const path = resolveProjectionPath(result, name);
    if (path && !(path.length === 1 && ALWAYS_RETURNED.has(path[0]!))) removePath(result, path);
  }
  const extensions = (resource.schemas ?? []).filter((urn) => !CORE_SCHEMAS.includes(urn));
  result.schemas = (resource.schemas ?? []).filter(
    (urn) => CORE_SCHEMAS.includes(urn) || (extensions.includes(urn) && result[urn] !== undefined),
  );
  return result as ProjectedResource<T>;
}

/** Resolves a projection name to the resource's actual keys: [top] or [top, sub]. */
function resolveProjectionPath(resource: Readonly<Record<string, unknown>>, name: string): string[] | undefined {
  let rest = name.trim();
  const lower = rest.toLowerCase();
  const core = CORE_SCHEMAS.find((urn) => lower.startsWith(`${urn.toLowerCase()}:`));
  if (core) {
    rest = rest.slice(core.length + 1);
  } else if (lower.startsWith('urn:')) {
    const keys = Object.keys(resource).filter((key) => key.startsWith('urn:')).sort((a, b) => b.length - a.length);
    const extension = keys.find((key) => lower === key.toLowerCase() || lower.startsWith(`${key.toLowerCase()}:`));
    if (!extension) return undefined;
    if (lower === extension.toLowerCase()) return [extension];
    const extensionObject = resource[extension];
    const attribute = matchKey(isPlainObject(extensionObject) ? extensionObject : {}, rest.slice(extension.length + 1));
    return attribute ? [extension, attribute] : undefined;
  }
  const [top, sub] = rest.split('.', 2);
  const topKey = matchKey(resource, top ?? '');
  if (!topKey) return undefined;
  if (sub === undefined) return [topKey];
  const value = resource[topKey];
  const sample = Array.isArray(value) ? Object.assign({}, ...value.filter(isPlainObject)) : value;
  const subKey = isPlainObject(sample) ? matchKey(sample, sub) : undefined;
  return subKey ? [topKey, subKey] : undefined;
}

function matchKey(object: Readonly<Record<string, unknown>>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(object).find((key) => key.toLowerCase() === lower);
}

/** The part of `source` at `path`, as a fresh object shaped like the source. */
function pick(source: Readonly<Record<string, unknown>>, path: readonly string[]): Record<string, unknown> {
  const [top, sub] = path as [string, string | undefined];
  const value = source[top];
  if (sub === undefined) return { [top]: structuredClone(value) };
  if (Array.isArray(value)) {
    const elements = value.filter(isPlainObject);
    return { [top]: elements.map((element) => (element[sub] === undefined ? {} : { [sub]: structuredClone(element[sub]) })) };
  }
  return isPlainObject(value) && value[sub] !== undefined ? { [top]: { [sub]: structuredClone(value[sub]) } } : {};
}

/** Merges picked parts: objects key by key, arrays element by element (same source order). */
function mergeInto(target: Record<string, unknown>, part: Readonly<Record<string, unknown>>): void {
  for (const [key, value] of Object.entries(part)) {
    const existing = target[key];
    if (Array.isArray(existing) && Array.isArray(value)) {
      target[key] = existing.map((element, index) => ({ ...(element as object), ...(value[index] as object) }));
    } else if (isPlainObject(existing) && isPlainObject(value)) {
      target[key] = { ...existing, ...value };
    } else {
      target[key] = value;
    }
  }
}

function removePath(target: Record<string, unknown>, path: readonly string[]): void {
  const [top, sub] = path as [string, string | undefined];
  if (sub === undefined) {
    delete target[top];
    return;
  }
  const value = target[top];
  if (Array.isArray(value)) {
    value.forEach((element) => isPlainObject(element) && delete element[sub]);
    if (value.every((element) => isPlainObject(element) && Object.keys(element).length === 0)) delete target[top];
  } else if (isPlainObject(value)) {
    delete value[sub];
    if (Object.keys(value).length === 0) delete target[top];
  }
}

// ---- matching -----------------------------------------------------------------------------------------------------

/**
 * The email used when a connection matches by email: the primary one, else the first of type "work"
 * (case-insensitively), else the first; entries without a non-blank value are skipped. null when there is none.
 */
export function primaryEmailOf(resource: Pick<ScimUserResource, 'emails'>): string | null {
  const emails = (resource.emails ?? []).filter((email) => typeof email.value === 'string' && email.value.trim() !== '');
  const chosen =
    emails.find((email) => email.primary === true) ?? emails.find((email) => email.type?.toLowerCase() === 'work') ?? emails[0];
  return chosen?.value ?? null;
}
