/**
 * SCIM filter AST (src/scim/query.ts) -> a SQL WHERE fragment with positional, bound parameters. No value is ever
 * written into the SQL text: values (and GLOB patterns built from them) travel as parameters; the SQL text depends
 * only on the filter's shape, so statements are cached by it.
 *
 * Every fragment is two-valued (never NULL): comparisons are guarded with IS NOT NULL, so NOT is an exact complement
 * (the AST contract: a missing attribute matches only `ne`).
 *
 * Columns (see migration 2): case-insensitive attributes compare their *_fold copy (JavaScript toLowerCase, the
 * reference semantics; SQLite's lower() folds ASCII only) with the lower-cased value; `userName` compares the
 * normalised key column with the already-normalised value.
 */
import type { CompareNode, GroupField, GroupQuery, QueryNode, UserField, UserQuery } from '../../scim/query';
import { EMPLOYEE_NUMBER_FIELD } from '../../scim/query';
import type { ScimScope } from '../ports';
import { foldCase } from '../../scim/query';

export interface SqlFragment {
  sql: string;
  params: unknown[];
}

type ScalarKind = 'string' | 'boolean' | 'date';

/** How one attribute reads in SQL. */
type Target =
  | { kind: 'scalar'; type: ScalarKind; expr: string; folded: boolean; alwaysPresent?: boolean; byOwner?: ByOwner }
  | { kind: 'multi'; attribute: 'emails' | 'members' };

/**
 * A value read from one users column for accounts without a SCIM owner and another for owned ones. `expr` (a CASE)
 * serves `pr`; comparisons are written per column, and an `eq` as two index seeks (tenant + column each) instead of
 * evaluating the CASE on every account of the tenant.
 */
interface ByOwner {
  /** Column names of users, without the alias. */
  unowned: string;
  owned: string;
}

interface Context {
  params: unknown[];
  scope: ScimScope;
}

