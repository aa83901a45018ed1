/**
 * The provisioning log: filters (tenant, connection, channel, outcome, user, time, and the reference a refused
 * person was shown), newest first with "older" paging, each refusal with its reason and reference, and a live tail:
 * views/static/log-tail.js polls /admin/log/events.json every 2 seconds for entries newer than the newest shown.
 */
import { Router, type Request } from 'express';
import type { Channel, EventOutcome, ProvisioningEvent } from '../../provisioning/types';
import type { EventQuery } from '../../store/ports';
import type { ConsoleOptions } from './context';
import { allConnections } from './dashboard';

const CHANNELS: readonly Channel[] = ['saml', 'scim', 'ldap', 'admin'];
const OUTCOMES: readonly EventOutcome[] = ['success', 'refused', 'error', 'info'];
const PAGE = 50;
/** A reference lookup reads the log (within the other filters) newest first, this many entries at most. */
const REFERENCE_SCAN_BATCH = 500;
const REFERENCE_SCAN_LIMIT = 20_000;

export interface LogFilters {
  tenant: string;
  connection: string;
  channel: string;
  outcome: string;
  user: string;
  from: string;
  to: string;
  /** The reference code of a refused sign-in (shown on the person's error page), e.g. 3F9A0C12. */
  reference: string;
}

function text(req: Request, name: string): string {
  const v = req.query[name];
  return typeof v === 'string' ? v.trim().slice(0, 320) : '';
}

/** A datetime-local value (entered as UTC) or an ISO string; undefined when empty or invalid. */
function instant(value: string): Date | undefined {
  if (value === '') return undefined;
  const d = new Date(/[zZ]|[+-]\d\d:\d\d$/u.test(value) ? value : `${value}Z`);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** "3f9a 0c12" as typed from a screenshot or a phone call -> "3F9A0C12". */
export function normaliseReference(value: string): string {
  return value.replace(/[\s-]+/gu, '').toUpperCase().slice(0, 32);
}

export function logPages({ store }: ConsoleOptions): Router {
  const r = Router();

  /**
   * The entries carrying this reference. References live in the entries' details (no index): the log is read
   * newest first in batches, within the other filters, up to REFERENCE_SCAN_LIMIT entries.
   */
  async function findByReference(q: EventQuery, reference: string): Promise<ProvisioningEvent[]> {
    const found: ProvisioningEvent[] = [];
    let before = q.before;
    for (let read = 0; read < REFERENCE_SCAN_LIMIT; read += REFERENCE_SCAN_BATCH) {
      const batch = await store.events.list({ ...q, before, limit: REFERENCE_SCAN_BATCH });
      found.push(...batch.filter((e) => e.details.reference === reference));
      if (batch.length < REFERENCE_SCAN_BATCH) break;
      before = batch.at(-1)!.at;
    }
    return found.slice(0, PAGE);
  }

  async function query(req: Request) {
    const filters: LogFilters = {
      tenant: text(req, 'tenant'),
      connection: text(req, 'connection'),
      channel: text(req, 'channel'),
      outcome: text(req, 'outcome'),
      user: text(req, 'user'),
      from: text(req, 'from'),
      to: text(req, 'to'),
      reference: normaliseReference(text(req, 'reference')),
    };
    const all = await allConnections(store);
    const connection = all.flatMap((t) => t.connections).find((c) => c.slug === filters.connection.toLowerCase());
    const tenant = all.find((t) => t.tenant.slug === filters.tenant.toLowerCase())?.tenant;
    const q: EventQuery = { limit: PAGE };
    if (connection) q.connectionId = connection.id;
    else if (tenant) q.tenantId = tenant.id;
    if ((CHANNELS as string[]).includes(filters.channel)) q.channel = filters.channel as Channel;
    if ((OUTCOMES as string[]).includes(filters.outcome)) q.outcome = filters.outcome as EventOutcome;
    if (filters.user) q.subject = filters.user;
    q.after = instant(filters.from);
    q.before = instant(filters.to);
    // "Older" paging: strictly before the oldest entry shown, within the chosen window.
    const older = instant(text(req, 'older'));
    if (older && (!q.before || older < q.before)) q.before = older;
    const connectionNames = new Map(all.flatMap((t) => t.connections.map((c) => [c.id, c.slug] as const)));
    return { filters, q, all, connectionNames };
  }

  r.get('/log', async (req, res) => {
    const { filters, q, all, connectionNames } = await query(req);
    const events = filters.reference ? await findByReference(q, filters.reference) : await store.events.list(q);
    const params = new URLSearchParams(Object.entries(filters).filter(([, v]) => v !== ''));
    const oldest = events.at(-1);
    const olderHref =
      !filters.reference && events.length === PAGE && oldest ? `/admin/log?${params.toString()}&older=${encodeURIComponent(oldest.at.toISOString())}` : null;
    res.render('admin/log', {
      title: 'Provisioning log',
      nav: 'log',
      filters,
      all,
      channels: CHANNELS,
      outcomes: OUTCOMES,
      events,
      connectionNames,
      olderHref,
      // The tail follows only the first page (no "older" cursor, no upper bound).
      tailHref: text(req, 'older') || filters.to || filters.reference ? null : `/admin/log/events.json?${params.toString()}`,
    });
  });

  r.get('/log/events.json', async (req, res) => {
    const { q, connectionNames } = await query(req);
    const after = instant(text(req, 'after'));
    if (after && (!q.after || after > q.after)) q.after = after;
    const events = await store.events.list(q);
    res.render('admin/partials/event-tail', { events, connectionNames }, (error, html) => {
      if (error) throw error;
      res.json({ count: events.length, newest: events[0]?.at.toISOString() ?? null, html });
    });
  });
  return r;
}
