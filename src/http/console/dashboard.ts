/**
 * The console's overview: counts, what needs attention (IdP signing certificates expiring within 30 days, the SP
 * certificate's expiry, SCIM tokens expiring soon) and the latest refused sign-ins.
 */
import { X509Certificate } from 'node:crypto';
import { Router } from 'express';
import type { Connection, IdpCertificate, ProvisioningEvent, Tenant } from '../../provisioning/types';
import type { Store } from '../../store/ports';
import type { ConsoleOptions } from './context';
import { scimTokenAlerts } from './scim';

export const EXPIRY_WARNING_DAYS = 30;
const DAY_MS = 86_400_000;

export interface CertificateAlert {
  tenant: Tenant;
  connection: Connection;
  cert: IdpCertificate;
  expired: boolean;
}

export interface TenantConnections {
  tenant: Tenant;
  connections: Connection[];
}

export async function allConnections(store: Store): Promise<TenantConnections[]> {
  const tenants = await store.tenants.list();
  return Promise.all(tenants.map(async (tenant) => ({ tenant, connections: await store.connections.listByTenant(tenant.id) })));
}

/** IdP signing certificates that expire within the warning window (or already did), soonest first. */
export function certificateAlerts(all: TenantConnections[], now = Date.now()): CertificateAlert[] {
  const alerts: CertificateAlert[] = [];
  for (const { tenant, connections } of all) {
    for (const connection of connections) {
      for (const cert of connection.idp.certs) {
        if (cert.notAfter.getTime() - now <= EXPIRY_WARNING_DAYS * DAY_MS) {
          alerts.push({ tenant, connection, cert, expired: cert.notAfter.getTime() <= now });
        }
      }
    }
  }
  return alerts.sort((a, b) => a.cert.notAfter.getTime() - b.cert.notAfter.getTime());
}

export function spCertificateExpiry(pem: string | null): Date | null {
  if (!pem) return null;
  try {
    return new Date(new X509Certificate(pem).validTo);
  } catch {
    return null;
  }
}

export function dashboardPages(options: ConsoleOptions): Router {
  const { store } = options;
  const r = Router();
  r.get('/', async (_req, res) => {
    const all = await allConnections(store);
    const now = Date.now();
    const spExpiry = spCertificateExpiry(options.spCertPem);
    // Sign-ins only: refused SCIM requests (e.g. a revoked token) have their own place, the connection's SCIM page.
    const recentRefusals: ProvisioningEvent[] = await store.events.list({ outcome: 'refused', channel: 'saml', limit: 6 });
    const scimAlerts = await scimTokenAlerts(options, all, now);
    const connectionNames = new Map(all.flatMap(({ connections }) => connections.map((c) => [c.id, c.slug] as const)));
    res.render('admin/dashboard', {
      title: 'Overview',
      nav: 'overview',
      all,
      tenantCount: all.length,
      connectionCount: all.reduce((n, t) => n + t.connections.length, 0),
      certAlerts: certificateAlerts(all, now),
      spExpiry,
      spExpiringSoon: spExpiry ? spExpiry.getTime() - now <= EXPIRY_WARNING_DAYS * DAY_MS : false,
      recentRefusals,
      scimAlerts,
      connectionNames,
      warningDays: EXPIRY_WARNING_DAYS,
    });
  });
  return r;
}
