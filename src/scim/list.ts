/**
 * List requests (RFC 7644 §3.4.2): the query parameters of GET /Users and /Groups, and the ListResponse envelope
 * that every list-shaped answer uses (queries, /Schemas, /ResourceTypes).
 */
import { badRequest } from './errors';

export const LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** Page size when the client names none. */
export const DEFAULT_COUNT = 100;
/** The most resources one page returns; advertised as filter.maxResults in /ServiceProviderConfig. */
export const MAX_RESULTS = 200;

export interface ListParams {
  /** The raw filter text (trimmed), for parseUserFilter/parseGroupFilter; undefined when absent or blank. */
  filter: string | undefined;
  /** 1-based index of the first result (RFC 7644 §3.4.2.4); values below 1 are read as 1. */
  startIndex: number;
  /** Page size, 0..MAX_RESULTS. 0 asks for totalResults only. */
  count: number;
  /** `attributes`, split on commas, for projectAttributes. Empty = the default attribute set. */
  attributes: string[];
  /** `excludedAttributes`, split on commas, for projectAttributes. */
  excludedAttributes: string[];
}

export interface ListResponse<T> {
  schemas: [typeof LIST_RESPONSE_SCHEMA];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

/**
 * Reads the list parameters from a parsed query string (Express `req.query` or a plain record).
 * Parameter names are matched case-insensitively (`startindex` works too). A parameter given twice, or a
 * startIndex/count that is not an integer, is 400 invalidValue. Per the RFC a negative count means 0 and a
 * startIndex below 1 means 1; a count above MAX_RESULTS is lowered to it rather than refused.
 */
export function parseListParams(query: Readonly<Record<string, unknown>>): ListParams {
  const byName = new Map<string, unknown>();
  for (const [name, value] of Object.entries(query)) byName.set(name.toLowerCase(), value);

  const filter = single(byName, 'filter')?.trim();
  const startIndex = integer(byName, 'startIndex');
  const count = integer(byName, 'count');
  return {
    filter: filter ? filter : undefined,
    startIndex: startIndex === undefined || startIndex < 1 ? 1 : startIndex,
    count: count === undefined ? DEFAULT_COUNT : Math.min(Math.max(count, 0), MAX_RESULTS),
    attributes: attributeList(single(byName, 'attributes')),
    excludedAttributes: attributeList(single(byName, 'excludedAttributes')),
  };
}

/** Builds the ListResponse for one page; `resources` is the page itself (already sliced by the store). */
export function listResponse<T>(resources: readonly T[], totalResults: number, startIndex: number): ListResponse<T> {
  return {
    schemas: [LIST_RESPONSE_SCHEMA],
    totalResults,
    startIndex,
    itemsPerPage: resources.length,
    Resources: [...resources],
  };
}

function single(byName: ReadonlyMap<string, unknown>, name: string): string | undefined {
  const value = byName.get(name.toLowerCase());
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw badRequest('invalidValue', `The query parameter "${name}" must be given once, as text.`);
  return value;
}

function integer(byName: ReadonlyMap<string, unknown>, name: string): number | undefined {
  const text = single(byName, name)?.trim();
  if (text === undefined || text === '') return undefined;
  if (!/^[+-]?\d{1,15}$/.test(text)) throw badRequest('invalidValue', `The query parameter "${name}" must be an integer.`);
  return Number(text);
}

function attributeList(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
}
