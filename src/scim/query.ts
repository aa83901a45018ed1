/**
 * SCIM filters (RFC 7644 §3.4.2.2) -> a store-neutral query AST.
 *
 * The HTTP layer parses `filter=` with parseUserFilter / parseGroupFilter; each store adapter translates the
 * resulting QueryNode to its own query language (SQL for sqlite, a query document for MongoDB). Filtering in memory
 * is never done on a production path: matchesQuery below exists only as the reference semantics the adapters'
 * contract tests compare against.
 *
 * Parsing uses scim2-parse-filter's tokenizer and parser, then checks every attribute against a fixed allow-list
 * (each filterable attribute is work for two adapters), coerces values to the attribute's type and rejects anything
 * else with 400 invalidFilter.
 *
 * ## The AST contract (what an adapter must implement)
 *
 * - `compare`: `field op value`. Semantics per field kind (see USER_FILTER_FIELDS / GROUP_FILTER_FIELDS):
 *   - string fields: eq, ne, co (contains), sw (starts with), ew (ends with); `value` is a string.
 *   - id fields (`id`, `members.value`): eq, ne; `value` is a string.
 *   - boolean fields (`active`): eq, ne; `value` is a boolean.
 *   - dateTime fields (`meta.created`, `meta.lastModified`): eq, ne, gt, ge, lt, le; `value` is a Date, compare
 *     instants.
 *   - `caseExact: false`: compare case-insensitively (both sides lower-cased with the Unicode default mapping; an
 *     adapter whose collation is narrower than that must fold in code or keep a folded shadow column).
 *   - `normalisedKey: true` (only ever on `userName`): `value` is already normaliseKey(...)'d; compare it exactly
 *     (byte-equal, case-sensitive; LIKE-style for co/sw/ew with wildcards escaped) against the stored normalised key
 *     column (User.usernameKey), never against the display spelling. caseExact is then true.
 *   - A field on a multi-valued attribute (`emails.value`, `emails.type`, `members.value`) matches when ANY element
 *     matches (SQL: EXISTS over the child rows; Mongo: dotted path).
 *   - A missing / null attribute never matches a comparison, except `ne`, which is exactly `not eq` (so a resource
 *     without the attribute matches `ne`; on multi-valued fields `ne` means "no element equals").
 * - `present`: the attribute has a value that is not null, not '' and (multi-valued) at least one such element.
 * - `and` / `or`: at least two children, already flattened (no `and` directly inside an `and`).
 * - `not`: exact complement (two-valued logic: mind SQL NULLs).
 * - `valuePath`: some ONE element of `attribute` satisfies `filter` (SQL: EXISTS with all conditions on the same
 *   child row; Mongo: $elemMatch). Inside, fields are still full paths (`emails.type`), every one under `attribute`,
 *   and there is no nested valuePath. `emails[type eq "work"].value eq "x"` arrives as
 *   valuePath(emails, and(emails.type eq work, emails.value eq x)) — both conditions on the same email.
 */
import type { Filter } from 'scim2-parse-filter';
// The deep import gives us the tokenizer, so we can mark sub-attributes that follow a `].` (see MARK below).
import { parseFilter, Tokens, tokenizer, type Token } from 'scim2-parse-filter/lib/src/parser';
import { normaliseKey } from '../provisioning/normalise';
import { badRequest } from './errors';
import type { ScimGroupResource, ScimUserResource } from './resources';
import { CORE_GROUP_SCHEMA, CORE_USER_SCHEMA, ENTERPRISE_USER_SCHEMA, findAttribute, type ScimAttributeDefinition } from './schemas';

/**
 * The case folding for caseExact=false attributes (RFC 7643 §2.1): JavaScript's toLowerCase. The reference evaluator
 * below and both stores' filter columns use it, so a filter finds in the database what it would match in memory.
 * (Identifiers that decide who is who use normaliseKey instead.)
 */
export function foldCase(value: string): string;
export function foldCase(value: string | null | undefined): string | null;
export function foldCase(value: string | null | undefined): string | null {
  return typeof value === 'string' ? value.toLowerCase() : null;
}

// ---- the AST ----------------------------------------------------------------------------------------------------

export type CompareOperator = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/** The enterprise employeeNumber, named by its fully qualified SCIM path. */
export const EMPLOYEE_NUMBER_FIELD = `${ENTERPRISE_USER_SCHEMA}:employeeNumber` as const;

