/**
 * The admin console, route by route. The routes are read from the console's own router, so a route added later is
 * covered without editing this file:
 * - no page or action is reachable without an admin session (browsers go to the console sign-in, scripts get 401,
 *   a signed-in non-admin gets 403), and nothing changes;
 * - every POST without a valid CSRF token (none, or another session's) is refused with 403 and changes nothing;
 * - crawling every page an admin can reach finds no dead link, no form posting to a route that does not exist, no
 *   button that does nothing, and no inline script or style (the CSP forbids them).
 */
import request from 'supertest';
import { bootstrapTokenUsable, createBootstrapLink } from '../../src/admin/bootstrap';
import { consoleRouter } from '../../src/http/console/router';
import { normaliseKey } from '../../src/provisioning/normalise';
import type { Store } from '../../src/store/ports';
import { authHeader, BASE_URL } from '../helpers/gateway';
import { TestIdp, type SpTarget } from '../helpers/test-idp';
import { bootstrapAgent, createConsoleGateway, csrfOf, runTestSignIn, type ConsoleGateway } from './console-helpers';

interface ConsoleRoute {
  method: 'GET' | 'POST';
  /** Express path, e.g. /admin/tenants/:tenant/users/:userId */
  path: string;
}

interface RouterLayer {
  route?: { path: string; methods: Record<string, boolean> };
  handle: { stack?: RouterLayer[] };
  rawPath?: unknown;
}

/** Every route of the console router, with its full path. */
function consoleRoutes(gw: ConsoleGateway): ConsoleRoute[] {
  const outer = consoleRouter({
    store: gw.store,
    admin: {} as never,
    saml: {} as never,
    baseUrl: BASE_URL,
    policy: { tenant: null, group: null },
    spCertPem: null,
    allowPrivateMetadataUrls: false,
  }) as unknown as { stack: RouterLayer[] };
  const mount = outer.stack.find((l) => l.rawPath === '/admin');
  if (!mount?.handle.stack) throw new Error('the console router is not mounted at /admin');
  const routes: ConsoleRoute[] = [];
  const walk = (stack: RouterLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          if (method === 'get' || method === 'post') routes.push({ method: method.toUpperCase() as 'GET' | 'POST', path: `/admin${layer.route.path}` });
          else throw new Error(`unexpected method ${method} on ${layer.route.path}`);
        }
      } else if (layer.handle.stack) {
        // Sub-routers are mounted without a path of their own; a prefix here would make the paths above wrong.
        if (layer.rawPath !== '/') throw new Error(`sub-router mounted at ${String(layer.rawPath)}`);
        walk(layer.handle.stack);
      }
    }
  };
  walk(mount.handle.stack);
  return routes;
}

