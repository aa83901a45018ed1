/**
 * SCIM provisioning of a connection: the tenant URL and secret tokens to paste into Entra's Provisioning page,
 * token creation (the token is shown once, on the answer page itself, never stored in the session), expiry,
 * extension and revocation; and the dashboard's "token expires soon" banners.
 */
import { Router, type Request, type Response } from 'express';
import { AppError } from '../../common/errors';
import { randomSecret } from '../../common/secrets';
import { flash, formField, param, redirectAfterPost, type ConsoleOptions } from './context';
import type { TenantConnections } from './dashboard';
import { EXPIRY_WARNING_DAYS } from './dashboard';
import type { Connection, Tenant } from '../../provisioning/types';

const DAY_MS = 86_400_000;

export interface ScimTokenAlert {
  tenant: Tenant;
  connection: Connection;
  prefix: string;
  expiresAt: Date;
}

/** Active SCIM tokens expiring within the warning window, soonest first. */
export async function scimTokenAlerts({ admin }: ConsoleOptions, all: TenantConnections[], now = Date.now()): Promise<ScimTokenAlert[]> {
  const alerts: ScimTokenAlert[] = [];
  for (const { tenant, connections } of all) {
    for (const connection of connections) {
      for (const token of await admin.listScimTokens(connection.id)) {
        const expiresAt = new Date(token.expiresAt);
        if (token.status === 'active' && expiresAt.getTime() - now <= EXPIRY_WARNING_DAYS * DAY_MS) {
          alerts.push({ tenant, connection, prefix: token.prefix, expiresAt });
        }
      }
    }
  }
  return alerts.sort((a, b) => a.expiresAt.getTime() - b.expiresAt.getTime());
}

function days(req: Request): number {
  const n = Number.parseInt(formField(req, 'expiresInDays'), 10);
  return Number.isFinite(n) ? n : 365;
}

export function scimPages(options: ConsoleOptions): Router {
  const { admin } = options;
  const r = Router();

  async function render(req: Request, res: Response, created: { token: string; prefix: string; expiresAt: string } | null) {
    const connection = await admin.getConnection(param(req, 'id'));
    const tenant = await admin.getTenant(connection.tenantId);
    const [status, tokens] = await Promise.all([admin.scimStatus(connection.id), admin.listScimTokens(connection.id)]);
    // A one-time nonce per create form: reloading the answer page re-posts the form, which must not mint a second token.
    const once = randomSecret(12);
    res.render('admin/connection-scim', { title: `SCIM · ${connection.name}`, nav: 'tenants', tenant, connection, status, tokens, created, once, warningDays: EXPIRY_WARNING_DAYS });
  }

  r.get('/connections/:id/scim', async (req, res) => {
    await render(req, res, null);
  });

  r.post('/connections/:id/scim/tokens', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    const fresh = await options.store.replayCache.claim(`admin:scim-token-form:${formField(req, 'once')}`, new Date(Date.now() + DAY_MS));
    if (!fresh || formField(req, 'once') === '') {
      flash(req, 'info', 'That form was already sent: its token was shown then, and is listed below.');
      redirectAfterPost(req, res, `/admin/connections/${connection.id}/scim`);
      return;
    }
    try {
      const created = await admin.createScimToken(connection.id, { expiresInDays: days(req) });
      // The token exists only in this answer: shown once, with a copy button.
      await render(req, res, created);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `No token was created: ${error.message}`);
      redirectAfterPost(req, res, `/admin/connections/${connection.id}/scim`);
    }
  });

  r.post('/connections/:id/scim/tokens/:tokenId/extend', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    try {
      const view = await admin.extendScimToken(connection.id, param(req, 'tokenId'), { expiresInDays: days(req) });
      flash(req, 'ok', `Token ${view.prefix}… now expires on ${view.expiresAt.slice(0, 10)}.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', error.message);
    }
    redirectAfterPost(req, res, `/admin/connections/${connection.id}/scim`);
  });

  r.post('/connections/:id/scim/tokens/:tokenId/revoke', async (req, res) => {
    const connection = await admin.getConnection(param(req, 'id'));
    try {
      const view = await admin.revokeScimToken(connection.id, param(req, 'tokenId'));
      flash(req, 'ok', `Token ${view.prefix}… is revoked: Entra’s provisioning stops working until it gets a new token.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', error.message);
    }
    redirectAfterPost(req, res, `/admin/connections/${connection.id}/scim`);
  });
  return r;
}
