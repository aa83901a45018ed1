/**
 * The one normalisation rule for identifiers that decide who is who (usernames, UPNs, emails).
 * Every channel (SAML, SCIM, LDAP, admin) and every store index uses this key.
 */

/**
 * NFC, trimmed, full Unicode case folding. Upper-then-lower casing gives the full (multi-character) folds that a
 * plain toLowerCase misses, e.g. 'Straße' and 'STRASSE' share a key, as do 'ÄLICE' and 'älice'; the final NFC
 * re-composes anything the case mapping decomposed.
 */
export function normaliseKey(value: string): string {
  return value.normalize('NFC').trim().toUpperCase().toLowerCase().normalize('NFC');
}

/** The domain part of an email or UPN, already normalised; null when there is no '@'. */
export function domainOf(value: string): string | null {
  const key = normaliseKey(value);
  const at = key.lastIndexOf('@');
  return at > 0 && at < key.length - 1 ? key.slice(at + 1) : null;
}

/** Normalises a tenant's owned domain as an admin typed it ('@Contoso.com ' -> 'contoso.com'). */
export function normaliseDomain(value: string): string {
  return normaliseKey(value).replace(/^@+/, '').replace(/\.$/, '');
}