/** Filterable User attributes (canonical spelling). */
export type UserField =
  | 'id'
  | 'externalId'
  | 'userName'
  | 'displayName'
  | 'active'
  | 'name.givenName'
  | 'name.familyName'
  | 'emails.value'
  | 'emails.type'
  | 'meta.created'
  | 'meta.lastModified'
  | typeof EMPLOYEE_NUMBER_FIELD;

/** Filterable Group attributes (canonical spelling). */
export type GroupField = 'id' | 'externalId' | 'displayName' | 'members.value' | 'meta.created' | 'meta.lastModified';

export type ScimField = UserField | GroupField;

/** The multi-valued attributes a valuePath (`attr[...]`) may select on. */
export type MultiValuedAttribute = 'emails' | 'members';

export type CompareValue = string | boolean | Date;

export interface CompareNode<F extends string = ScimField> {
  kind: 'compare';
  field: F;
  op: CompareOperator;
  value: CompareValue;
  /** True: compare exactly. False: compare case-insensitively. */
  caseExact: boolean;
  /** True only for userName: `value` is normaliseKey(...)'d and is compared with the stored normalised key. */
  normalisedKey: boolean;
}

export interface PresentNode<F extends string = ScimField> {
  kind: 'present';
  field: F;
}

export interface LogicalNode<F extends string = ScimField> {
  kind: 'and' | 'or';
  children: QueryNode<F>[];
}

export interface NotNode<F extends string = ScimField> {
  kind: 'not';
  child: QueryNode<F>;
}

export interface ValuePathNode<F extends string = ScimField> {
  kind: 'valuePath';
  attribute: MultiValuedAttribute;
  /** Conditions on one element; fields are `${attribute}.<sub>`; never contains another valuePath. */
  filter: QueryNode<F>;
}

export type QueryNode<F extends string = ScimField> = CompareNode<F> | PresentNode<F> | LogicalNode<F> | NotNode<F> | ValuePathNode<F>;

export type UserQuery = QueryNode<UserField>;
export type GroupQuery = QueryNode<GroupField>;

/** How a field is typed and compared. `id`: a server-assigned identifier (eq/ne only). */
export type FilterFieldKind = 'string' | 'id' | 'boolean' | 'dateTime';

export interface FilterFieldInfo {
  kind: FilterFieldKind;
  caseExact: boolean;
  /** Set when the field lives on the elements of a multi-valued attribute. */
  multiValued?: MultiValuedAttribute;
}

/** The User filter allow-list, with each field's type and case rule (RFC 7643 §4.1, §4.3). */
export const USER_FILTER_FIELDS: Readonly<Record<UserField, FilterFieldInfo>> = {
  id: { kind: 'id', caseExact: true },
  externalId: { kind: 'string', caseExact: true },
  userName: { kind: 'string', caseExact: false },
  displayName: { kind: 'string', caseExact: false },
  active: { kind: 'boolean', caseExact: false },
  'name.givenName': { kind: 'string', caseExact: false },
  'name.familyName': { kind: 'string', caseExact: false },
  'emails.value': { kind: 'string', caseExact: false, multiValued: 'emails' },
  'emails.type': { kind: 'string', caseExact: false, multiValued: 'emails' },
  'meta.created': { kind: 'dateTime', caseExact: false },
  'meta.lastModified': { kind: 'dateTime', caseExact: false },
  [EMPLOYEE_NUMBER_FIELD]: { kind: 'string', caseExact: false },
};

/** The Group filter allow-list. Member ids are our own user ids, compared exactly like `id`. */
export const GROUP_FILTER_FIELDS: Readonly<Record<GroupField, FilterFieldInfo>> = {
  id: { kind: 'id', caseExact: true },
  externalId: { kind: 'string', caseExact: true },
  displayName: { kind: 'string', caseExact: false },
  'members.value': { kind: 'id', caseExact: true, multiValued: 'members' },
  'meta.created': { kind: 'dateTime', caseExact: false },
  'meta.lastModified': { kind: 'dateTime', caseExact: false },
};

/** Filters longer than this (UTF-8 bytes) are refused before parsing. */
export const MAX_FILTER_BYTES = 4096;
/** Deepest nesting of parentheses/brackets/not/and/or accepted. */
export const MAX_FILTER_DEPTH = 10;

const OPERATORS_BY_KIND: Readonly<Record<FilterFieldKind, readonly CompareOperator[]>> = {
  string: ['eq', 'ne', 'co', 'sw', 'ew'],
  id: ['eq', 'ne'],
  boolean: ['eq', 'ne'],
  dateTime: ['eq', 'ne', 'gt', 'ge', 'lt', 'le'],
};

