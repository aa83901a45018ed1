/**
 * The MongoDB adapter's SCIM query logic as pure functions (unit-tested without a server in
 * test/store/mongo-scim-queries.test.ts): SCIM filter AST (src/scim/query.ts) -> filter documents, scope filters,
 * the update documents of SCIM writes, token/client documents and their mapping back.
 *
 * Semantics mirror the SQLite translation (src/store/sqlite/scim-filter.ts): case-insensitive attributes compare
 * their *Fold copy with the lower-cased value; a missing field never matches a comparison, `ne` is `$nor` of `eq`;
 * a valuePath is `$elemMatch` (one element satisfies every condition). Group members live in the memberships
 * collection, which a filter document cannot join: each member condition is first resolved to the matching group
 * ids (memberConditions + one `distinct` per condition) and then inlined as `_id: { $in: [...] }`.
 */
import type { QueryFilter, UpdateQuery } from 'mongoose';
import type { CompareNode, GroupField, GroupQuery, QueryNode, UserField, UserQuery } from '../../scim/query';
import { EMPLOYEE_NUMBER_FIELD, foldCase } from '../../scim/query';
import type { NewScimToken, NewUser, ScimClient, ScimScope, ScimToken, ScimUserState, UserPatch } from '../ports';
import { newUserDoc, userFoldsOf, type GroupDoc, type MembershipDoc, type UserDoc } from './queries';

type Doc = Record<string, unknown>;

/** Matches every document / no document. */
export const MATCH_ALL: Doc = {};
export const MATCH_NONE: Doc = { _id: { $in: [] } };

