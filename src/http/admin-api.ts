/**
 * The admin API under /api (design.md section 2), authenticated by `Authorization: Bearer <ADMIN_API_KEY>`.
 * Every action delegates to AdminService, which the CLI shares.
 */
import { Router, type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import type { AdminService } from '../admin/service';
import { UnauthorizedError } from '../common/errors';
import { secretsEqual } from '../common/secrets';
import { parseInput } from '../common/validation';

const PageQuery = z.object({
  offset: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const EventsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.coerce.date().optional(),
  outcome: z.enum(['success', 'refused', 'error', 'info']).optional(),
  channel: z.enum(['saml', 'scim', 'ldap', 'admin']).optional(),
});

export function requireAdminKey(adminApiKey: string) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match || !secretsEqual(match[1]!, adminApiKey)) {
      next(new UnauthorizedError('A valid admin API key is required (Authorization: Bearer <ADMIN_API_KEY>).'));
      return;
    }
    next();
  };
}

export function adminApiRouter(admin: AdminService, adminApiKey: string): Router {
  const r = Router();
  r.use(requireAdminKey(adminApiKey));

  r.get('/tenants', async (_req, res) => {
    res.json({ items: await admin.listTenants() });
  });
  r.post('/tenants', async (req, res) => {
    res.status(201).json(await admin.createTenant(req.body));
  });
  r.get('/tenants/:tenant', async (req, res) => {
    res.json(await admin.getTenant(req.params.tenant!));
  });
  r.patch('/tenants/:tenant', async (req, res) => {
    res.json(await admin.updateTenant(req.params.tenant!, req.body));
  });
  r.post('/tenants/:tenant/groups/rename', async (req, res) => {
    res.json(await admin.renameGroups(req.params.tenant!, req.body));
  });
  r.get('/tenants/:tenant/connections', async (req, res) => {
    res.json({ items: await admin.listConnections(req.params.tenant!) });
  });
  r.post('/tenants/:tenant/connections', async (req, res) => {
    const view = await admin.createConnection(req.params.tenant!, req.body);
    res.status(201).location(`/api/connections/${view.id}`).json(view);
  });

  r.get('/connections/:id', async (req, res) => {
    res.json({ ...admin.view(await admin.getConnection(req.params.id!)), scim: await admin.scimStatus(req.params.id!) });
  });
  r.post('/connections/:id/scim-tokens', async (req, res) => {
    res.status(201).set('Cache-Control', 'no-store').json(await admin.createScimToken(req.params.id!, req.body));
  });
  r.get('/connections/:id/scim-tokens', async (req, res) => {
    res.json({ items: await admin.listScimTokens(req.params.id!) });
  });
  r.post('/connections/:id/scim-tokens/:tokenId/extend', async (req, res) => {
    res.json(await admin.extendScimToken(req.params.id!, req.params.tokenId!, req.body));
  });
  r.delete('/connections/:id/scim-tokens/:tokenId', async (req, res) => {
    res.json(await admin.revokeScimToken(req.params.id!, req.params.tokenId!));
  });
  r.post('/connections/:id/scim-clients', async (req, res) => {
    res.status(201).set('Cache-Control', 'no-store').json(await admin.createScimClient(req.params.id!));
  });
  r.get('/connections/:id/scim-clients', async (req, res) => {
    res.json({ items: await admin.listScimClients(req.params.id!) });
  });
  r.delete('/connections/:id/scim-clients/:clientId', async (req, res) => {
    res.json(await admin.revokeScimClient(req.params.id!, req.params.clientId!));
  });
  r.patch('/connections/:id', async (req, res) => {
    res.json(await admin.updateConnection(req.params.id!, req.body));
  });
  r.delete('/connections/:id', async (req, res) => {
    await admin.deleteConnection(req.params.id!);
    res.status(204).end();
  });
  r.post('/connections/:id/metadata', async (req, res) => {
    res.json(await admin.reimportMetadata(req.params.id!, req.body));
  });
  r.post('/connections/:id/match', async (req, res) => {
    res.json(await admin.match(req.params.id!, req.body));
  });
  r.get('/connections/:id/users', async (req, res) => {
    res.json(await admin.listUsers(req.params.id!, parseInput(PageQuery, req.query, 'query')));
  });
  r.patch('/connections/:id/users/:userId', async (req, res) => {
    res.json(await admin.setUserActive(req.params.id!, req.params.userId!, req.body));
  });
  r.get('/connections/:id/groups', async (req, res) => {
    res.json(await admin.listGroups(req.params.id!, parseInput(PageQuery, req.query, 'query')));
  });
  r.get('/connections/:id/events', async (req, res) => {
    const items = await admin.listEvents(req.params.id!, parseInput(EventsQuery, req.query, 'query'));
    const last = items.at(-1);
    res.json({ items, next: last ? { before: last.at.toISOString() } : null });
  });
  return r;
}