// ---- parsing ----------------------------------------------------------------------------------------------------

/** Parses a /Users filter. Throws ScimError 400 invalidFilter with a detail naming the problem. */
export function parseUserFilter(text: string): UserQuery {
  return parse(text, userResolver) as UserQuery;
}

/** Parses a /Groups filter. Throws ScimError 400 invalidFilter with a detail naming the problem. */
export function parseGroupFilter(text: string): GroupQuery {
  return parse(text, groupResolver) as GroupQuery;
}

/**
 * Parses the filter inside a PATCH path (`emails[type eq "work"]` -> `type eq "work"`), against the sub-attributes
 * of `attribute`. Fields in the result are the canonical sub-attribute names (`type`), no valuePath is allowed.
 * Evaluated with matchesElement on the one resource being patched. Throws ScimError 400 invalidFilter.
 */
export function parseElementFilter(text: string, attribute: ScimAttributeDefinition): QueryNode<string> {
  return parse(text, elementResolver(attribute));
}

/** Resolves attribute paths of one filter dialect to canonical fields. Throws invalidFilter. */
interface FieldResolver {
  /** A top-level attribute path (`userName`, `urn:...:User:name.givenName`, `EMAILS`). */
  field(path: string): { field: string; info: FilterFieldInfo };
  /** The attribute before `[` in a valuePath. */
  multiValued(path: string): MultiValuedAttribute;
  /** A sub-attribute inside `attribute[...]`. */
  subField(attribute: MultiValuedAttribute, name: string): { field: string; info: FilterFieldInfo };
  /** Whether `field` holds the normalised matching key (userName). */
  normalised(field: string): boolean;
}

function tableResolver(
  fields: Readonly<Record<string, FilterFieldInfo>>,
  coreSchema: string,
  extensionSchemas: readonly string[],
): FieldResolver {
  const byLowerName = new Map(Object.keys(fields).map((name) => [name.toLowerCase(), name]));
  const multiValued = new Set(Object.values(fields).flatMap((info) => (info.multiValued ? [info.multiValued] : [])));

  // Attribute names and schema URNs are case-insensitive (RFC 7643 §2.1); the core URN prefix is optional.
  const canonical = (path: string): string | undefined => {
    let lower = path.toLowerCase();
    const corePrefix = `${coreSchema.toLowerCase()}:`;
    if (lower.startsWith(corePrefix)) lower = lower.slice(corePrefix.length);
    else if (lower.startsWith('urn:') && !extensionSchemas.some((urn) => lower.startsWith(`${urn.toLowerCase()}:`))) return undefined;
    // A multi-valued attribute named without a sub-attribute means its `value` (`emails co "@x"`).
    if (multiValued.has(lower as MultiValuedAttribute)) lower = `${lower}.value`;
    return byLowerName.get(lower);
  };

  return {
    field(path) {
      const field = canonical(path);
      if (!field) throw invalidFilter(`"${path}" is not a filterable attribute.`);
      return { field, info: fields[field]! };
    },
    multiValued(path) {
      const field = canonical(path);
      const attribute = field?.endsWith('.value') ? fields[field]?.multiValued : undefined;
      if (!attribute) throw invalidFilter(`"${path}" is not a multi-valued attribute that can be filtered with [...].`);
      return attribute;
    },
    subField(attribute, name) {
      const field = name.includes('.') || name.includes(':') ? undefined : byLowerName.get(`${attribute}.${name}`.toLowerCase());
      if (!field) throw invalidFilter(`"${attribute}.${name}" is not a filterable attribute.`);
      return { field, info: fields[field]! };
    },
    normalised: (field) => field === 'userName',
  };
}

const userResolver = tableResolver(USER_FILTER_FIELDS, CORE_USER_SCHEMA, [ENTERPRISE_USER_SCHEMA]);
const groupResolver = tableResolver(GROUP_FILTER_FIELDS, CORE_GROUP_SCHEMA, []);

function elementResolver(attribute: ScimAttributeDefinition): FieldResolver {
  const sub = (name: string): { field: string; info: FilterFieldInfo } => {
    const definition = findAttribute(attribute.subAttributes, name);
    const kind = definition ? elementFieldKind(definition) : undefined;
    if (!definition || !kind) throw invalidFilter(`"${name}" is not a filterable sub-attribute of ${attribute.name}.`);
    return { field: definition.name, info: { kind, caseExact: definition.caseExact } };
  };
  return {
    field: sub,
    multiValued: (path) => {
      throw invalidFilter(`A filter inside ${attribute.name}[...] cannot select on "${path}[...]".`);
    },
    subField: (_attribute, name) => sub(name),
    normalised: () => false,
  };
}