/** A path regexp for an Express route path (the console uses plain :params only). */
function routePattern(path: string): RegExp {
  if (/[*?()]/.test(path)) throw new Error(`route syntax not handled here: ${path}`);
  return new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/:[A-Za-z]+/g, '[^/]+')}$`);
}

const idp = new TestIdp();
let gw: ConsoleGateway;
let sp: SpTarget;
let ids: Record<string, string>;
let routes: ConsoleRoute[];

/** A realistic console: a tenant with a connection, signed-in users with GUID groups, tokens, refusals, a test. */
async function seed(): Promise<void> {
  await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso Ltd', domains: ['contoso.example'] }).expect(201);
  const c = await request(gw.app).post('/api/tenants/contoso/connections').set(authHeader).send({ slug: 'contoso-entra', name: 'Contoso Entra', metadataXml: idp.metadataXml() }).expect(201);
  sp = { entityId: c.body.spEntityId, acsUrl: c.body.acsUrl };
  await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
  await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { now: new Date(Date.now() - 7_200_000) })).expect(400);
  const token = await request(gw.app).post(`/api/connections/${c.body.id}/scim-tokens`).set(authHeader).send({ expiresInDays: 10 }).expect(201);
  const tenant = (await gw.store.tenants.findBySlug('contoso'))!;
  // Enough accounts for a second page of users.
  for (let i = 0; i < 30; i++) {
    const username = `user${String(i).padStart(2, '0')}@contoso.example`;
    await gw.store.users.create({
      tenantId: tenant.id,
      username,
      usernameKey: normaliseKey(username),
      email: username,
      givenName: 'User',
      familyName: String(i),
      displayName: null,
      fullName: `User ${i}`,
      active: true,
    });
  }
  const user = (await gw.store.users.findByKey(tenant.id, normaliseKey('adele.vance@contoso.example')))!;
  const group = (await gw.store.groups.listByTenant(tenant.id, { offset: 0, limit: 1 })).items[0]!;
  ids = { tenant: 'contoso', id: c.body.id, userId: user.id, groupId: group.id, tokenId: token.body.id, testId: 'abcdefghijklmnopqrstuv' };
}

async function snapshot(store: Store): Promise<string> {
  const tenants = await store.tenants.list();
  const state = [];
  for (const tenant of tenants) {
    const connections = await store.connections.listByTenant(tenant.id);
    const users = (await store.users.listByTenant(tenant.id, { offset: 0, limit: 1000 })).items;
    const memberships = await Promise.all(users.map((u) => store.memberships.listByUser(u.id)));
    const groups = (await store.groups.listByTenant(tenant.id, { offset: 0, limit: 1000 })).items;
    const tokens = await Promise.all(connections.map((c) => store.scimTokens.listByConnection(c.id)));
    state.push({ tenant, connections, users, memberships, groups, tokens });
  }
  return JSON.stringify({ state, events: (await store.events.list({ limit: 100_000 })).length });
}

function fill(path: string): string {
  return path.replace(/:([A-Za-z]+)/g, (_, name: string) => {
    const value = ids[name];
    if (!value) throw new Error(`no test value for :${name} in ${path}`);
    return encodeURIComponent(value);
  });
}

/** Fields that would change something on every console form, were the request accepted. */
function hostileFields(): Record<string, string> {
  return {
    slug: 'evil',
    name: 'Evil',
    domains: 'evil.example',
    active: 'false',
    metadataXml: idp.metadataXml({ certs: ['idp-rogue'] }),
    matchBy: 'email',
    jitEnabled: 'on',
    deleteMode: 'hard',
    csv: 'id,name\n5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d,Evil',
    expiresInDays: '1',
    once: 'evil-once-0123456789',
  };
}

const PUBLIC_GET = new Set(['/admin/sign-in', '/admin/bootstrap']);
const PUBLIC_POST = new Set(['/admin/bootstrap', '/admin/sign-out']);

beforeEach(async () => {
  gw = await createConsoleGateway();
  await seed();
  routes = consoleRoutes(gw);
});
afterEach(async () => {
  await gw.close();
});

describe('the console’s routes', () => {
  it('are found in the router (so the tests below cover every one of them)', () => {
    const posts = routes.filter((r) => r.method === 'POST').map((r) => r.path);
    expect(posts).toEqual(
      expect.arrayContaining([
        '/admin/bootstrap',
        '/admin/sign-out',
        '/admin/tenants',
        '/admin/tenants/:tenant',
        '/admin/tenants/:tenant/connections',
        '/admin/connections/:id/settings',
        '/admin/connections/:id/test',
        '/admin/connections/:id/scim/tokens/:tokenId/revoke',
        '/admin/tenants/:tenant/groups/rename-csv',
        '/admin/tenants/:tenant/users/:userId/active',
      ]),
    );
    expect(posts.length).toBeGreaterThanOrEqual(14);
    expect(routes.filter((r) => r.method === 'GET').length).toBeGreaterThanOrEqual(18);
  });
});

describe('without an admin session', () => {
  it('every page sends a browser to the console sign-in (with returnTo) and answers scripts 401', async () => {
    for (const route of routes.filter((r) => r.method === 'GET' && !PUBLIC_GET.has(r.path))) {
      const path = fill(route.path);
      const html = await request(gw.app).get(path).set('Accept', 'text/html');
      if (path.endsWith('.json')) {
        expect([path, html.status]).toEqual([path, 401]);
        continue;
      }
      expect([path, html.status]).toEqual([path, 302]);
      expect(html.headers.location).toBe(`/admin/sign-in?returnTo=${encodeURIComponent(path)}`);
      expect(html.text).not.toContain('Contoso');
      const json = await request(gw.app).get(path).set('Accept', 'application/json');
      expect([path, json.status, json.body.error?.code]).toEqual([path, 401, 'unauthenticated']);
    }
  });

  it('every action is refused even with a valid CSRF token of the anonymous session, and changes nothing', async () => {
    const before = await snapshot(gw.store);
    const anonymous = request.agent(gw.app);
    const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
    const csrf = csrfOf((await anonymous.get(new URL(url).pathname + new URL(url).search).expect(200)).text);
    for (const route of routes.filter((r) => r.method === 'POST' && !PUBLIC_POST.has(r.path))) {
      const path = fill(route.path);
      const res = await anonymous.post(path).type('form').set('Accept', 'text/html').send({ _csrf: csrf, ...hostileFields() });
      expect([path, res.status]).toEqual([path, 302]);
      expect(res.headers.location).toBe(`/admin/sign-in?returnTo=${encodeURIComponent('/admin')}`);
    }
    expect(await snapshot(gw.store)).toBe(before);
  });

  it('a signed-in user who is not an admin gets 403 on every page and action', async () => {
    const user = request.agent(gw.app);
    await user.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    await user.get('/api/me').expect(200);
    // A CSRF token of the user's own session (any public console page with a form hands one out).
    const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
    const csrf = csrfOf((await user.get(new URL(url).pathname + new URL(url).search).expect(200)).text);
    const before = await snapshot(gw.store);
    for (const route of routes.filter((r) => !(r.method === 'GET' ? PUBLIC_GET : PUBLIC_POST).has(r.path))) {
      const path = fill(route.path);
      const res =
        route.method === 'GET'
          ? await user.get(path).set('Accept', 'text/html')
          : await user.post(path).type('form').set('Accept', 'text/html').send({ _csrf: csrf, ...hostileFields() });
      expect([route.method, path, res.status]).toEqual([route.method, path, 403]);
      expect(res.text).toContain('This page is for administrators');
    }
    expect(await snapshot(gw.store)).toBe(before);
    await user.get('/api/me').expect(200);
  });
});

describe('CSRF on every console form', () => {
  it('refuses every POST without a token, or with another session’s token, with 403, and nothing changes', async () => {
    const admin = await bootstrapAgent(gw);
    const other = await bootstrapAgent(gw);
    const foreign = csrfOf((await other.get('/admin/tenants').expect(200)).text);
    const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
    const bootstrapToken = new URL(url).searchParams.get('token')!;
    const before = await snapshot(gw.store);
    const posts = routes.filter((r) => r.method === 'POST');
    for (const route of posts) {
      const path = fill(route.path);
      for (const csrf of [undefined, foreign, '']) {
        const fields: Record<string, string> = { ...hostileFields(), token: bootstrapToken };
        if (csrf !== undefined) fields._csrf = csrf;
        const res = await admin.post(path).type('form').set('Accept', 'application/json').send(fields);
        expect([path, res.status, res.body.error?.code]).toEqual([path, 403, 'csrf_failed']);
      }
      // The header form of the token is checked the same way.
      const viaHeader = await admin.post(path).type('form').set('x-csrf-token', foreign).set('Accept', 'text/html').send(hostileFields());
      expect([path, viaHeader.status]).toEqual([path, 403]);
      expect(viaHeader.text).toContain('This form has expired');
    }
    expect(await snapshot(gw.store)).toBe(before);
    // Nothing was used up or ended either: the bootstrap link still works, both sessions are still admin sessions.
    expect(await bootstrapTokenUsable(gw.store.requestCache, bootstrapToken)).toBe(true);
    await admin.get('/admin').expect(200);
    await other.get('/admin').expect(200);
  });
});

describe('pages an admin reaches', () => {
  it('have no dead links, no form posting nowhere, no button without an action, and no inline script or style', async () => {
    const admin = await bootstrapAgent(gw);
    // A test sign-in result and a wizard draft, so those pages render their full state too.
    await runTestSignIn(admin, { id: ids.id!, slug: 'contoso-entra' }, (inResponseTo) => idp.postBody(sp, { inResponseTo }));
    const getPatterns = routes.filter((r) => r.method === 'GET').map((r) => routePattern(r.path));
    const postPatterns = routes.filter((r) => r.method === 'POST').map((r) => routePattern(r.path));
    const queue = ['/admin', '/admin/tenants/contoso/connections/new', '/admin/tenants/contoso/connections/new/metadata?slug=contoso-new'];
    const seen = new Set<string>(queue);
    const checked = new Map<string, number>();
    let pages = 0;
    while (queue.length > 0 && pages < 300) {
      const path = queue.shift()!;
      const res = await admin.get(path).set('Accept', 'text/html');
      checked.set(path, res.status);
      expect([path, res.status < 400]).toEqual([path, true]);
      const location = res.headers.location;
      if (location?.startsWith('/') && !seen.has(location)) {
        seen.add(location);
        queue.push(location);
      }
      if (!/text\/html/.test(String(res.headers['content-type'])) || !path.startsWith('/admin')) continue;
      pages++;
      const html = res.text;
      // Strict CSP, and nothing on the page that it would block.
      const csp = String(res.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect([path, html.match(/<script(?![^>]*\ssrc=)[^>]*>/g)]).toEqual([path, null]);
      expect([path, html.match(/<style|\sstyle=|\son[a-z]+=/gi)]).toEqual([path, null]);
      // Every POST form carries the CSRF token and posts to a console route; GET forms go to a console page.
      for (const form of html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/g)) {
        const attrs = form[1]!;
        const method = /method="(\w+)"/.exec(attrs)?.[1]?.toLowerCase() ?? 'get';
        const action = new URL((/action="([^"]*)"/.exec(attrs)?.[1] ?? path).replace(/&amp;/g, '&'), BASE_URL).pathname;
        if (method === 'post') {
          expect([path, action, postPatterns.some((p) => p.test(action))]).toEqual([path, action, true]);
          expect([path, action, form[2]!.includes('name="_csrf"')]).toEqual([path, action, true]);
        } else {
          expect([path, action, getPatterns.some((p) => p.test(action))]).toEqual([path, action, true]);
        }
      }
      // Buttons outside forms must do something (a copy button); inside a form they submit it.
      let depth = 0;
      for (const tag of html.matchAll(/<form\b|<\/form>|<button\b[^>]*>/g)) {
        if (tag[0] === '<form') depth++;
        else if (tag[0] === '</form>') depth--;
        else if (depth === 0) expect([path, tag[0]]).toEqual([path, expect.stringContaining('data-copy=')]);
      }
      // Follow every local link.
      for (const m of html.matchAll(/\shref="([^"]+)"/g)) {
        const href = m[1]!.replace(/&amp;/g, '&');
        if (!href.startsWith('/') || href.startsWith('//')) continue;
        const target = href.split('#')[0]!;
        if (target === '' || seen.has(target)) continue;
        seen.add(target);
        queue.push(target);
      }
    }
    // The crawl really went through the console.
    const visited = [...checked.keys()];
    for (const expected of [
      '/admin/tenants',
      '/admin/tenants/contoso',
      '/admin/tenants/contoso/users',
      '/admin/tenants/contoso/users?page=2',
      `/admin/tenants/contoso/users/${ids.userId}`,
      '/admin/tenants/contoso/groups',
      `/admin/connections/${ids.id}/settings`,
      `/admin/connections/${ids.id}/test`,
      `/admin/connections/${ids.id}/scim`,
      '/sso/contoso-entra/metadata',
      '/static/gatehouse.css',
    ]) {
      expect(visited).toContain(expected);
    }
    expect(visited.some((v) => v.startsWith('/admin/log?'))).toBe(true);
    expect(visited.some((v) => v.startsWith('/admin/tenants/contoso/connections/new/sp-metadata.xml?'))).toBe(true);
  });
});