/** `*`, `?` and `[` are GLOB's wildcards; each is matched literally inside brackets. */
function globEscape(value: string): string {
  return value.replace(/[*?[]/g, (c) => `[${c}]`);
}

function compareScalar(expr: string, type: ScalarKind, folded: boolean, node: CompareNode<string>, ctx: Context): string {
  if (node.op === 'ne') return `NOT ${compareScalar(expr, type, folded, { ...node, op: 'eq' }, ctx)}`;
  const value = node.value;
  if (type === 'boolean') {
    ctx.params.push(value === true ? 1 : 0);
    return `(${expr} IS NOT NULL AND ${expr} = ?)`;
  }
  if (type === 'date') {
    const ms = value instanceof Date ? value.getTime() : NaN;
    ctx.params.push(ms);
    const sqlOp = { eq: '=', gt: '>', ge: '>=', lt: '<', le: '<=' }[node.op as 'eq' | 'gt' | 'ge' | 'lt' | 'le'];
    if (!sqlOp) throw new Error(`operator ${node.op} on a date`);
    return `(${expr} IS NOT NULL AND ${expr} ${sqlOp} ?)`;
  }
  if (typeof value !== 'string') throw new Error(`a string attribute compared with ${typeof value}`);
  const text = folded && !node.normalisedKey ? foldCase(value)! : value;
  switch (node.op) {
    case 'eq':
      ctx.params.push(text);
      return `(${expr} IS NOT NULL AND ${expr} = ?)`;
    case 'co':
      ctx.params.push(`*${globEscape(text)}*`);
      return `(${expr} IS NOT NULL AND ${expr} GLOB ?)`;
    case 'sw':
      ctx.params.push(`${globEscape(text)}*`);
      return `(${expr} IS NOT NULL AND ${expr} GLOB ?)`;
    case 'ew':
      ctx.params.push(`*${globEscape(text)}`);
      return `(${expr} IS NOT NULL AND ${expr} GLOB ?)`;
    default:
      throw new Error(`operator ${node.op} on a string`);
  }
}

function compareByOwner(columns: ByOwner, target: { type: ScalarKind; folded: boolean }, node: CompareNode<string>, ctx: Context): string {
  if (node.op === 'ne') return `NOT ${compareByOwner(columns, target, { ...node, op: 'eq' }, ctx)}`;
  if (node.op === 'eq' && target.type === 'string' && typeof node.value === 'string') {
    const value = target.folded && !node.normalisedKey ? foldCase(node.value) : node.value;
    ctx.params.push(ctx.scope.tenantId, value, ctx.scope.tenantId, value);
    return (
      `u.id IN (SELECT x.id FROM users x WHERE x.tenant_id = ? AND x.${columns.unowned} = ? AND x.scim_connection_id IS NULL` +
      ` UNION ALL SELECT x.id FROM users x WHERE x.tenant_id = ? AND x.${columns.owned} = ? AND x.scim_connection_id IS NOT NULL)`
    );
  }
  const unowned = compareScalar(`u.${columns.unowned}`, target.type, target.folded, node, ctx);
  const owned = compareScalar(`u.${columns.owned}`, target.type, target.folded, node, ctx);
  return `((${UNOWNED} AND ${unowned}) OR (${OWNED} AND ${owned}))`;
}

function present(expr: string, type: ScalarKind): string {
  return type === 'string' ? `(${expr} IS NOT NULL AND ${expr} <> '')` : `(${expr} IS NOT NULL)`;
}

/** Resolves attribute -> SQL for one kind of row (a user, a group, or one element of a multi-valued attribute). */
type Resolver = (field: string) => Target;

function translate(node: QueryNode<string>, resolve: Resolver, ctx: Context, multi: MultiTranslator): string {
  switch (node.kind) {
    case 'and':
    case 'or':
      return `(${node.children.map((child) => translate(child, resolve, ctx, multi)).join(node.kind === 'and' ? ' AND ' : ' OR ')})`;
    case 'not':
      return `NOT ${translate(node.child, resolve, ctx, multi)}`;
    case 'present': {
      const target = resolve(node.field);
      if (target.kind === 'multi') return multi(target.attribute, { kind: 'present', field: node.field }, ctx);
      return target.alwaysPresent ? '(1 = 1)' : present(target.expr, target.type);
    }
    case 'compare': {
      const target = resolve(node.field);
      if (target.kind === 'multi') {
        // Any element matches; `ne` is "no element equals".
        if (node.op === 'ne') return `NOT ${multi(target.attribute, { ...node, op: 'eq' }, ctx)}`;
        return multi(target.attribute, node, ctx);
      }
      if (target.byOwner) return compareByOwner(target.byOwner, target, node, ctx);
      return compareScalar(target.expr, target.type, target.folded, node, ctx);
    }
    case 'valuePath':
      return multi(node.attribute, node.filter, ctx);
  }
}

/** "Some one element of `attribute` satisfies `filter`" (also used for a plain multi-valued compare/present). */
type MultiTranslator = (attribute: 'emails' | 'members', filter: QueryNode<string>, ctx: Context) => string;

// ---- users ------------------------------------------------------------------------------------------------------

const OWNED = 'u.scim_connection_id IS NOT NULL';
const UNOWNED = 'u.scim_connection_id IS NULL';

function userResolver(scope: ScimScope): Resolver {
  const userName: Target =
    scope.userNameKey === 'username'
      ? { kind: 'scalar', type: 'string', expr: 'u.username_key', folded: false }
      : {
          kind: 'scalar',
          type: 'string',
          expr: `(CASE WHEN ${UNOWNED} THEN u.username_key ELSE u.scim_user_name_key END)`,
          folded: false,
          byOwner: { unowned: 'username_key', owned: 'scim_user_name_key' },
        };
  const table: Record<UserField, Target> = {
    id: { kind: 'scalar', type: 'string', expr: 'u.id', folded: false, alwaysPresent: true },
    // SCIM state counts only while a client owns the account (a deleted connection leaves unowned rows behind).
    externalId: { kind: 'scalar', type: 'string', expr: `(CASE WHEN ${OWNED} THEN u.scim_external_id END)`, folded: false },
    userName,
    displayName: { kind: 'scalar', type: 'string', expr: 'u.display_name_fold', folded: true },
    active: { kind: 'scalar', type: 'boolean', expr: 'u.active', folded: false, alwaysPresent: true },
    'name.givenName': { kind: 'scalar', type: 'string', expr: 'u.given_name_fold', folded: true },
    'name.familyName': { kind: 'scalar', type: 'string', expr: 'u.family_name_fold', folded: true },
    'emails.value': { kind: 'multi', attribute: 'emails' },
    'emails.type': { kind: 'multi', attribute: 'emails' },
    'meta.created': { kind: 'scalar', type: 'date', expr: 'u.created_at', folded: false, alwaysPresent: true },
    'meta.lastModified': { kind: 'scalar', type: 'date', expr: 'u.updated_at', folded: false, alwaysPresent: true },
    [EMPLOYEE_NUMBER_FIELD]: { kind: 'scalar', type: 'string', expr: `(CASE WHEN ${OWNED} THEN u.scim_employee_number_fold END)`, folded: true },
  };
  return (field) => {
    const target = table[field as UserField];
    if (!target) throw new Error(`no column for User.${field}`);
    return target;
  };
}

/** An email element stored in scim_user_emails (alias e). */
const storedEmail: Resolver = (field) => {
  if (field === 'emails.value' || field === 'value') return { kind: 'scalar', type: 'string', expr: 'e.value_fold', folded: true };
  if (field === 'emails.type' || field === 'type') return { kind: 'scalar', type: 'string', expr: 'e.type_fold', folded: true };
  throw new Error(`no column for emails element field ${field}`);
};

/** The one email an account without SCIM state shows: { value: its email, type: 'work', primary: true }. */
const accountEmail: Resolver = (field) => {
  if (field === 'emails.value' || field === 'value') return { kind: 'scalar', type: 'string', expr: 'u.email_fold', folded: true };
  // A constant, written as SQL text (no client value involved).
  if (field === 'emails.type' || field === 'type') return { kind: 'scalar', type: 'string', expr: `'work'`, folded: true };
  throw new Error(`no column for emails element field ${field}`);
};

const noNesting: MultiTranslator = () => {
  throw new Error('a valuePath inside a valuePath');
};

const userMulti: MultiTranslator = (_attribute, filter, ctx) => {
  const stored = translate(filter, storedEmail, ctx, noNesting);
  const account = translate(filter, accountEmail, ctx, noNesting);
  return (
    `((${OWNED} AND u.id IN (SELECT e.user_id FROM scim_user_emails e WHERE ${stored}))` +
    ` OR (${UNOWNED} AND u.email_fold IS NOT NULL AND u.email_fold <> '' AND ${account}))`
  );
};

/** The WHERE clause of a users query: scope, then the filter. */
export function userWhere(scope: ScimScope, filter: UserQuery | null): SqlFragment {
  const ctx: Context = { params: [scope.tenantId, scope.connectionId], scope };
  // When a top-level `userName eq` becomes two index seeks (compareByOwner), `+` keeps SQLite from walking the
  // tenant's whole index instead (it cannot tell, without statistics, that one tenant may hold most accounts).
  const tenantTerm = seeksUserNameByOwner(scope, filter) ? '+u.tenant_id = ?' : 'u.tenant_id = ?';
  let sql = `${tenantTerm} AND u.scim_deleted_at IS NULL AND (${UNOWNED} OR u.scim_connection_id = ?)`;
  if (filter) sql += ` AND ${translate(filter as QueryNode<string>, userResolver(scope), ctx, userMulti)}`;
  return { sql, params: ctx.params };
}

function seeksUserNameByOwner(scope: ScimScope, filter: UserQuery | null): boolean {
  if (!filter || scope.userNameKey === 'username') return false;
  const conjuncts = filter.kind === 'and' ? filter.children : [filter];
  return conjuncts.some((node) => node.kind === 'compare' && node.field === 'userName' && node.op === 'eq' && typeof node.value === 'string');
}

// ---- groups -----------------------------------------------------------------------------------------------------

const GROUP_UNOWNED = 'g.scim_connection_id IS NULL';

const GROUP_COLUMNS: Record<GroupField, Target> = {
  id: { kind: 'scalar', type: 'string', expr: 'g.id', folded: false, alwaysPresent: true },
  // An owned group whose client sent no externalId has none (external_id then holds an internal value).
  externalId: {
    kind: 'scalar',
    type: 'string',
    expr: `(CASE WHEN g.scim_connection_id IS NOT NULL AND g.scim_external_id IS NULL THEN NULL ELSE g.external_id END)`,
    folded: false,
  },
  displayName: { kind: 'scalar', type: 'string', expr: 'g.display_name_fold', folded: true },
  'members.value': { kind: 'multi', attribute: 'members' },
  'meta.created': { kind: 'scalar', type: 'date', expr: 'g.created_at', folded: false, alwaysPresent: true },
  'meta.lastModified': { kind: 'scalar', type: 'date', expr: 'g.updated_at', folded: false, alwaysPresent: true },
};

const groupResolver: Resolver = (field) => {
  const target = GROUP_COLUMNS[field as GroupField];
  if (!target) throw new Error(`no column for Group.${field}`);
  return target;
};

const memberElement: Resolver = (field) => {
  if (field === 'members.value' || field === 'value') return { kind: 'scalar', type: 'string', expr: 'm.user_id', folded: false };
  throw new Error(`no column for members element field ${field}`);
};

const groupMulti: MultiTranslator = (_attribute, filter, ctx) => {
  ctx.params.push(`scim:${ctx.scope.connectionId}`);
  const inner = translate(filter, memberElement, ctx, noNesting);
  return `g.id IN (SELECT m.group_id FROM memberships m WHERE m.source = ? AND ${inner})`;
};

/** The WHERE clause of a groups query: scope, then the filter. */
export function groupWhere(scope: ScimScope, filter: GroupQuery | null): SqlFragment {
  const ctx: Context = { params: [scope.tenantId, scope.connectionId], scope };
  let sql = `g.tenant_id = ? AND g.scim_deleted_at IS NULL AND (${GROUP_UNOWNED} OR g.scim_connection_id = ?)`;
  if (filter) sql += ` AND ${translate(filter as QueryNode<string>, groupResolver, ctx, groupMulti)}`;
  return { sql, params: ctx.params };
}
