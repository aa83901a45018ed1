import { safeLocalPath } from '../../src/common/local-path';

describe('safeLocalPath', () => {
  it.each(['/me', '/app/dashboard?tab=1#top', '/a/b/../c'])('accepts the local path %s', (p) => {
    expect(safeLocalPath(p)).toMatch(/^\/[^/\\]/);
  });

  it('resolves dot segments instead of passing them through', () => {
    expect(safeLocalPath('/a/b/../c')).toBe('/a/c');
  });

  it.each([
    'https://evil.example/',
    '//evil.example/',
    '/\\evil.example',
    '\\\\evil.example',
    '/\t/evil.example',
    'javascript:alert(1)',
    'evil.example',
    '',
    ' /me',
    '/\r\nSet-Cookie:x=y',
  ])('refuses %j', (p) => {
    expect(safeLocalPath(p)).toBeNull();
  });

  it('keeps percent-encoded CR/LF encoded, so it can never split a header', () => {
    expect(safeLocalPath('/%0d%0aSet-Cookie:x=y')).toBe('/%0d%0aSet-Cookie:x=y');
  });

  it('refuses non-strings and very long values', () => {
    expect(safeLocalPath(undefined)).toBeNull();
    expect(safeLocalPath(['/me'])).toBeNull();
    expect(safeLocalPath(`/${'a'.repeat(5000)}`)).toBeNull();
  });
});
