/**
 * Who may use the admin console, CSRF protection for its forms, and the shared page plumbing (layout locals,
 * flash messages after Post/Redirect/Get).
 *
 * Admins are Gatehouse users of the admin tenant (ADMIN_TENANT) in the admin group (ADMIN_GROUP, matched by the
 * group's external id or its name) who signed in by SAML like everyone else; membership is re-read from the store
 * on every request, so removing someone from the group ends their console access at once. A bootstrap session
 * (one-time link, src/admin/bootstrap) is an admin session too, marked in the session itself.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { csrfSync } from 'csrf-sync';
import type { AdminService } from '../../admin/service';
import { normaliseKey } from '../../provisioning/normalise';
import type { SamlService } from '../../saml/service';
import type { Store } from '../../store/ports';
import { sendError } from '../errors';
import type { SessionPrincipal } from '../session';

declare module 'express-session' {
  interface SessionData {
    /** Set by a used bootstrap link: this session is an admin session without a Gatehouse user. */
    consoleBootstrap: { at: number };
    /** One message shown on the next console page (Post/Redirect/Get). */
    consoleFlash: Flash;
  }
}

export interface Flash {
  kind: 'ok' | 'warn' | 'bad' | 'info';
  text: string;
}

export interface AdminPolicy {
  /** Slug of the admin tenant; null when console sign-in by SAML is not configured. */
  tenant: string | null;
  /** External id or name of the admin group. */
  group: string | null;
}

export interface ConsoleOptions {
  store: Store;
  admin: AdminService;
  saml: SamlService;
  baseUrl: string;
  policy: AdminPolicy;
  /** The SP signing certificate, for the expiry on the dashboard and SP metadata of connections not saved yet. */
  spCertPem: string | null;
  /** As for the admin API: whether a metadata URL may point at a private address (development only). */
  allowPrivateMetadataUrls: boolean;
}

export interface ConsoleAdmin {
  kind: 'bootstrap' | 'sso';
  /** How the top bar names the admin. */
  label: string;
}

export function isAdminPrincipal(principal: SessionPrincipal, policy: AdminPolicy): boolean {
  if (!policy.tenant || !policy.group) return false;
  if (principal.tenant.slug !== policy.tenant) return false;
  const wanted = normaliseKey(policy.group);
  return principal.groups.some((g) => normaliseKey(g.externalId) === wanted || normaliseKey(g.displayName) === wanted);
}

export function consoleAdminOf(req: Request, policy: AdminPolicy): ConsoleAdmin | null {
  if (req.session?.consoleBootstrap) return { kind: 'bootstrap', label: 'Bootstrap admin' };
  if (req.user && isAdminPrincipal(req.user, policy)) return { kind: 'sso', label: req.user.user.username };
  return null;
}

/** JSON for fetch() callers (the live log) and *.json paths; pages for browsers. */
export function wantsJson(req: Request): boolean {
  return req.path.endsWith('.json') || req.accepts(['html', 'json']) === 'json';
}

/** No session: sign-in page (browsers) or 401 (scripts). A non-admin session: 403. */
export function requireConsoleAdmin(policy: AdminPolicy): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const admin = consoleAdminOf(req, policy);
    if (admin) {
      res.locals.consoleAdmin = admin;
      next();
      return;
    }
    res.set('Cache-Control', 'no-store');
    if (req.user) {
      sendError(req, res, {
        status: 403,
        code: 'admin_forbidden',
        message: `You are signed in as ${req.user.user.username}, which is not an administrator of this Gatehouse.`,
      });
      return;
    }
    if (wantsJson(req)) {
      res.status(401).json({ error: { code: 'unauthenticated', message: 'Sign in to the admin console first.' } });
      return;
    }
    const returnTo = req.method === 'GET' ? req.originalUrl : '/admin';
    res.redirect(302, `/admin/sign-in?returnTo=${encodeURIComponent(returnTo)}`);
  };
}

/**
 * csrf-sync (synchronizer token in the session): every console form carries `_csrf`; fetch() calls send the
 * `x-csrf-token` header. A POST without the session's token is refused with 403 before any handler runs.
 */
export function consoleCsrf() {
  const csrf = csrfSync({
    getTokenFromRequest: (req) => {
      const fromBody = (req.body as Record<string, unknown> | undefined)?._csrf;
      if (typeof fromBody === 'string') return fromBody;
      const header = req.headers['x-csrf-token'];
      return typeof header === 'string' ? header : undefined;
    },
  });
  const protect: RequestHandler = (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS' || csrf.isRequestValid(req)) {
      next();
      return;
    }
    sendError(req, res, {
      status: 403,
      code: 'csrf_failed',
      message: 'This form has expired or did not come from this Gatehouse. Go back, reload the page and try again.',
    });
  };
  /** Exposes the token to the views (created once per session). */
  const expose: RequestHandler = (req, res, next) => {
    res.locals.csrfToken = csrf.generateToken(req);
    next();
  };
  return { protect, expose };
}

/** Moves a pending flash message from the session into the page's locals. */
export const takeFlash: RequestHandler = (req, res, next) => {
  if (req.session?.consoleFlash) {
    res.locals.flash = req.session.consoleFlash;
    delete req.session.consoleFlash;
  } else res.locals.flash = null;
  next();
};

export function flash(req: Request, kind: Flash['kind'], text: string): void {
  req.session.consoleFlash = { kind, text };
}

/** Post/Redirect/Get: saves the session (flash) before redirecting. */
export function redirectAfterPost(req: Request, res: Response, to: string): void {
  req.session.save(() => res.redirect(303, to));
}

/** Express 5 passes async rejections to the error handler; this only narrows a route param to a string. */
export function param(req: Request, name: string): string {
  return String(req.params[name] ?? '');
}

/** A string field of a urlencoded form body ('' when absent). */
export function formField(req: Request, name: string): string {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(value)) return typeof value[0] === 'string' ? value[0] : '';
  return typeof value === 'string' ? value : '';
}

/** Every value of a repeated form field (checkbox groups, multiple selects). */
export function formList(req: Request, name: string): string[] {
  const value = (req.body as Record<string, unknown> | undefined)?.[name];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return typeof value === 'string' ? [value] : [];
}