function elementFieldKind(definition: ScimAttributeDefinition): FilterFieldKind | undefined {
  if (definition.multiValued) return undefined;
  if (definition.type === 'string' || definition.type === 'reference') return 'string';
  if (definition.type === 'boolean') return 'boolean';
  if (definition.type === 'dateTime') return 'dateTime';
  return undefined;
}

/**
 * scim2-parse-filter reads `emails[type eq "work"].value eq "x"` as and([] , `emails.value eq "x"`), which would let
 * the two conditions match different emails, and cannot be told apart from the user-written
 * `emails[type eq "work"] and emails.value eq "x"`. So before parsing we prefix the sub-attribute token that follows
 * `].` with this marker (a character no attribute token can contain) and recombine the pair into one valuePath.
 */
const MARK = '\u0000';

const COMPARE_OPERATORS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);
const JSON_LITERALS = new Set(['true', 'false', 'null']);

function parse(text: string, resolver: FieldResolver): QueryNode<string> {
  if (typeof text !== 'string' || text.trim() === '') throw invalidFilter('The filter is empty.');
  if (Buffer.byteLength(text, 'utf8') > MAX_FILTER_BYTES) throw invalidFilter(`The filter is longer than ${MAX_FILTER_BYTES} bytes.`);

  let tokens: Token[];
  let ast: Filter;
  try {
    tokens = tokenizer(text);
  } catch {
    throw invalidFilter('The filter has a character or token that is not allowed here.');
  }
  checkNesting(tokens);
  prepareTokens(tokens);
  try {
    const list = new Tokens(tokens);
    ast = parseFilter(list);
    if (list.peek().type !== 'EOT') throw new Error(`unexpected "${list.peek().literal}"`);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split(MARK).join('') : 'parse error';
    throw invalidFilter(`The filter is not valid SCIM filter syntax (${reason}).`);
  }
  const node = convert(ast, resolver, undefined);
  if (depthOf(node) > MAX_FILTER_DEPTH) throw invalidFilter(`The filter is nested deeper than ${MAX_FILTER_DEPTH} levels.`);
  return node;
}

/** Refuses deep bracket nesting before the recursive-descent parser sees it. */
function checkNesting(tokens: readonly Token[]): void {
  let depth = 0;
  for (const token of tokens) {
    if (token.type !== 'Bracket') continue;
    depth += token.literal === '(' || token.literal === '[' ? 1 : -1;
    if (depth > MAX_FILTER_DEPTH) throw invalidFilter(`The filter is nested deeper than ${MAX_FILTER_DEPTH} levels.`);
  }
}

function prepareTokens(tokens: Token[]): void {
  for (let i = 0; i < tokens.length - 1; i++) {
    const token = tokens[i]!;
    const next = tokens[i + 1]!;
    if (token.type === 'Bracket' && token.literal === '].' && next.type === 'Word') next.literal = MARK + next.literal;
    // Lenient values: a bare word (`externalId eq jyoung`, as in Microsoft's own example) or a number compared with
    // a string attribute is read as the string it spells, digits kept exactly; true/false/null stay literals.
    const isOperator = token.type === 'Word' && COMPARE_OPERATORS.has(token.literal.toLowerCase()) && tokens[i - 1]?.type === 'Word';
    if (isOperator && (next.type === 'Number' || (next.type === 'Word' && !JSON_LITERALS.has(next.literal)))) {
      tokens[i + 1] = { type: 'Quoted', literal: JSON.stringify(next.literal) };
    }
  }
}

function convert(filter: Filter, resolver: FieldResolver, element: MultiValuedAttribute | undefined): QueryNode<string> {
  switch (filter.op) {
    case 'and':
    case 'or': {
      const [first, second] = filter.filters;
      if (filter.op === 'and' && filter.filters.length === 2 && first?.op === '[]' && second && isMarked(second)) {
        return recombineValuePath(first, second, resolver, element);
      }
      return logical(filter.op, filter.filters.map((child) => convert(child, resolver, element)));
    }
    case 'not':
      return { kind: 'not', child: convert(filter.filter, resolver, element) };
    case '[]': {
      if (element) throw invalidFilter(`A filter inside ${element}[...] cannot contain another [...].`);
      if (filter.attrPath.includes(MARK)) throw invalidFilter('A sub-attribute after "]." cannot be followed by "[".');
      const attribute = resolver.multiValued(filter.attrPath);
      return { kind: 'valuePath', attribute, filter: convert(filter.valFilter, resolver, attribute) };
    }
    case 'pr':
      return { kind: 'present', field: resolve(filter.attrPath, resolver, element).field };
    default:
      return compare(filter.op, filter.attrPath, filter.compValue, resolver, element);
  }
}

