/**
 * The one rule for post-login redirects (RelayState, ?returnTo=): only a local absolute path of this origin.
 * Returns null for anything else, and callers fall back to their default.
 */
const MAX_LENGTH = 2048;

export function safeLocalPath(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return null;
  // Must start with exactly one '/': '//evil' and '/\evil' are protocol-relative in browsers.
  if (value[0] !== '/' || value[1] === '/' || value[1] === '\\') return null;
  // Control characters and backslashes let browsers re-interpret the target (e.g. '/\t/evil').
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) return null;
  // Resolve against a dummy origin: anything that escapes it is not local.
  let parsed: URL;
  try {
    parsed = new URL(value, 'http://gatehouse.invalid');
  } catch {
    return null;
  }
  if (parsed.origin !== 'http://gatehouse.invalid') return null;
  return parsed.pathname + parsed.search + parsed.hash;
}
