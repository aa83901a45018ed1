/**
 * One-time bootstrap links for the admin console, for the first start when no identity provider is connected yet
 * (and as a break-glass way in). `npm start` and `gatehouse admin bootstrap` print one; it works once, within
 * 15 minutes. Only the SHA-256 of the token is stored (the store's request cache, shared by every instance), and
 * it is consumed with the atomic `take`, so two clicks on one link give one session.
 */
import { hashToken, randomSecret } from '../common/secrets';
import type { ExpiringMap } from '../store/ports';

export const BOOTSTRAP_TTL_MS = 15 * 60_000;
export const BOOTSTRAP_PATH = '/admin/bootstrap';

const keyOf = (token: string) => `admin:bootstrap:${hashToken(token)}`;

export interface BootstrapLink {
  url: string;
  expiresAt: Date;
}

export async function createBootstrapLink(
  cache: ExpiringMap,
  baseUrl: string,
  options: { ttlMs?: number; now?: Date } = {},
): Promise<BootstrapLink> {
  const token = randomSecret(32);
  const expiresAt = new Date((options.now ?? new Date()).getTime() + (options.ttlMs ?? BOOTSTRAP_TTL_MS));
  await cache.put(keyOf(token), JSON.stringify({ createdAt: new Date().toISOString() }), expiresAt);
  return { url: `${baseUrl.replace(/\/+$/, '')}${BOOTSTRAP_PATH}?token=${encodeURIComponent(token)}`, expiresAt };
}

/** Whether the token is still usable, without using it (the confirmation page). */
export async function bootstrapTokenUsable(cache: ExpiringMap, token: string): Promise<boolean> {
  return token.length > 0 && (await cache.get(keyOf(token))) !== null;
}

/** Uses the token: true exactly once per link, and only before it expires. */
export async function consumeBootstrapToken(cache: ExpiringMap, token: string): Promise<boolean> {
  return token.length > 0 && (await cache.take(keyOf(token))) !== null;
}
