/**
 * SCIM PATCH (RFC 7644 §3.5.2) in the dialect Microsoft Entra's provisioning service speaks.
 *
 * Every operation goes through one coercion pass first: the op name is matched case-insensitively (`Replace`),
 * the path is resolved against the connection's schemas (case-insensitive names, optional schema URN, `name.x`,
 * `emails[type eq "work"].value`), the value is validated and coerced for the attribute (`"False"` -> false, a bare
 * manager id -> `{ value }`, `$ref: null` dropped), and a path-less add/replace is split into one operation per key
 * (keys may be dotted, URN-qualified or filtered paths, as Entra sends them).
 *
 * Canonical operations on an attribute or a sub-attribute of a single-valued complex attribute are then applied by
 * scim-patch. Two kinds are applied here instead, because scim-patch's semantics do not fit:
 * - filtered paths (`emails[type eq "work"].value`): scim-patch compares filter values case-sensitively whatever the
 *   attribute's caseExact, and can only create a missing entry for a single `eq`;
 * - removal by value (`members` with `[{ "value": id }]`): scim-patch removes only deep-equal elements, so a member
 *   stored with a `display` could never be removed that way.
 *
 * Decisions where the RFC or Entra leave room:
 * - remove of an absent attribute, or of members that are not there, is a no-op (Entra retries a failed request
 *   on every cycle, and the end state is already what it asked for). A filtered remove on any other attribute
 *   that matches nothing is 400 noTarget, as RFC 7644 §3.12 says.
 * - add/replace with a null value removes the attribute (null means unassigned, RFC 7643 §2.5).
 * - add/replace on a filtered path that matches nothing creates the element from the filter's `eq` conditions;
 *   when the filter is not a conjunction of `eq`s it cannot say what to create: 400 noTarget.
 * - Unknown attributes are 400 invalidPath, also as keys of a path-less value (each key is a path there). A POST
 *   ignores unknown core attributes instead (resources.ts): there the whole resource is at stake.
 * - id, meta and schemas are server-managed: naming them in a path is 400 mutability; in a path-less value, `meta`,
 *   `schemas` and an `id` equal to the current one are ignored (clients echo them). Removing a required attribute
 *   (userName, displayName) or changing a member's sub-attributes is 400 mutability.
 * - When an operation makes a value primary, the others of that attribute stop being primary (RFC 7643 §2.4).
 * - Multi-valued elements are de-duplicated (members by value; others by type + value, case per caseExact), and
 *   elements left without a `value` are dropped, once all operations have run.
 * - The operations are atomic: any failure throws and nothing is returned. The input is never mutated; meta is
 *   never touched (the store bumps lastModified/version when the result differs).
 */
import {
  NoTarget,
  ScimError as PatchLibraryError,
  scimPatch,
  type ScimPatchOperation,
  type ScimResource as PatchableResource,
} from 'scim-patch';
import { badRequest, ScimError } from './errors';
import { matchesElement, parseElementFilter, type QueryNode } from './query';
import {
  isPlainObject,
  parseAttributeValue,
  pruneEmpty,
  schemasFor,
  type ScimGroupResource,
  type ScimUserResource,
} from './resources';
import {
  findAttribute,
  ScimSchemaRegistry,
  type ScimAttributeDefinition,
  type ScimResourceKind,
  type ScimSchemaDefinition,
} from './schemas';

export const PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
export const MAX_PATCH_OPERATIONS = 1000;

export type PatchVerb = 'add' | 'replace' | 'remove';

/** One operation of a validated PatchOp body (op lower-cased; path trimmed, undefined when absent or blank). */
export interface PatchOperation {
  op: PatchVerb;
  path: string | undefined;
  value: unknown;
}

export interface GroupPatchResult {
  resource: ScimGroupResource;
  /** Member ids present after the request and not before (in resulting order). */
  membersAdded: string[];
  /** Member ids present before the request and not after. */
  membersRemoved: string[];
}

/** Applies a PATCH body to a User and returns the new resource (the input is left untouched). */
export function applyUserPatch(current: ScimUserResource, body: unknown, schema: ScimSchemaRegistry): ScimUserResource {
  return applyPatch('User', current, body, schema) as unknown as ScimUserResource;
}

