/**
 * A fixed-window request limit per key for the handlers served outside Express (the SCIM endpoint). The counting is
 * express-rate-limit's own MemoryStore, the library the Express routes (sign-in) are limited with, so both count the
 * same way; the RateLimit and RateLimit-Policy headers are those of the IETF draft-8 that the library writes for the
 * Express routes (`standardHeaders: 'draft-8'`), so a client sees one format everywhere.
 */
import { createHash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { MemoryStore } from 'express-rate-limit';

export interface RateLimitOptions {
  windowMs: number;
  /** Requests per window and key. */
  limit: number;
}

export interface RateLimitResult {
  exceeded: boolean;
  /** Requests counted for the key in this window, this one included. */
  hits: number;
  limit: number;
  remaining: number;
  /** Whole seconds until the window resets (at least 1 when exceeded, so Retry-After is never 0). */
  resetSeconds: number;
  /** The key's partition id in RateLimit-Policy: a hash, so the header never shows the key (a token id). */
  partitionKey: string;
}

export class RateLimiter {
  private readonly counts = new MemoryStore();
  private readonly policyName: string;
  private readonly partitionKeys = new Map<string, string>();

  constructor(private readonly options: RateLimitOptions) {
    // The store reads only windowMs of the middleware's options.
    this.counts.init({ windowMs: options.windowMs } as Parameters<MemoryStore['init']>[0]);
    this.policyName = `${options.limit}-in-${windowName(options.windowMs)}`;
  }

  /** Counts one request for `key`. */
  async hit(key: string): Promise<RateLimitResult> {
    const { totalHits, resetTime } = await this.counts.increment(key);
    const exceeded = totalHits > this.options.limit;
    const untilReset = Math.max(0, Math.ceil(((resetTime?.getTime() ?? Date.now() + this.options.windowMs) - Date.now()) / 1000));
    return {
      exceeded,
      hits: totalHits,
      limit: this.options.limit,
      remaining: Math.max(this.options.limit - totalHits, 0),
      resetSeconds: exceeded ? Math.max(1, untilReset) : untilReset,
      partitionKey: this.partitionKeyOf(key),
    };
  }

  /** The draft-8 headers for a counted request. */
  writeHeaders(res: ServerResponse, result: RateLimitResult): void {
    if (res.headersSent) return;
    const windowSeconds = Math.ceil(this.options.windowMs / 1000);
    res.setHeader('RateLimit', `"${this.policyName}"; r=${result.remaining}; t=${result.resetSeconds}`);
    res.setHeader('RateLimit-Policy', `"${this.policyName}"; q=${result.limit}; w=${windowSeconds}; pk=:${result.partitionKey}:`);
  }

  private partitionKeyOf(key: string): string {
    let partitionKey = this.partitionKeys.get(key);
    if (partitionKey === undefined) {
      if (this.partitionKeys.size > 10_000) this.partitionKeys.clear();
      partitionKey = Buffer.from(createHash('sha256').update(key).digest('hex').slice(0, 12)).toString('base64');
      this.partitionKeys.set(key, partitionKey);
    }
    return partitionKey;
  }
}

/** "1min", "30sec", "2hrs", "1day": the window in a policy name, as express-rate-limit names it. */
function windowName(windowMs: number): string {
  const seconds = windowMs / 1000;
  const minutes = seconds / 60;
  const hours = minutes / 60;
  if (seconds < 60) return `${seconds}sec`;
  if (minutes < 60) return `${minutes}min`;
  if (hours < 24) return `${hours}hr${hours > 1 ? 's' : ''}`;
  return `${hours / 24}day${hours / 24 > 1 ? 's' : ''}`;
}
