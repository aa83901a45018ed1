/**
 * Human-readable dates and durations for the server-rendered pages (exposed to every view as `fmt`). Times are
 * rendered in UTC with an ISO `datetime` attribute; views/static/local-time.js rewrites them into the viewer's time
 * zone when scripts run.
 */
import { PROVISIONING_REFUSALS } from '../../provisioning/identity';
import { REFUSAL_REASONS } from '../../saml/refusal';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

function toDate(value: Date | string | number | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** "3 Mar 2026, 14:05 UTC". */
export function dateTime(value: Date | string | number | null | undefined): string {
  const d = toDate(value);
  if (!d) return '—';
  return `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}, ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
}

/** "3 Mar 2026". */
export function date(value: Date | string | number | null | undefined): string {
  const d = toDate(value);
  return d ? `${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}` : '—';
}

/** ISO string for a `datetime` attribute. */
export function iso(value: Date | string | number | null | undefined): string {
  return toDate(value)?.toISOString() ?? '';
}

/** "in 59 minutes", "2 hours ago", "in 12 days", "just now". */
export function relative(value: Date | string | number | null | undefined, now: number = Date.now()): string {
  const d = toDate(value);
  if (!d) return '—';
  const diff = d.getTime() - now;
  const abs = Math.abs(diff);
  if (abs < 45_000) return 'just now';
  const units: [number, string][] = [
    [86_400_000 * 365, 'year'],
    [86_400_000 * 30, 'month'],
    [86_400_000, 'day'],
    [3_600_000, 'hour'],
    [60_000, 'minute'],
  ];
  const [size, name] = units.find(([ms]) => abs >= ms) ?? units[units.length - 1]!;
  const count = Math.max(1, Math.round(abs / size));
  const text = `${count} ${name}${count === 1 ? '' : 's'}`;
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/** Whole days from now until the date (negative when past). */
export function daysUntil(value: Date | string | number, now: number = Date.now()): number {
  const d = toDate(value);
  return d ? Math.floor((d.getTime() - now) / 86_400_000) : 0;
}

/**
 * What a refusal reason code means, for the admin (the log, the dashboard, the test page): the technical sentence
 * of REFUSAL_REASONS / PROVISIONING_REFUSALS; '' for codes without one.
 */
export function reason(code: string | null | undefined): string {
  if (!code) return '';
  if (Object.hasOwn(REFUSAL_REASONS, code)) return REFUSAL_REASONS[code as keyof typeof REFUSAL_REASONS];
  if (Object.hasOwn(PROVISIONING_REFUSALS, code)) return PROVISIONING_REFUSALS[code as keyof typeof PROVISIONING_REFUSALS];
  return '';
}

export const formatters = { dateTime, date, iso, relative, daysUntil, reason };
export type Formatters = typeof formatters;