/**
 * Applies a PATCH body to a Group. Membership changes are reported as the net difference between `current.members`
 * and the result, so the store can apply exactly those (re-adding a member or removing an absent one reports
 * nothing). `current.members` must therefore hold the group's complete member list.
 */
export function applyGroupPatch(current: ScimGroupResource, body: unknown): GroupPatchResult {
  const resource = applyPatch('Group', current, body, ScimSchemaRegistry.standard()) as unknown as ScimGroupResource;
  const before = new Set((current.members ?? []).map((member) => member.value));
  const after = new Set((resource.members ?? []).map((member) => member.value));
  return {
    resource,
    membersAdded: [...after].filter((value) => !before.has(value)),
    membersRemoved: [...before].filter((value) => !after.has(value)),
  };
}

const MEMBERS_PATH = /^(?:urn:ietf:params:scim:schemas:core:2\.0:group:)?members$/i;
// A plain id only (no escapes): anything fancier takes the general path.
const MEMBER_FILTER_PATH = /^(?:urn:ietf:params:scim:schemas:core:2\.0:group:)?members\[\s*value\s+eq\s+"([^"\\]*)"\s*\]$/i;

/**
 * The member ids a group PATCH touches when all it does is add or remove given members (Entra's membership
 * updates: `members` Add or Remove with a list of `{ value }`, Remove with `members[value eq "id"]`); null for any
 * other request (a replace, removing every member, another attribute, a value of another shape, an invalid body).
 *
 * Such a request depends only on whether those ids are members now, so it can be applied with applyGroupPatch to a
 * resource holding just them (the reconciler does, to keep a PATCH on a group of 100k members from reading the
 * 100k). Anything this function does not recognise goes the general way, with the same result and errors.
 */
export function memberIdsTouched(body: unknown): string[] | null {
  let operations: PatchOperation[];
  try {
    operations = parsePatchRequest(body);
  } catch {
    return null;
  }
  const ids = new Set<string>();
  for (const operation of operations) {
    if (operation.path === undefined || operation.op === 'replace') return null;
    const filtered = MEMBER_FILTER_PATH.exec(operation.path);
    if (filtered) {
      if (operation.op !== 'remove' || operation.value !== undefined) return null;
      ids.add(filtered[1]!);
      continue;
    }
    if (!MEMBERS_PATH.test(operation.path) || operation.value === undefined || operation.value === null) return null;
    for (const item of Array.isArray(operation.value) ? operation.value : [operation.value]) {
      if (!isPlainObject(item) || typeof item.value !== 'string' || item.value === '') return null;
      ids.add(item.value);
    }
  }
  return [...ids];
}

/**
 * Validates the PatchOp envelope: `schemas` includes the PatchOp URN, `Operations` is a non-empty array of at most
 * MAX_PATCH_OPERATIONS, each op is add/replace/remove in any case (else 400 invalidSyntax); a remove names a path
 * (else 400 noTarget, RFC 7644 §3.5.2.2); an add/replace carries a value (else 400 invalidValue).
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isPlainObject(body)) throw badRequest('invalidSyntax', 'The PATCH body must be a JSON object.');
  const schemas = member(body, 'schemas');
  if (!Array.isArray(schemas) || !schemas.some((urn) => typeof urn === 'string' && urn.toLowerCase() === PATCH_OP_SCHEMA.toLowerCase())) {
    throw badRequest('invalidSyntax', `"schemas" must include ${PATCH_OP_SCHEMA}.`);
  }
  const operations = member(body, 'Operations');
  if (!Array.isArray(operations) || operations.length === 0) throw badRequest('invalidSyntax', '"Operations" must be a non-empty array.');
  if (operations.length > MAX_PATCH_OPERATIONS) {
    throw badRequest('invalidSyntax', `A PATCH request may carry at most ${MAX_PATCH_OPERATIONS} operations.`);
  }
  return operations.map((raw: unknown, index) => {
    const where = `Operations[${index}]`;
    if (!isPlainObject(raw)) throw badRequest('invalidSyntax', `${where} must be an object.`);
    const rawOp = member(raw, 'op');
    const op = typeof rawOp === 'string' ? rawOp.trim().toLowerCase() : undefined;
    if (op !== 'add' && op !== 'replace' && op !== 'remove') {
      const got = typeof rawOp === 'string' ? ` (got "${rawOp.slice(0, 40)}")` : '';
      throw badRequest('invalidSyntax', `${where}.op must be "add", "replace" or "remove"${got}.`);
    }
    const rawPath = member(raw, 'path');
    if (rawPath !== undefined && rawPath !== null && typeof rawPath !== 'string') {
      throw badRequest('invalidPath', `${where}.path must be a string.`);
    }
    const path = typeof rawPath === 'string' && rawPath.trim() !== '' ? rawPath.trim() : undefined;
    if (op === 'remove' && path === undefined) throw badRequest('noTarget', `${where}: a remove operation needs a path.`);
    const hasValue = Object.keys(raw).some((key) => key.toLowerCase() === 'value');
    if (op !== 'remove' && !hasValue) throw badRequest('invalidValue', `${where}: "${op}" needs a value.`);
    return { op, path, value: member(raw, 'value') };
  });
}

/** Reads a structural member case-insensitively ("Operations", "operations"). */
function member(object: Readonly<Record<string, unknown>>, name: string): unknown {
  const key = Object.keys(object).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : object[key];
}