function isMarked(filter: Filter): boolean {
  return 'attrPath' in filter && filter.attrPath.includes(MARK);
}

/** `attr[cond].sub op value` -> valuePath(attr, and(cond, attr.sub op value)). */
function recombineValuePath(
  valuePath: Extract<Filter, { op: '[]' }>,
  tail: Filter,
  resolver: FieldResolver,
  element: MultiValuedAttribute | undefined,
): QueryNode<string> {
  const node = convert(valuePath, resolver, element) as ValuePathNode<string>;
  if (!('attrPath' in tail) || tail.op === '[]') throw invalidFilter('A sub-attribute after "]." cannot be followed by "[".');
  const subName = tail.attrPath.slice(tail.attrPath.indexOf(MARK) + 1);
  const subNode =
    tail.op === 'pr'
      ? ({ kind: 'present', field: resolver.subField(node.attribute, subName).field } satisfies PresentNode<string>)
      : compare(tail.op, `${MARK}${subName}`, tail.compValue, resolver, node.attribute);
  return { kind: 'valuePath', attribute: node.attribute, filter: logical('and', [node.filter, subNode]) };
}

function resolve(
  path: string,
  resolver: FieldResolver,
  element: MultiValuedAttribute | undefined,
): { field: string; info: FilterFieldInfo } {
  if (path.startsWith(MARK) && element) return resolver.subField(element, path.slice(1));
  if (path.includes(MARK)) throw invalidFilter('A sub-attribute after "]." must be compared with a value.');
  return element ? resolver.subField(element, path) : resolver.field(path);
}

function compare(
  op: CompareOperator,
  path: string,
  raw: string | number | boolean | null,
  resolver: FieldResolver,
  element: MultiValuedAttribute | undefined,
): CompareNode<string> {
  const { field, info } = resolve(path, resolver, element);
  if (!OPERATORS_BY_KIND[info.kind].includes(op)) {
    const allowed = OPERATORS_BY_KIND[info.kind].join(', ');
    throw invalidFilter(`The operator "${op}" cannot be used on ${field} (allowed: ${allowed}, pr).`);
  }
  if (raw === null) throw invalidFilter(`Compare ${field} with a value; use "${field} pr" or "not (${field} pr)" for presence.`);
  const value = coerceValue(field, info.kind, raw);
  if (typeof value === 'string' && resolver.normalised(field)) {
    return { kind: 'compare', field, op, value: normaliseKey(value), caseExact: true, normalisedKey: true };
  }
  return { kind: 'compare', field, op, value, caseExact: info.caseExact, normalisedKey: false };
}

function coerceValue(field: string, kind: FilterFieldKind, raw: string | number | boolean): CompareValue {
  switch (kind) {
    case 'string':
    case 'id':
      if (typeof raw === 'string') return raw;
      throw invalidFilter(`${field} is compared with a string value ("...").`);
    case 'boolean': {
      // Entra sends booleans as the strings "True"/"False".
      const value = typeof raw === 'string' ? booleanFromText(raw) : raw;
      if (typeof value === 'boolean') return value;
      throw invalidFilter(`${field} is compared with true or false.`);
    }
    case 'dateTime': {
      const date = typeof raw === 'string' ? parseScimDateTime(raw) : undefined;
      if (date) return date;
      throw invalidFilter(`${field} is compared with an ISO 8601 date-time such as "2024-01-31T12:00:00Z".`);
    }
  }
}

function booleanFromText(text: string): boolean | undefined {
  const lower = text.trim().toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}

const DATE_TIME_PATTERN = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

