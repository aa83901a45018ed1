/**
 * The one home of secret handling: generating random secrets, hashing tokens for storage, and comparing
 * presented secrets in constant time. Nothing else in Gatehouse compares or hashes a secret by itself.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';

/** A URL-safe random secret with `bytes` bytes of entropy (default 32). */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** The stored form of a bearer token: SHA-256 hex. Tokens are high-entropy, so no salt or KDF is needed. */
export function hashToken(token: string): string {
  // crypto.hash (one shot) rather than createHash: no Hash object per request on the SCIM hot path.
  return hash('sha256', token, 'hex');
}

/** Compares a presented secret with the expected one without leaking length or content through timing. */
export function secretsEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(hash('sha256', presented, 'buffer'), hash('sha256', expected, 'buffer'));
}
