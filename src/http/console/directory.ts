/**
 * Users and groups of a tenant: searchable, paged lists; a user's page (identity links, groups and which channel
 * asserted each membership, disable/enable); GUID-named groups highlighted, renamed inline or in bulk from a CSV.
 */
import { Router, type Request, type Response } from 'express';
import { AppError, NotFoundError } from '../../common/errors';
import { parseRenameCsv } from '../../admin/rename-csv';
import type { Connection, Tenant } from '../../provisioning/types';
import { flash, formField, param, redirectAfterPost, type ConsoleOptions } from './context';

export const PAGE_SIZE = 25;

export interface Paging {
  page: number;
  pages: number;
  total: number;
  from: number;
  to: number;
}

function pageNumber(req: Request): number {
  const n = Number.parseInt(String(req.query.page ?? '1'), 10);
  return Number.isFinite(n) && n >= 1 ? Math.min(n, 100_000) : 1;
}

/** A list page's search text (`q`), page number and the store window it asks for. */
function listRequest(req: Request): { q: string; page: number; window: { offset: number; limit: number } } {
  const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 200) : '';
  const page = pageNumber(req);
  return { q, page, window: { offset: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE } };
}

export function paging(page: number, total: number, shown: number): Paging {
  const from = total === 0 ? 0 : (page - 1) * PAGE_SIZE + 1;
  return { page, pages: Math.max(1, Math.ceil(total / PAGE_SIZE)), total, from, to: from === 0 ? 0 : from + shown - 1 };
}

/** "saml:<connectionId>" -> "SAML sign-in · Contoso (Entra ID)": who asserted a membership, in words. */
export function describeSource(source: string, connections: ReadonlyMap<string, Connection>): { channel: string; via: string | null } {
  const [channel = source, ref] = source.split(':', 2);
  const label: Record<string, string> = { saml: 'SAML sign-in', scim: 'SCIM provisioning', ldap: 'LDAP sync', admin: 'Admin' };
  return { channel: label[channel] ?? channel, via: ref ? (connections.get(ref)?.name ?? ref) : null };
}

export function directoryPages({ admin, store }: ConsoleOptions): Router {
  const r = Router();

  async function tenantOf(req: Request): Promise<Tenant> {
    return admin.getTenant(param(req, 'tenant'));
  }

  r.get('/tenants/:tenant/users', async (req, res) => {
    const tenant = await tenantOf(req);
    const { q, page, window } = listRequest(req);
    const result = q ? await store.users.search(tenant.id, q, window) : await store.users.listByTenant(tenant.id, window);
    res.render('admin/users', { title: `Users · ${tenant.name}`, nav: 'tenants', tenant, tab: 'users', q, users: result.items, paging: paging(page, result.total, result.items.length) });
  });

  r.get('/tenants/:tenant/users/:userId', async (req, res) => {
    const tenant = await tenantOf(req);
    const user = await store.users.findById(param(req, 'userId'));
    if (!user || user.tenantId !== tenant.id) throw new NotFoundError('No such user in this tenant.', 'user_not_found');
    const connections = new Map((await store.connections.listByTenant(tenant.id)).map((c) => [c.id, c]));
    const links = await store.identityLinks.listByUser(user.id);
    const memberships = await store.memberships.listByUser(user.id);
    const groups = new Map((await store.groups.findByIds([...new Set(memberships.map((m) => m.groupId))])).map((g) => [g.id, g]));
    const rows = [...groups.values()]
      .sort((a, b) => a.displayName.localeCompare(b.displayName))
      .map((group) => ({ group, sources: memberships.filter((m) => m.groupId === group.id).map((m) => describeSource(m.source, connections)) }));
    const events = await store.events.list({ tenantId: tenant.id, subject: user.username, limit: 10 });
    res.render('admin/user', {
      title: `${user.fullName} · ${tenant.name}`,
      nav: 'tenants',
      tenant,
      tab: 'users',
      user,
      links: links.map((l) => ({ link: l, connection: connections.get(l.connectionId) ?? null })),
      rows,
      events,
    });
  });

  r.post('/tenants/:tenant/users/:userId/active', async (req: Request, res: Response) => {
    const tenant = await tenantOf(req);
    const userId = param(req, 'userId');
    const active = formField(req, 'active') === 'true';
    // AdminService acts through a connection (it records which one in the log): the user's own, else the tenant's first.
    const links = await store.identityLinks.listByUser(userId);
    const connection = links[0]?.connectionId ?? (await store.connections.listByTenant(tenant.id))[0]?.id;
    try {
      if (!connection) throw new NotFoundError('This tenant has no connection to act through.', 'connection_not_found');
      const user = await admin.setUserActive(connection, userId, { active });
      flash(req, 'ok', active ? `${user.username} can sign in again.` : `${user.username} is disabled and was signed out everywhere.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', error.message);
    }
    redirectAfterPost(req, res, `/admin/tenants/${tenant.slug}/users/${encodeURIComponent(userId)}`);
  });

  r.get('/tenants/:tenant/groups', async (req, res) => {
    const tenant = await tenantOf(req);
    const { q, page, window } = listRequest(req);
    const result = q ? await store.groups.search(tenant.id, q, window) : await store.groups.listByTenant(tenant.id, window);
    res.render('admin/groups', { title: `Groups · ${tenant.name}`, nav: 'tenants', tenant, tab: 'groups', q, groups: result.items, paging: paging(page, result.total, result.items.length) });
  });

  r.post('/tenants/:tenant/groups/:groupId/rename', async (req: Request, res: Response) => {
    const tenant = await tenantOf(req);
    const group = await store.groups.findById(param(req, 'groupId'));
    const back = formField(req, 'back');
    if (!group || group.tenantId !== tenant.id) throw new NotFoundError('No such group in this tenant.', 'group_not_found');
    try {
      await admin.renameGroups(tenant.id, { names: { [group.externalId]: formField(req, 'name') } });
      flash(req, 'ok', `Group ${group.externalId} is now “${formField(req, 'name').trim()}”.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `Not renamed: ${error.message}`);
    }
    redirectAfterPost(req, res, back.startsWith(`/admin/tenants/${tenant.slug}/groups`) ? back : `/admin/tenants/${tenant.slug}/groups`);
  });

  r.post('/tenants/:tenant/groups/rename-csv', async (req: Request, res: Response) => {
    const tenant = await tenantOf(req);
    try {
      const names = parseRenameCsv(formField(req, 'csv'));
      const result = await admin.renameGroups(tenant.id, { names: Object.fromEntries(names) });
      const unknown = result.unknown.length > 0 ? ` Not found (nothing created): ${result.unknown.slice(0, 10).join(', ')}${result.unknown.length > 10 ? ', …' : ''}.` : '';
      flash(req, result.unknown.length > 0 ? 'warn' : 'ok', `Renamed ${result.renamed.length} group(s).${unknown}`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `Nothing was renamed: ${error.message}`);
    }
    redirectAfterPost(req, res, `/admin/tenants/${tenant.slug}/groups`);
  });

  return r;
}