// ---- the engine ---------------------------------------------------------------------------------------------

interface PatchContext {
  kind: ScimResourceKind;
  registry: ScimSchemaRegistry;
  /** The working copy; operations mutate it in place. */
  doc: Record<string, unknown>;
}

/** Where a resolved path points. `container` is the extension URN for extension attributes. */
type Target =
  | { kind: 'extension'; path: string; schema: ScimSchemaDefinition }
  | { kind: 'attribute'; path: string; container: string | undefined; attribute: ScimAttributeDefinition }
  | { kind: 'subAttribute'; path: string; container: string | undefined; attribute: ScimAttributeDefinition; sub: ScimAttributeDefinition }
  | {
      kind: 'elements';
      path: string;
      container: string | undefined;
      attribute: ScimAttributeDefinition;
      /** Absent: every element (`emails.value`). */
      filter: QueryNode<string> | undefined;
      sub: ScimAttributeDefinition | undefined;
    };

/** Multi-valued attributes whose elements are identified by `value` alone. */
const IDENTIFIED_BY_VALUE = new Set(['members']);

function applyPatch(kind: ScimResourceKind, current: object, body: unknown, registry: ScimSchemaRegistry): Record<string, unknown> {
  const operations = parsePatchRequest(body);
  const context: PatchContext = { kind, registry, doc: structuredClone(current) as Record<string, unknown> };
  operations.forEach((operation, index) => {
    try {
      const primariesBefore = primaryElements(context);
      applyOperation(context, operation);
      keepOnePrimary(context, primariesBefore);
    } catch (error) {
      // Say which operation failed: Entra logs the detail, and a request can carry hundreds of operations.
      if (error instanceof ScimError) throw new ScimError(error.status, error.scimType, `Operations[${index}]: ${error.detail}`);
      throw error;
    }
  });
  return finish(context);
}

function applyOperation(context: PatchContext, operation: PatchOperation): void {
  if (operation.path !== undefined) {
    applyToPath(context, operation.op, operation.path, operation.value);
    return;
  }
  // Path-less add/replace: each key of the value is itself a path (`name.givenName`, a URN, even a filtered path).
  if (!isPlainObject(operation.value)) {
    throw badRequest('invalidValue', `"${operation.op}" without a path needs an object of attributes as its value.`);
  }
  for (const [key, value] of Object.entries(operation.value)) {
    const lower = key.toLowerCase();
    if (lower === 'schemas' || lower === 'meta') continue;
    if (lower === 'id' && value === context.doc.id) continue;
    applyToPath(context, operation.op, key, value);
  }
}