export function escapeRegex(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

type ScalarKind = 'string' | 'boolean' | 'date';
type Target =
  | { kind: 'scalar'; type: ScalarKind; path: string; folded: boolean; alwaysPresent?: boolean }
  | { kind: 'constant'; value: string }
  | { kind: 'switch'; unowned: Target; owned: Target; ownerPath: string }
  /** Only while a SCIM client owns the document (no value otherwise). */
  | { kind: 'owned'; inner: Target; ownerPath: string }
  | { kind: 'multi' };

function condition(node: CompareNode<string>, type: ScalarKind, folded: boolean): unknown {
  const value = node.value;
  if (type === 'boolean') return value === true;
  if (type === 'date') {
    const op = { eq: '$eq', gt: '$gt', ge: '$gte', lt: '$lt', le: '$lte' }[node.op as 'eq' | 'gt' | 'ge' | 'lt' | 'le'];
    if (!op) throw new Error(`operator ${node.op} on a date`);
    return { [op]: value };
  }
  if (typeof value !== 'string') throw new Error(`a string attribute compared with ${typeof value}`);
  const text = folded && !node.normalisedKey ? foldCase(value) : value;
  switch (node.op) {
    case 'eq':
      return text;
    case 'co':
      return { $regex: escapeRegex(text) };
    case 'sw':
      return { $regex: `^${escapeRegex(text)}` };
    case 'ew':
      return { $regex: `${escapeRegex(text)}$` };
    default:
      throw new Error(`operator ${node.op} on a string`);
  }
}

/** `value` compared with a constant, decided now. */
function constantMatches(constant: string, node: CompareNode<string>): boolean {
  const text = typeof node.value === 'string' ? foldCase(node.value) : '';
  switch (node.op) {
    case 'eq':
      return constant === text;
    case 'co':
      return constant.includes(text);
    case 'sw':
      return constant.startsWith(text);
    case 'ew':
      return constant.endsWith(text);
    default:
      return false;
  }
}

function compareTarget(target: Target, node: CompareNode<string>): Doc {
  if (node.op === 'ne') return { $nor: [compareTarget(target, { ...node, op: 'eq' })] };
  switch (target.kind) {
    case 'scalar':
      return { [target.path]: condition(node, target.type, target.folded) };
    case 'constant':
      return constantMatches(target.value, node) ? MATCH_ALL : MATCH_NONE;
    case 'switch':
      return {
        $or: [
          { [target.ownerPath]: null, ...compareTarget(target.unowned, node) },
          { [target.ownerPath]: { $ne: null }, ...compareTarget(target.owned, node) },
        ],
      };
    case 'owned':
      return { [target.ownerPath]: { $ne: null }, ...compareTarget(target.inner, node) };
    case 'multi':
      throw new Error('multi-valued target compared directly');
  }
}

function presentTarget(target: Target): Doc {
  switch (target.kind) {
    case 'scalar':
      if (target.alwaysPresent) return MATCH_ALL;
      return { [target.path]: target.type === 'string' ? { $nin: [null, ''] } : { $ne: null } };
    case 'constant':
      return target.value === '' ? MATCH_NONE : MATCH_ALL;
    case 'switch':
      return {
        $or: [
          { [target.ownerPath]: null, ...presentTarget(target.unowned) },
          { [target.ownerPath]: { $ne: null }, ...presentTarget(target.owned) },
        ],
      };
    case 'owned':
      return { [target.ownerPath]: { $ne: null }, ...presentTarget(target.inner) };
    case 'multi':
      throw new Error('multi-valued target tested directly');
  }
}

type Resolver = (field: string) => Target;
type MultiTranslator = (filter: QueryNode<string>) => Doc;

function translate(node: QueryNode<string>, resolve: Resolver, multi: MultiTranslator): Doc {
  switch (node.kind) {
    case 'and':
      return { $and: node.children.map((child) => translate(child, resolve, multi)) };
    case 'or':
      return { $or: node.children.map((child) => translate(child, resolve, multi)) };
    case 'not':
      return { $nor: [translate(node.child, resolve, multi)] };
    case 'present': {
      const target = resolve(node.field);
      return target.kind === 'multi' ? multi(node) : presentTarget(target);
    }
    case 'compare': {
      const target = resolve(node.field);
      if (target.kind !== 'multi') return compareTarget(target, node);
      return node.op === 'ne' ? { $nor: [multi({ ...node, op: 'eq' })] } : multi(node);
    }
    case 'valuePath':
      return multi(node.filter);
  }
}

const noNesting: MultiTranslator = () => {
  throw new Error('a valuePath inside a valuePath');
};

// ---- users ------------------------------------------------------------------------------------------------------

/** The accounts a connection's SCIM client sees (ports.ts ScimScope). */
export function userScopeFilter(scope: ScimScope): Doc {
  return { tenantId: scope.tenantId, scimDeletedAt: null, scimConnectionId: { $in: [null, scope.connectionId] } };
}

function userResolver(scope: ScimScope): Resolver {
  const userName: Target =
    scope.userNameKey === 'username'
      ? { kind: 'scalar', type: 'string', path: 'usernameKey', folded: false, alwaysPresent: true }
      : {
          kind: 'switch',
          ownerPath: 'scimConnectionId',
          unowned: { kind: 'scalar', type: 'string', path: 'usernameKey', folded: false, alwaysPresent: true },
          owned: { kind: 'scalar', type: 'string', path: 'scimUserNameKey', folded: false },
        };
  const table: Record<UserField, Target> = {
    id: { kind: 'scalar', type: 'string', path: '_id', folded: false, alwaysPresent: true },
    externalId: { kind: 'owned', ownerPath: 'scimConnectionId', inner: { kind: 'scalar', type: 'string', path: 'scimExternalId', folded: false } },
    userName,
    displayName: { kind: 'scalar', type: 'string', path: 'displayNameFold', folded: true },
    active: { kind: 'scalar', type: 'boolean', path: 'active', folded: false, alwaysPresent: true },
    'name.givenName': { kind: 'scalar', type: 'string', path: 'givenNameFold', folded: true },
    'name.familyName': { kind: 'scalar', type: 'string', path: 'familyNameFold', folded: true },
    'emails.value': { kind: 'multi' },
    'emails.type': { kind: 'multi' },
    'meta.created': { kind: 'scalar', type: 'date', path: 'createdAt', folded: false, alwaysPresent: true },
    'meta.lastModified': { kind: 'scalar', type: 'date', path: 'updatedAt', folded: false, alwaysPresent: true },
    [EMPLOYEE_NUMBER_FIELD]: {
      kind: 'owned',
      ownerPath: 'scimConnectionId',
      inner: { kind: 'scalar', type: 'string', path: 'scimEmployeeNumberFold', folded: true },
    },
  };
  return (field) => {
    const target = table[field as UserField];
    if (!target) throw new Error(`no field for User.${field}`);
    return target;
  };
}

/** Inside $elemMatch on scimEmails: element sub-fields. */
const storedEmail: Resolver = (field) => {
  if (field === 'emails.value') return { kind: 'scalar', type: 'string', path: 'valueFold', folded: true };
  if (field === 'emails.type') return { kind: 'scalar', type: 'string', path: 'typeFold', folded: true };
  throw new Error(`no field for emails element ${field}`);
};

/** The one email an account without SCIM state shows: { value: its email, type: 'work' }. */
const accountEmail: Resolver = (field) => {
  if (field === 'emails.value') return { kind: 'scalar', type: 'string', path: 'emailFold', folded: true };
  if (field === 'emails.type') return { kind: 'constant', value: 'work' };
  throw new Error(`no field for emails element ${field}`);
};

const userMulti: MultiTranslator = (filter) => ({
  $or: [
    { scimConnectionId: { $ne: null }, scimEmails: { $elemMatch: translate(filter, storedEmail, noNesting) } },
    { $and: [{ scimConnectionId: null, emailFold: { $nin: [null, ''] } }, translate(filter, accountEmail, noNesting)] },
  ],
});

/** Scope and filter of a users query, as one filter document. */
export function scimUserFilter(scope: ScimScope, filter: UserQuery | null): QueryFilter<UserDoc> {
  const base = userScopeFilter(scope);
  if (!filter) return base as QueryFilter<UserDoc>;
  return { $and: [base, translate(filter as QueryNode<string>, userResolver(scope), userMulti)] } as QueryFilter<UserDoc>;
}

// ---- groups -----------------------------------------------------------------------------------------------------

export function groupScopeFilter(scope: ScimScope): Doc {
  return { tenantId: scope.tenantId, scimDeletedAt: null, scimConnectionId: { $in: [null, scope.connectionId] } };
}

const GROUP_FIELDS: Record<GroupField, Target> = {
  id: { kind: 'scalar', type: 'string', path: '_id', folded: false, alwaysPresent: true },
  // An owned group whose client sent no externalId shows none (externalId then holds an internal value).
  externalId: {
    kind: 'switch',
    ownerPath: 'scimConnectionId',
    unowned: { kind: 'scalar', type: 'string', path: 'externalId', folded: false },
    owned: { kind: 'scalar', type: 'string', path: 'scimExternalId', folded: false },
  },
  displayName: { kind: 'scalar', type: 'string', path: 'displayNameFold', folded: true },
  'members.value': { kind: 'multi' },
  'meta.created': { kind: 'scalar', type: 'date', path: 'createdAt', folded: false, alwaysPresent: true },
  'meta.lastModified': { kind: 'scalar', type: 'date', path: 'updatedAt', folded: false, alwaysPresent: true },
};

const groupResolver: Resolver = (field) => {
  const target = GROUP_FIELDS[field as GroupField];
  if (!target) throw new Error(`no field for Group.${field}`);
  return target;
};

const memberElement: Resolver = (field) => {
  if (field === 'members.value') return { kind: 'scalar', type: 'string', path: 'userId', folded: false };
  throw new Error(`no field for members element ${field}`);
};

/**
 * The membership filters a group filter needs, in the order groupFilter consumes them: run each as
 * `memberships.distinct('groupId', filter)` and pass the results to scimGroupFilter.
 */
export function memberConditions(connectionId: string, filter: GroupQuery | null): QueryFilter<MembershipDoc>[] {
  const conditions: QueryFilter<MembershipDoc>[] = [];
  if (filter) {
    translate(filter as QueryNode<string>, groupResolver, (inner) => {
      conditions.push({ source: `scim:${connectionId}`, ...translate(inner, memberElement, noNesting) } as QueryFilter<MembershipDoc>);
      return MATCH_NONE;
    });
  }
  return conditions;
}

/** Scope and filter of a groups query; `memberGroupIds[i]` answers memberConditions(...)[i]. */
export function scimGroupFilter(scope: ScimScope, filter: GroupQuery | null, memberGroupIds: string[][] = []): QueryFilter<GroupDoc> {
  const base = groupScopeFilter(scope);
  if (!filter) return base as QueryFilter<GroupDoc>;
  let index = 0;
  const doc = translate(filter as QueryNode<string>, groupResolver, () => {
    const ids = memberGroupIds[index++];
    if (!ids) throw new Error('member conditions were not resolved');
    return { _id: { $in: ids } };
  });
  return { $and: [base, doc] } as QueryFilter<GroupDoc>;
}

// ---- SCIM writes ------------------------------------------------------------------------------------------------

/** The SCIM fields of an account owned by `connectionId`. */
export function scimUserFields(connectionId: string, state: ScimUserState): Partial<UserDoc> {
  return {
    scimConnectionId: connectionId,
    scimExternalId: state.externalId,
    scimUserNameKey: state.userNameKey,
    scimEmployeeNumberFold: foldCase(state.employeeNumber),
    scimEmails: state.emails.map((e) => ({ valueFold: foldCase(e.value), typeFold: foldCase(e.type), primary: e.primary })),
    scimResource: state.resource,
    scimDeletedAt: null,
  };
}

export function newScimUserDoc(connectionId: string, input: NewUser, state: ScimUserState, id: string, now: Date): UserDoc {
  return { ...newUserDoc(input, id, now), ...scimUserFields(connectionId, state) };
}

/** Only while at the expected version and unowned or owned by this connection (adopting, relinking). */
export function ownedAt(connectionId: string, id: string, version: number): Doc {
  // Documents written before versions existed read as version 1.
  const versionMatch = version === 1 ? { $or: [{ version: 1 }, { version: { $exists: false } }] } : { version };
  return { $and: [{ _id: id, scimConnectionId: { $in: [null, connectionId] } }, versionMatch] };
}

export function scimUserSave(connectionId: string, patch: UserPatch, state: ScimUserState, now: Date): UpdateQuery<UserDoc> {
  const fields: Partial<UserDoc> = {};
  for (const key of ['username', 'usernameKey', 'email', 'givenName', 'familyName', 'displayName', 'fullName', 'active'] as const) {
    if (patch[key] !== undefined) (fields as Record<string, unknown>)[key] = patch[key];
  }
  return { $set: { ...fields, ...userFoldsOf(patch), ...scimUserFields(connectionId, state), updatedAt: now }, $inc: { version: 1 } };
}

export function scimUserDetach(now: Date): UpdateQuery<UserDoc> {
  return {
    $set: {
      active: false,
      scimConnectionId: null,
      scimExternalId: null,
      scimUserNameKey: null,
      scimEmployeeNumberFold: null,
      scimEmails: [],
      scimResource: null,
      scimDeletedAt: now,
      updatedAt: now,
    },
    $inc: { version: 1 },
  };
}

export function newScimGroupDoc(
  connectionId: string,
  tenantId: string,
  input: { displayName: string; externalId: string | null },
  id: string,
  now: Date,
): GroupDoc {
  return {
    _id: id,
    tenantId,
    externalId: input.externalId ?? `gatehouse:scim:${id}`,
    displayName: input.displayName,
    displayNameFold: foldCase(input.displayName),
    nameResolved: true,
    createdAt: now,
    updatedAt: now,
    version: 1,
    scimConnectionId: connectionId,
    scimExternalId: input.externalId,
    scimDeletedAt: null,
  };
}

export function scimGroupSave(connectionId: string, change: { displayName: string; externalId: string | null }, now: Date): UpdateQuery<GroupDoc> {
  return {
    $set: {
      displayName: change.displayName,
      displayNameFold: foldCase(change.displayName),
      nameResolved: true,
      // No externalId from the client keeps the group's own (e.g. the Entra object id a SAML claim joins on).
      ...(change.externalId !== null ? { externalId: change.externalId } : {}),
      scimExternalId: change.externalId,
      scimConnectionId: connectionId,
      scimDeletedAt: null,
      updatedAt: now,
    },
    $inc: { version: 1 },
  };
}

export function scimGroupDetach(now: Date): UpdateQuery<GroupDoc> {
  return { $set: { scimConnectionId: null, scimExternalId: null, scimDeletedAt: now, updatedAt: now }, $inc: { version: 1 } };
}

// ---- tokens and clients -----------------------------------------------------------------------------------------

export interface ScimTokenDoc {
  _id: string;
  connectionId: string;
  tenantId: string;
  kind: ScimToken['kind'];
  hash: string;
  prefix: string;
  clientId: string | null;
  createdAt: Date;
  expiresAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  alertsSent: number[];
}

export interface ScimClientDoc {
  _id: string;
  connectionId: string;
  tenantId: string;
  clientId: string;
  secretHash: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

export function newScimTokenDoc(input: NewScimToken, id: string, now: Date): ScimTokenDoc {
  return { ...input, _id: id, createdAt: now, lastUsedAt: null, revokedAt: null, alertsSent: [] };
}

export function toScimToken(doc: ScimTokenDoc): ScimToken {
  return {
    id: doc._id,
    connectionId: doc.connectionId,
    tenantId: doc.tenantId,
    kind: doc.kind,
    prefix: doc.prefix,
    clientId: doc.clientId ?? null,
    createdAt: new Date(doc.createdAt),
    expiresAt: new Date(doc.expiresAt),
    lastUsedAt: doc.lastUsedAt ? new Date(doc.lastUsedAt) : null,
    revokedAt: doc.revokedAt ? new Date(doc.revokedAt) : null,
    alertsSent: [...(doc.alertsSent ?? [])].sort((a, b) => b - a),
  };
}

export function tokensExpiringFilter(now: Date, before: Date): QueryFilter<ScimTokenDoc> {
  return { kind: 'token', revokedAt: null, expiresAt: { $gt: now, $lte: before } };
}

/** Records an alert threshold once: matches only while the threshold is not recorded yet. */
export function alertClaim(id: string, threshold: number): { filter: QueryFilter<ScimTokenDoc>; update: UpdateQuery<ScimTokenDoc> } {
  return { filter: { _id: id, alertsSent: { $ne: threshold } }, update: { $push: { alertsSent: threshold } } };
}

export function toScimClient(doc: ScimClientDoc): ScimClient {
  return {
    id: doc._id,
    connectionId: doc.connectionId,
    tenantId: doc.tenantId,
    clientId: doc.clientId,
    createdAt: new Date(doc.createdAt),
    lastUsedAt: doc.lastUsedAt ? new Date(doc.lastUsedAt) : null,
    revokedAt: doc.revokedAt ? new Date(doc.revokedAt) : null,
  };
}
