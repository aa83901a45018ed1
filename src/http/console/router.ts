/**
 * The admin console under /admin: server-rendered pages (views/admin) over AdminService, the same actions as the
 * admin API and the CLI. Every form is CSRF-protected; every page but sign-in and bootstrap needs an admin.
 */
import express, { Router, type ErrorRequestHandler, type Request, type Response } from 'express';
import { BOOTSTRAP_PATH, bootstrapTokenUsable, consumeBootstrapToken } from '../../admin/bootstrap';
import { safeLocalPath } from '../../common/local-path';
import { toHttpError } from '../errors';
import { destroySession } from '../session';
import { ssoLoginHref } from '../web/login';
import { connectionPages } from './connections';
import { consoleAdminOf, consoleCsrf, formField, requireConsoleAdmin, takeFlash, wantsJson, type ConsoleOptions } from './context';
import { dashboardPages } from './dashboard';
import { directoryPages } from './directory';
import { logPages } from './log';
import { scimPages } from './scim';
import { tenantPages } from './tenants';

/** Large enough for pasted IdP metadata (Entra's is ~10 KB; aggregates can be MBs) and rename CSVs. */
const FORM_LIMIT = '3mb';

export function consoleRouter(options: ConsoleOptions): Router {
  const { store, policy } = options;
  const outer = Router();
  const r = Router();
  outer.use('/admin', r);

  const csrf = consoleCsrf();
  r.use(express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 5000 }));
  r.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store');
    next();
  });
  r.use(csrf.protect);

  // ---- public: sign-in and bootstrap ----

  r.get('/sign-in', csrf.expose, async (req: Request, res: Response) => {
    const returnTo = safeLocalPath(req.query.returnTo) ?? '/admin';
    if (consoleAdminOf(req, policy)) {
      res.redirect(302, returnTo.startsWith('/admin') ? returnTo : '/admin');
      return;
    }
    const tenant = policy.tenant ? await store.tenants.findBySlug(policy.tenant) : null;
    const connections = tenant ? await store.connections.listByTenant(tenant.id) : [];
    const signInOptions = connections.map((c) => ({ name: c.name, entityId: c.idp.entityId, href: ssoLoginHref(c.slug, returnTo) }));
    res.render('admin/sign-in', { title: 'Admin sign-in', options: signInOptions, policy, signedOut: req.query.signedOut === '1' });
  });

  // Sign-out from the console's top bar: a CSRF-protected form like every other console action. It ends the whole
  // Gatehouse session (a bootstrap session, or the admin's SSO session).
  r.post('/sign-out', (req: Request, res: Response, next) => {
    req.logout({ keepSessionInfo: false }, (error) => {
      if (error) return next(error);
      destroySession(req, res).then(() => res.redirect(303, '/admin/sign-in?signedOut=1'), next);
    });
  });

  r.get('/bootstrap', csrf.expose, async (req: Request, res: Response) => {
    const token = typeof req.query.token === 'string' ? req.query.token : '';
    // Shown, not used: link previews and prefetchers must not burn the one-time link; the POST uses it.
    const usable = await bootstrapTokenUsable(store.requestCache, token);
    res.status(usable ? 200 : 410).render('admin/bootstrap', { title: 'Admin bootstrap', usable, token });
  });

  r.post('/bootstrap', async (req: Request, res: Response, next) => {
    const token = formField(req, 'token');
    if (!(await consumeBootstrapToken(store.requestCache, token))) {
      res.status(410).render('admin/bootstrap', { title: 'Admin bootstrap', usable: false, token: '' });
      return;
    }
    // A fresh session id: whatever session the browser had (maybe an attacker-planted one) is not promoted.
    req.session.regenerate((error) => {
      if (error) return next(error);
      req.session.consoleBootstrap = { at: Date.now() };
      req.session.authenticatedAt = Date.now();
      req.session.consoleFlash = { kind: 'info', text: 'Signed in with a one-time bootstrap link. Connect your identity provider and set ADMIN_TENANT / ADMIN_GROUP so admins sign in with their own accounts.' };
      req.session.save((saveError) => (saveError ? next(saveError) : res.redirect(303, '/admin')));
    });
  });

  // ---- everything else: admins only ----

  r.use(requireConsoleAdmin(policy), csrf.expose, takeFlash);
  r.use(dashboardPages(options));
  r.use(tenantPages(options));
  r.use(connectionPages(options));
  r.use(directoryPages(options));
  r.use(logPages(options));
  r.use(scimPages(options));

  // Inside the console, a missing page or a refused action is shown in the console's own layout (with its
  // navigation), not as an end-user sign-in error page. Scripts still get the JSON error.
  r.use((req: Request, res: Response) => {
    if (wantsJson(req)) {
      res.status(404).json({ error: { code: 'not_found', message: 'No such page in the admin console.' } });
      return;
    }
    res.status(404).render('admin/message', {
      title: 'Not found',
      heading: 'There is nothing at this address',
      text: 'The page may have moved, or the tenant, connection, user or group it showed no longer exists.',
    });
  });
  const consoleErrors: ErrorRequestHandler = (error, req, res, next) => {
    const mapped = toHttpError(error);
    if (!mapped || wantsJson(req) || res.headersSent) {
      next(error);
      return;
    }
    res.status(mapped.status).render('admin/message', {
      title: mapped.status === 404 ? 'Not found' : 'Not done',
      heading: mapped.status === 404 ? 'Not found' : 'That did not work',
      text: mapped.message,
    });
  };
  r.use(consoleErrors);
  return outer;
}

export { BOOTSTRAP_PATH };