function applyToPath(context: PatchContext, verb: PatchVerb, path: string, value: unknown): void {
  const target = resolveTarget(context, path);
  // null means unassigned: an add/replace with null is a remove.
  const effectiveVerb: PatchVerb = verb !== 'remove' && value === null ? 'remove' : verb;
  checkMutability(target, effectiveVerb);
  switch (target.kind) {
    case 'extension':
      return applyToExtension(context, target, effectiveVerb, value);
    case 'attribute':
      return applyToAttribute(context, target, effectiveVerb, value);
    case 'subAttribute':
      return applyToSubAttribute(context, target, effectiveVerb, value);
    case 'elements':
      return applyToElements(context, target, effectiveVerb, value);
  }
}

// An attribute name, an optional [filter], an optional .subAttribute (RFC 7644 §3.5.2 PATH, after the URN).
const PATH_PATTERN = /^([A-Za-z$][\w$-]*)(?:\[(.+)\])?(?:\.([A-Za-z$][\w$-]*))?$/;

function resolveTarget(context: PatchContext, path: string): Target {
  if (path.trim().toLowerCase() === 'schemas') throw badRequest('mutability', '"schemas" is maintained by Gatehouse.');
  const split = context.registry.splitSchemaPrefix(context.kind, path.trim());
  if (split.kind === 'unknownSchema') throw badRequest('invalidPath', `"${path}": its schema is not declared for this connection.`);
  if (split.kind === 'extension' && split.rest === '') return { kind: 'extension', path, schema: split.schema };

  const match = PATH_PATTERN.exec(split.rest);
  if (!match) throw badRequest('invalidPath', `"${path}" is not a valid attribute path.`);
  const [, name, filterText, subName] = match as unknown as [string, string, string | undefined, string | undefined];
  const container = split.kind === 'extension' ? split.schema.id : undefined;
  const attribute =
    split.kind === 'extension' ? findAttribute(split.schema.attributes, name) : context.registry.coreAttribute(context.kind, name);
  if (!attribute) throw badRequest('invalidPath', `"${path}": there is no attribute "${name}".`);

  let sub: ScimAttributeDefinition | undefined;
  if (subName !== undefined) {
    sub = findAttribute(attribute.subAttributes, subName);
    if (!sub) throw badRequest('invalidPath', `"${path}": ${attribute.name} has no sub-attribute "${subName}".`);
  }
  if (filterText !== undefined) {
    if (!attribute.multiValued || attribute.type !== 'complex') {
      throw badRequest('invalidPath', `"${path}": only multi-valued complex attributes can be filtered with [...].`);
    }
    return { kind: 'elements', path, container, attribute, filter: elementFilter(path, filterText, attribute), sub };
  }
  if (sub && attribute.multiValued) return { kind: 'elements', path, container, attribute, filter: undefined, sub };
  if (sub) return { kind: 'subAttribute', path, container, attribute, sub };
  return { kind: 'attribute', path, container, attribute };
}

function elementFilter(path: string, text: string, attribute: ScimAttributeDefinition): QueryNode<string> {
  try {
    return parseElementFilter(text, attribute);
  } catch (error) {
    if (error instanceof ScimError) throw badRequest('invalidPath', `"${path}": ${error.detail}`);
    throw error;
  }
}

function checkMutability(target: Target, verb: PatchVerb): void {
  if (target.kind === 'extension') return;
  const { attribute } = target;
  if (attribute.mutability === 'readOnly') throw badRequest('mutability', `${attribute.name} is read-only.`);
  const sub = target.kind === 'attribute' ? undefined : target.sub;
  if (sub && (sub.mutability === 'readOnly' || sub.mutability === 'immutable')) {
    throw badRequest('mutability', `${attribute.name}.${sub.name} cannot be changed.`);
  }
  // members: elements are added and removed whole; rewriting one in place would change immutable sub-attributes.
  const immutableElements = attribute.subAttributes?.every((definition) => definition.mutability === 'immutable') ?? false;
  if (target.kind === 'elements' && immutableElements && verb !== 'remove') {
    throw badRequest('mutability', `${attribute.name} values cannot be changed in place; add or remove them.`);
  }
  if (target.kind === 'attribute' && attribute.required && verb === 'remove') {
    throw badRequest('mutability', `${attribute.name} is required and cannot be removed.`);
  }
}

