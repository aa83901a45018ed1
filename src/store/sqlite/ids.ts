/**
 * Time-ordered ids (UUID version 7, RFC 9562 §5.7) for rows whose id is indexed and written at a high rate.
 * A random (v4) id lands on a random page of its B-tree index, so every insert dirties (and every commit writes to
 * the WAL) one more page; ids that start with the time all go to the last pages, which a group commit shares.
 * 48 bits of Unix milliseconds, then 74 random bits: unique and unguessable like v4, and they only reveal the
 * creation time, which the row carries anyway.
 */
import { randomFillSync } from 'node:crypto';

const POOL_IDS = 512;
const pool = Buffer.alloc(POOL_IDS * 10);
let offset = pool.length;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A UUIDv7 string (lowercase, hyphenated), e.g. 0190b5a8-3c4e-7d21-9f3a-5b6c7d8e9f01. */
export function timeOrderedId(now = Date.now()): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const r = offset;
  offset += 10;
  // 48-bit timestamp, big-endian, as 12 hex digits.
  const time = Math.max(0, Math.trunc(now)).toString(16).padStart(12, '0').slice(-12);
  const h = (i: number) => HEX[pool[r + i]!]!;
  const version = HEX[0x70 | (pool[r]! & 0x0f)]!; // 0111 xxxx: version 7
  const variant = HEX[0x80 | (pool[r + 2]! & 0x3f)]!; // 10xx xxxx: RFC 9562 variant
  return `${time.slice(0, 8)}-${time.slice(8)}-${version}${h(1)}-${variant}${h(3)}-${h(4)}${h(5)}${h(6)}${h(7)}${h(8)}${h(9)}`;
}
