/**
 * node-saml's CacheProvider (where it keeps the ids of AuthnRequests in flight, for the InResponseTo check) backed
 * by the store's request cache, so every Gatehouse instance sees the same requests (the ACS POST may land on a
 * different instance than the login redirect did).
 *
 * Keys are namespaced by connection id: a request issued for connection A never satisfies a response posted to
 * connection B's ACS. The connection id (not id + version) is used so that editing a connection while a user is at
 * the IdP does not invalidate their sign-in.
 */
import type { CacheItem, CacheProvider } from '@node-saml/node-saml';
import type { ExpiringMap } from '../store/ports';
import { CacheProviderError } from './node-saml-errors';

/** The request-cache key node-saml's entry for a request id lives under. */
export function inFlightRequestKey(connectionId: string, requestId: string): string {
  return `saml:inflight:${connectionId}:${requestId}`;
}

export class StoreCacheProvider implements CacheProvider {
  constructor(
    private readonly requestCache: ExpiringMap,
    private readonly connectionId: string,
    /** How long a saved request id stays valid. */
    private readonly ttlMs: number,
  ) {}

  async saveAsync(key: string, value: string): Promise<CacheItem | null> {
    const createdAt = Date.now();
    await guard(this.requestCache.put(this.key(key), value, new Date(createdAt + this.ttlMs)));
    return { value, createdAt };
  }

  async getAsync(key: string): Promise<string | null> {
    return guard(this.requestCache.get(this.key(key)));
  }

  async removeAsync(key: string | null): Promise<string | null> {
    if (key === null) return null;
    // take() rather than delete(): node-saml's contract returns the key only when something was removed.
    const removed = await guard(this.requestCache.take(this.key(key)));
    return removed === null ? null : key;
  }

  private key(requestId: string): string {
    return inFlightRequestKey(this.connectionId, requestId);
  }
}

/** Store failures are wrapped so the ACS can tell "the database is down" (500) from "the response is bad" (refusal). */
async function guard<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw new CacheProviderError(error);
  }
}