/** The object holding `container`'s attributes: the resource itself, or its extension object (created on write). */
function containerOf(context: PatchContext, container: string | undefined, create: boolean): Record<string, unknown> | undefined {
  if (container === undefined) return context.doc;
  const existing = context.doc[container];
  if (isPlainObject(existing)) return existing;
  if (!create) return undefined;
  const created: Record<string, unknown> = {};
  context.doc[container] = created;
  return created;
}

function canonicalPath(container: string | undefined, attribute: ScimAttributeDefinition, sub?: ScimAttributeDefinition): string {
  return `${container ? `${container}:` : ''}${attribute.name}${sub ? `.${sub.name}` : ''}`;
}

/** Hands one canonical operation to scim-patch, which mutates the working copy in place. */
function applyWithLibrary(context: PatchContext, operation: ScimPatchOperation): void {
  try {
    scimPatch(context.doc as unknown as PatchableResource, [operation], { mutateDocument: true, treatMissingAsAdd: true });
  } catch (error) {
    if (error instanceof PatchLibraryError) throw badRequest(error instanceof NoTarget ? 'noTarget' : 'invalidValue', error.message);
    throw error;
  }
}

/** A bare extension URN: remove drops the whole extension; add/replace apply attribute by attribute. */
function applyToExtension(context: PatchContext, target: Extract<Target, { kind: 'extension' }>, verb: PatchVerb, value: unknown): void {
  if (verb === 'remove') {
    delete context.doc[target.schema.id];
    return;
  }
  if (!isPlainObject(value)) throw badRequest('invalidValue', `"${target.path}" needs an object of extension attributes.`);
  for (const [key, item] of Object.entries(value)) {
    const attribute = findAttribute(target.schema.attributes, key);
    if (!attribute) throw badRequest('invalidPath', `"${target.path}": there is no attribute "${key}" in this extension.`);
    if (attribute.mutability === 'readOnly') continue;
    const path = `${target.schema.id}:${attribute.name}`;
    applyToAttribute(context, { kind: 'attribute', path, container: target.schema.id, attribute }, item === null ? 'remove' : verb, item);
  }
}

function applyToAttribute(context: PatchContext, target: Extract<Target, { kind: 'attribute' }>, verb: PatchVerb, value: unknown): void {
  const { attribute, container } = target;
  const path = canonicalPath(container, attribute);
  if (verb === 'remove') {
    if (value !== undefined && value !== null && attribute.multiValued) {
      removeByValue(context, target, value);
      return;
    }
    applyWithLibrary(context, { op: 'remove', path });
    return;
  }
  const coerced = parseAttributeValue(attribute, value, target.path);
  if (coerced === undefined) {
    // An empty array or object: replace means "now unassigned", add adds nothing.
    if (verb === 'replace') applyWithLibrary(context, { op: 'remove', path });
    return;
  }
  applyWithLibrary(context, { op: verb, path, value: coerced });
}

function applyToSubAttribute(
  context: PatchContext,
  target: Extract<Target, { kind: 'subAttribute' }>,
  verb: PatchVerb,
  value: unknown,
): void {
  const path = canonicalPath(target.container, target.attribute, target.sub);
  if (verb === 'remove') {
    applyWithLibrary(context, { op: 'remove', path });
    return;
  }
  const coerced = parseAttributeValue(target.sub, value, target.path);
  applyWithLibrary(context, coerced === undefined ? { op: 'remove', path } : { op: verb, path, value: coerced });
}

/**
 * remove with a value on a multi-valued attribute (Entra: `members` with `[{ "value": id }]`): drops the elements
 * with those values; values that are not there are ignored.
 */
