/**
 * A fixed-window request limit per key and minute for the handlers served outside Express (the SCIM endpoint). The
 * counting is express-rate-limit's own MemoryStore, the library the Express routes (sign-in) are limited with, so both
 * count the same way; the RateLimit and RateLimit-Policy headers are those of the IETF draft-8 that the library writes
 * for the Express routes (`standardHeaders: 'draft-8'`), so a client sees one format everywhere.
 */
import { hash } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { MemoryStore } from 'express-rate-limit';

const WINDOW_MS = 60_000;

export interface RateLimitResult {
  key: string;
  exceeded: boolean;
  /** The first request over the limit in this window: worth logging, unlike the ones after it. */
  firstRefused: boolean;
  remaining: number;
  /** Whole seconds until the window resets (at least 1 when exceeded, so Retry-After is never 0). */
  resetSeconds: number;
}

export class RateLimiter {
  private readonly counts = new MemoryStore();
  private readonly policyName: string;

  constructor(private readonly perMinute: number) {
    // The store reads only windowMs of the middleware's options.
    this.counts.init({ windowMs: WINDOW_MS } as Parameters<MemoryStore['init']>[0]);
    this.policyName = `${perMinute}-in-1min`;
  }

  /** Counts one request for `key`; when it is over the limit, the answer gets Retry-After. */
  async hit(key: string, res: ServerResponse): Promise<RateLimitResult> {
    const { totalHits, resetTime } = await this.counts.increment(key);
    const exceeded = totalHits > this.perMinute;
    const untilReset = Math.max(0, Math.ceil(((resetTime?.getTime() ?? Date.now() + WINDOW_MS) - Date.now()) / 1000));
    const result = {
      key,
      exceeded,
      firstRefused: totalHits === this.perMinute + 1,
      remaining: Math.max(this.perMinute - totalHits, 0),
      resetSeconds: exceeded ? Math.max(1, untilReset) : untilReset,
    };
    if (exceeded && !res.headersSent) res.setHeader('Retry-After', String(result.resetSeconds));
    return result;
  }

  /** The draft-8 headers for a counted request; the partition key is a hash, so the header never shows the key. */
  writeHeaders(res: ServerResponse, result: RateLimitResult): void {
    if (res.headersSent) return;
    const partitionKey = Buffer.from(hash('sha256', result.key, 'hex').slice(0, 12)).toString('base64');
    res.setHeader('RateLimit', `"${this.policyName}"; r=${result.remaining}; t=${result.resetSeconds}`);
    res.setHeader('RateLimit-Policy', `"${this.policyName}"; q=${this.perMinute}; w=${WINDOW_MS / 1000}; pk=:${partitionKey}:`);
  }
}
