/** Tenants: list, create, and a tenant's page (its connections, owned domains and name). */
import { Router, type Request, type Response } from 'express';
import { AppError } from '../../common/errors';
import { flash, formField, param, redirectAfterPost, type ConsoleOptions } from './context';

/** Owned domains as an admin types them: one per line, or separated by commas or spaces. */
export function parseDomainList(text: string): string[] {
  return text
    .split(/[\s,;]+/u)
    .map((d) => d.trim())
    .filter((d) => d !== '');
}

export function tenantPages({ admin, store }: ConsoleOptions): Router {
  const r = Router();

  r.get('/tenants', async (_req, res) => {
    const tenants = await admin.listTenants();
    const rows = await Promise.all(tenants.map(async (tenant) => ({ tenant, connections: await store.connections.listByTenant(tenant.id) })));
    res.render('admin/tenants', { title: 'Tenants', nav: 'tenants', rows });
  });

  r.post('/tenants', async (req: Request, res: Response) => {
    try {
      const tenant = await admin.createTenant({ slug: formField(req, 'slug'), name: formField(req, 'name'), domains: parseDomainList(formField(req, 'domains')) });
      flash(req, 'ok', `Tenant ${tenant.name} created. Next: add its SAML connection.`);
      redirectAfterPost(req, res, `/admin/tenants/${tenant.slug}`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `The tenant was not created: ${error.message}`);
      redirectAfterPost(req, res, '/admin/tenants#new-tenant');
    }
  });

  r.get('/tenants/:tenant', async (req, res) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    const connections = await store.connections.listByTenant(tenant.id);
    res.render('admin/tenant', { title: tenant.name, nav: 'tenants', tenant, connections, tab: 'connections' });
  });

  r.post('/tenants/:tenant', async (req: Request, res: Response) => {
    const tenant = await admin.getTenant(param(req, 'tenant'));
    try {
      const updated = await admin.updateTenant(tenant.id, { name: formField(req, 'name'), domains: parseDomainList(formField(req, 'domains')) });
      flash(req, 'ok', updated.domains.length > 0 ? `Saved. ${updated.name} owns ${updated.domains.join(', ')}.` : `Saved. ${updated.name} owns no domains: sign-ins are not restricted by domain.`);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      flash(req, 'bad', `Not saved: ${error.message}`);
    }
    redirectAfterPost(req, res, `/admin/tenants/${tenant.slug}#settings`);
  });
  return r;
}