function removeByValue(context: PatchContext, target: Extract<Target, { kind: 'attribute' }>, value: unknown): void {
  const { attribute } = target;
  const holder = containerOf(context, target.container, false);
  const current = holder?.[attribute.name];
  if (!holder || !Array.isArray(current)) return;
  const requested = Array.isArray(value) ? value : [value];
  let remaining: unknown[];
  if (attribute.type === 'complex') {
    const valueDefinition = findAttribute(attribute.subAttributes, 'value');
    if (!valueDefinition) {
      throw badRequest('invalidValue', `"${target.path}": values of ${attribute.name} cannot be removed by value; use a filter.`);
    }
    const fold = (text: string): string => (valueDefinition.caseExact ? text : text.toLowerCase());
    const doomed = new Set(
      requested.map((item) => {
        const id = isPlainObject(item) ? item.value : item;
        if (typeof id !== 'string') throw badRequest('invalidValue', `"${target.path}": each value to remove needs a string "value".`);
        return fold(id);
      }),
    );
    const isDoomed = (element: unknown): boolean =>
      isPlainObject(element) && typeof element.value === 'string' && doomed.has(fold(element.value));
    remaining = current.filter((element) => !isDoomed(element));
  } else {
    const doomed = new Set(requested.map((item) => JSON.stringify(item)));
    remaining = current.filter((element) => !doomed.has(JSON.stringify(element)));
  }
  if (remaining.length > 0) holder[attribute.name] = remaining;
  else delete holder[attribute.name];
}

/** Filtered paths (`emails[type eq "work"].value`) and sub-attributes of every element (`emails.value`). */
function applyToElements(context: PatchContext, target: Extract<Target, { kind: 'elements' }>, verb: PatchVerb, value: unknown): void {
  const { attribute, filter, sub } = target;
  const holder = containerOf(context, target.container, verb !== 'remove');
  const existing = holder?.[attribute.name];
  const elements = Array.isArray(existing) ? existing.filter(isPlainObject) : [];
  const matches = elements.filter((element) => filter === undefined || matchesElement(filter, element));

  if (verb === 'remove') {
    if (matches.length === 0) {
      // Removing an absent member is a no-op; for other attributes a filter that selects nothing is noTarget.
      if (filter === undefined || IDENTIFIED_BY_VALUE.has(attribute.name)) return;
      throw badRequest('noTarget', `"${target.path}" matches no ${attribute.name} value.`);
    }
    if (sub) {
      for (const element of matches) delete element[sub.name];
    } else {
      setElements(holder!, attribute.name, elements.filter((element) => !matches.includes(element)));
    }
    return;
  }

  // Without a sub-attribute the value is one element: the attribute's definition, single-valued.
  const coerced = parseAttributeValue(sub ?? { ...attribute, multiValued: false }, value, target.path);
  if (coerced === undefined) return;
  if (matches.length > 0) {
    for (const element of matches) {
      if (sub) {
        element[sub.name] = coerced;
      } else {
        // replace swaps the matching element for the value (keeping what the filter pinned); add merges into it.
        if (verb === 'replace') for (const key of Object.keys(element)) delete element[key];
        Object.assign(element, verb === 'replace' ? equalityTemplate(filter) ?? {} : {}, coerced);
      }
    }
    return;
  }
  // Entra: add/replace on a filtered entry that does not exist creates it (`emails[type eq "work"].value`).
  const template = filter ? equalityTemplate(filter) : undefined;
  if (!template) {
    throw badRequest(
      'noTarget',
      `"${target.path}" matches no ${attribute.name} value, and only a filter of "eq" conditions joined by "and" says what to create.`,
    );
  }
  const created = sub ? { ...template, [sub.name]: coerced } : { ...template, ...(coerced as Record<string, unknown>) };
  setElements(holder!, attribute.name, [...elements, created]);
}

function setElements(holder: Record<string, unknown>, name: string, elements: readonly unknown[]): void {
  if (elements.length > 0) holder[name] = [...elements];
  else delete holder[name];
}

/** The element a filter of `eq` conditions joined by `and` describes, e.g. `{ type: 'work' }`; else undefined. */
function equalityTemplate(node: QueryNode<string> | undefined): Record<string, unknown> | undefined {
  if (node?.kind === 'compare' && node.op === 'eq') {
    return { [node.field]: node.value instanceof Date ? node.value.toISOString() : node.value };
  }
  if (node?.kind !== 'and') return undefined;
  const template: Record<string, unknown> = {};
  for (const child of node.children) {
    const part = equalityTemplate(child);
    if (!part) return undefined;
    for (const [key, value] of Object.entries(part)) {
      if (key in template && template[key] !== value) return undefined; // `type eq "a" and type eq "b"`: nothing fits
      template[key] = value;
    }
  }
  return template;
}

