import { LIST_RESPONSE_SCHEMA, listResponse, parseListParams } from '../../src/scim/list';
import { expectScimError } from './helpers';

describe('parseListParams', () => {
  it('defaults', () => {
    expect(parseListParams({})).toEqual({ filter: undefined, startIndex: 1, count: 100, attributes: [], excludedAttributes: [] });
  });

  it("reads Entra's group query", () => {
    expect(parseListParams({ excludedAttributes: 'members', filter: 'displayName eq "Group A"' })).toEqual({
      filter: 'displayName eq "Group A"',
      startIndex: 1,
      count: 100,
      attributes: [],
      excludedAttributes: ['members'],
    });
  });

  it('startIndex is 1-based: below 1 means 1', () => {
    expect(parseListParams({ startIndex: '0' }).startIndex).toBe(1);
    expect(parseListParams({ startIndex: '-5' }).startIndex).toBe(1);
    expect(parseListParams({ startIndex: '21' }).startIndex).toBe(21);
  });

  it('count: 0 allowed (totalResults only), negative means 0, capped at 200', () => {
    expect(parseListParams({ count: '0' }).count).toBe(0);
    expect(parseListParams({ count: '-1' }).count).toBe(0);
    expect(parseListParams({ count: '50' }).count).toBe(50);
    expect(parseListParams({ count: '500' }).count).toBe(200);
  });

  it('parameter names are case-insensitive; lists are split and trimmed; a blank filter is no filter', () => {
    expect(parseListParams({ STARTINDEX: '3', Count: '7', attributes: ' userName , name.givenName,,', filter: '   ' })).toEqual({
      filter: undefined,
      startIndex: 3,
      count: 7,
      attributes: ['userName', 'name.givenName'],
      excludedAttributes: [],
    });
  });

  it.each([
    ['count', { count: 'ten' }],
    ['count', { count: '1.5' }],
    ['startIndex', { startIndex: '1e3' }],
    ['filter', { filter: ['a', 'b'] }],
  ])('400 invalidValue for a bad %s', (_name, query) => {
    expectScimError(() => parseListParams(query), 400, 'invalidValue');
  });
});

describe('listResponse', () => {
  it('wraps a page', () => {
    expect(listResponse([{ id: 'a' }, { id: 'b' }], 42, 11)).toEqual({
      schemas: [LIST_RESPONSE_SCHEMA],
      totalResults: 42,
      startIndex: 11,
      itemsPerPage: 2,
      Resources: [{ id: 'a' }, { id: 'b' }],
    });
  });

  it('an empty page (Test Connection) still has Resources', () => {
    expect(listResponse([], 0, 1)).toEqual({ schemas: [LIST_RESPONSE_SCHEMA], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });
  });
});