/** An xsd:dateTime with a zone (RFC 7643 §2.3.5), or undefined. */
export function parseScimDateTime(text: string): Date | undefined {
  if (!DATE_TIME_PATTERN.test(text.trim())) return undefined;
  const date = new Date(text.trim());
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function logical(kind: 'and' | 'or', children: QueryNode<string>[]): QueryNode<string> {
  const flat = children.flatMap((child) => (child.kind === kind ? child.children : [child]));
  return flat.length === 1 ? flat[0]! : { kind, children: flat };
}

function depthOf(node: QueryNode<string>): number {
  switch (node.kind) {
    case 'and':
    case 'or':
      return 1 + Math.max(...node.children.map(depthOf));
    case 'not':
      return 1 + depthOf(node.child);
    case 'valuePath':
      return 1 + depthOf(node.filter);
    default:
      return 1;
  }
}

function invalidFilter(detail: string) {
  return badRequest('invalidFilter', detail);
}

// ---- reference evaluator (tests and contract checks only) -------------------------------------------------------

/**
 * NOT FOR PRODUCTION PATHS. The reference semantics of the AST, evaluated on one SCIM resource in memory. Store
 * adapters must filter in the database; their contract tests run the same queries through the adapter and through
 * this function on the same fixtures and expect the same ids.
 */
export function matchesQuery(node: QueryNode<ScimField>, resource: ScimUserResource | ScimGroupResource): boolean {
  return evaluate(node, (field) => valuesAt(resource, field), resource);
}

/** Evaluates a PATCH path filter (parseElementFilter) on one element of a multi-valued attribute. */
export function matchesElement(node: QueryNode<string>, element: Readonly<Record<string, unknown>>): boolean {
  return evaluate(node, (field) => flatten([element[field]]), element);
}

type ValuesOf = (field: string) => unknown[];

function evaluate(node: QueryNode<string>, valuesOf: ValuesOf, scope: object): boolean {
  switch (node.kind) {
    case 'and':
      return node.children.every((child) => evaluate(child, valuesOf, scope));
    case 'or':
      return node.children.some((child) => evaluate(child, valuesOf, scope));
    case 'not':
      return !evaluate(node.child, valuesOf, scope);
    case 'present':
      return valuesOf(node.field).some(isPresent);
    case 'valuePath': {
      const elements = (scope as Record<string, unknown>)[node.attribute];
      if (!Array.isArray(elements)) return false;
      const prefix = `${node.attribute}.`;
      return elements.some(
        (element) =>
          isObject(element) &&
          evaluate(node.filter, (field) => flatten([element[field.startsWith(prefix) ? field.slice(prefix.length) : field]]), element),
      );
    }
    case 'compare':
      if (node.op === 'ne') return !valuesOf(node.field).some((value) => compareOne(value, { ...node, op: 'eq' }));
      return valuesOf(node.field).some((value) => compareOne(value, node));
  }
}

function compareOne(actual: unknown, node: CompareNode<string>): boolean {
  const expected = node.value;
  if (expected instanceof Date) {
    const date = actual instanceof Date ? actual : typeof actual === 'string' ? parseScimDateTime(actual) : undefined;
    if (!date) return false;
    const difference = date.getTime() - expected.getTime();
    return { eq: difference === 0, ne: difference !== 0, gt: difference > 0, ge: difference >= 0, lt: difference < 0, le: difference <= 0 }[
      node.op as 'eq' | 'ne' | 'gt' | 'ge' | 'lt' | 'le'
    ];
  }
  if (typeof expected === 'boolean') return actual === expected;
  if (typeof actual !== 'string') return false;
  const left = node.normalisedKey ? normaliseKey(actual) : node.caseExact ? actual : foldCase(actual);
  const right = node.caseExact ? expected : foldCase(expected);
  switch (node.op) {
    case 'eq':
      return left === right;
    case 'co':
      return left.includes(right);
    case 'sw':
      return left.startsWith(right);
    case 'ew':
      return left.endsWith(right);
    default:
      return false;
  }
}

/** Every value at a dotted field path, walking into arrays (any element may match). */
function valuesAt(resource: object, field: string): unknown[] {
  const urnSplit = field.startsWith('urn:') ? field.lastIndexOf(':') : -1;
  const segments = urnSplit > 0 ? [field.slice(0, urnSplit), field.slice(urnSplit + 1)] : field.split('.');
  let current: unknown[] = [resource];
  for (const segment of segments) {
    current = flatten(current.map((value) => (isObject(value) ? value[segment] : undefined)));
  }
  return current;
}

function flatten(values: unknown[]): unknown[] {
  return values.flatMap((value) => (Array.isArray(value) ? value : [value])).filter((value) => value !== undefined && value !== null);
}

function isPresent(value: unknown): boolean {
  if (value === '' || value === undefined || value === null) return false;
  if (isObject(value)) return Object.values(value).some(isPresent);
  return true;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