// ---- invariants -------------------------------------------------------------------------------------------------

/** Multi-valued complex attributes of the resource, with where they live. */
function multiValuedAttributes(context: PatchContext): Array<{ holder: Record<string, unknown>; attribute: ScimAttributeDefinition }> {
  const result: Array<{ holder: Record<string, unknown>; attribute: ScimAttributeDefinition }> = [];
  const add = (holder: unknown, attributes: readonly ScimAttributeDefinition[]): void => {
    if (!isPlainObject(holder)) return;
    for (const attribute of attributes) if (attribute.multiValued && attribute.type === 'complex') result.push({ holder, attribute });
  };
  add(context.doc, context.registry.coreSchema(context.kind).attributes);
  for (const extension of context.registry.extensionsOf(context.kind)) add(context.doc[extension.id], extension.attributes);
  return result;
}

function primaryElements(context: PatchContext): Set<object> {
  const primaries = new Set<object>();
  for (const { holder, attribute } of multiValuedAttributes(context)) {
    const elements = holder[attribute.name];
    if (!Array.isArray(elements)) continue;
    for (const element of elements) if (isPlainObject(element) && element.primary === true) primaries.add(element);
  }
  return primaries;
}

/** After an operation: if it made a value primary, the attribute's other values stop being primary. */
function keepOnePrimary(context: PatchContext, before: ReadonlySet<object>): void {
  for (const { holder, attribute } of multiValuedAttributes(context)) {
    const elements = holder[attribute.name];
    if (!Array.isArray(elements)) continue;
    const primaries = elements.filter((element): element is Record<string, unknown> => isPlainObject(element) && element.primary === true);
    if (primaries.length < 2) continue;
    const keep = primaries.filter((element) => !before.has(element)).at(-1) ?? primaries[0]!;
    for (const element of primaries) if (element !== keep) element.primary = false;
  }
}

function identityOf(attribute: ScimAttributeDefinition, element: Readonly<Record<string, unknown>>): string {
  const valueDefinition = findAttribute(attribute.subAttributes, 'value');
  if (!valueDefinition || typeof element.value !== 'string') return JSON.stringify(Object.entries(element).sort());
  const value = valueDefinition.caseExact ? element.value : element.value.toLowerCase();
  if (IDENTIFIED_BY_VALUE.has(attribute.name)) return value;
  const type = typeof element.type === 'string' ? element.type.toLowerCase() : '';
  return `${type}\u0000${value}`;
}

/** De-duplicates elements (a later duplicate's sub-attributes win, in the first one's place) and drops hollow ones. */
function tidyMultiValued(context: PatchContext): void {
  for (const { holder, attribute } of multiValuedAttributes(context)) {
    const elements = holder[attribute.name];
    if (!Array.isArray(elements)) continue;
    const hasValue = findAttribute(attribute.subAttributes, 'value') !== undefined;
    const byIdentity = new Map<string, Record<string, unknown>>();
    for (const element of elements) {
      if (!isPlainObject(element)) continue;
      if (hasValue && (typeof element.value !== 'string' || element.value === '')) continue; // e.g. after removing .value
      const key = identityOf(attribute, element);
      const first = byIdentity.get(key);
      if (first) Object.assign(first, element);
      else byIdentity.set(key, element);
    }
    setElements(holder, attribute.name, [...byIdentity.values()]);
  }
}

function finish(context: PatchContext): Record<string, unknown> {
  tidyMultiValued(context);
  const result = (pruneEmpty(context.doc) ?? {}) as Record<string, unknown>;
  for (const attribute of context.registry.coreSchema(context.kind).attributes) {
    const value = result[attribute.name];
    if (attribute.required && (typeof value !== 'string' || value.trim() === '')) {
      throw badRequest('invalidValue', `${attribute.name} is required and must not be blank.`);
    }
  }
  result.schemas = schemasFor(context.kind, result, context.registry);
  return result;
}
