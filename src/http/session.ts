/**
 * Web sessions: express-session on the active store, passport for req.login/req.logout/req.user, idle and absolute
 * lifetimes, and the "who is this?" answers for the application: /me, /api/me, /auth/check, /logout.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import passport from 'passport';
import { safeLocalPath } from '../common/local-path';
import type { Group, Tenant, User } from '../provisioning/types';
import type { SamlSessionSubject } from '../saml/types';
import type { RevocableSessionStore, Store } from '../store/ports';

/** What req.user holds for a signed-in request (loaded fresh from the store on every request). */
export interface SessionPrincipal {
  user: User;
  tenant: Tenant;
  groups: Group[];
  /** Only at a SAML login: what the new session records about it (see createPassport's serializer). */
  signIn?: { connectionId: string; samlSubject: SamlSessionSubject };
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends SessionPrincipal {}
  }
}

declare module 'express-session' {
  interface SessionData {
    /** Epoch ms of the login; the absolute lifetime counts from here. */
    authenticatedAt: number;
    connectionId: string;
    /** The NameID, its format and the SessionIndex of the SAML sign-in: what a LogoutRequest to the IdP names. */
    samlSubject: SamlSessionSubject;
  }
}

/**
 * Starts SAML single logout at the IdP for a session that has just ended (connections with singleLogout on): returns
 * the IdP URL to send the browser to, or null when the connection does not do it (src/http/sso.ts idpLogoutStarter).
 */
export type IdpLogoutStarter = (ended: { connectionId: string; subject: SamlSessionSubject; returnTo: string | null }) => Promise<string | null>;

export const SESSION_COOKIE = 'gatehouse.sid';

/** Deletes the request's session from its store and clears the browser's cookie (sign-outs call req.logout first). */
export function destroySession(req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) =>
    req.session.destroy((error: unknown) => {
      if (error) return reject(error);
      res.clearCookie(SESSION_COOKIE, { path: '/' });
      resolve();
    }),
  );
}

export interface SessionOptions {
  store: Store;
  secret: string;
  secureCookies: boolean;
  idleMs: number;
  absoluteMs: number;
  /** The session store to use (shared with what revokes sessions, e.g. SCIM deprovisioning); made here when absent. */
  sessionStore?: RevocableSessionStore;
}

export async function loadPrincipal(store: Store, userId: string): Promise<SessionPrincipal | null> {
  const user = await store.users.findById(userId);
  // A disabled account loses every session at once: the next request finds it inactive.
  if (!user || !user.active) return null;
  const tenant = await store.tenants.findById(user.tenantId);
  if (!tenant) return null;
  const memberships = await store.memberships.listByUser(user.id);
  const groups = await store.groups.findByIds([...new Set(memberships.map((m) => m.groupId))]);
  groups.sort((a, b) => a.displayName.localeCompare(b.displayName));
  return { user, tenant, groups };
}

/** Configures passport on its own instance so several apps (tests) never share serializers. */
export function createPassport(store: Store): passport.PassportStatic {
  const instance = new passport.Passport() as passport.PassportStatic;
  // Runs inside req.login on the regenerated session, just before passport saves it: stamping the login here keeps
  // a sign-in to one session write.
  instance.serializeUser((req: Request, principal: Express.User, done: (err: unknown, id?: string) => void) => {
    req.session.authenticatedAt = Date.now();
    if (principal.signIn) {
      req.session.connectionId = principal.signIn.connectionId;
      req.session.samlSubject = principal.signIn.samlSubject;
    }
    done(null, principal.user.id);
  });
  instance.deserializeUser((id: unknown, done) => {
    if (typeof id !== 'string') return done(null, false);
    loadPrincipal(store, id).then(
      (p) => done(null, p ?? false),
      (error: unknown) => done(error),
    );
  });
  return instance;
}

export function sessionMiddleware(options: SessionOptions): RequestHandler[] {
  const sessionStore = options.sessionStore ?? options.store.createSessionStore({ ttlSeconds: Math.ceil(options.idleMs / 1000) });
  const enforceAbsoluteLifetime: RequestHandler = (req, _res, next) => {
    const startedAt = req.session?.authenticatedAt;
    if (startedAt !== undefined && Date.now() - startedAt > options.absoluteMs) {
      // Regenerate rather than destroy: the old session is deleted from the store and the request continues
      // with an empty one, so passport sees no user.
      req.session.regenerate((error) => next(error));
      return;
    }
    next();
  };
  return [
    session({
      name: SESSION_COOKIE,
      secret: options.secret,
      store: sessionStore,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      proxy: undefined,
      cookie: {
        httpOnly: true,
        sameSite: 'lax',
        secure: options.secureCookies,
        maxAge: options.idleMs,
        path: '/',
      },
    }),
    enforceAbsoluteLifetime,
  ];
}

/** Header values must be ASCII; names may not be. Percent-encode non-printable-ASCII, ',' and '%' only. */
export function headerValue(value: string): string {
  return value.replace(/[^\x20-\x7e]|[,%]/gu, (c) => encodeURIComponent(c));
}

function meJson(p: SessionPrincipal, req: Request) {
  const expiresAt = req.session.cookie.expires ?? null;
  return {
    id: p.user.id,
    username: p.user.username,
    email: p.user.email,
    givenName: p.user.givenName,
    familyName: p.user.familyName,
    displayName: p.user.displayName,
    fullName: p.user.fullName,
    tenant: { id: p.tenant.id, slug: p.tenant.slug, name: p.tenant.name },
    groups: p.groups.map((g) => ({ id: g.id, externalId: g.externalId, displayName: g.displayName, nameResolved: g.nameResolved })),
    session: {
      authenticatedAt: req.session.authenticatedAt ? new Date(req.session.authenticatedAt).toISOString() : null,
      expiresAt: expiresAt ? new Date(expiresAt).toISOString() : null,
    },
  };
}

function unauthenticated(res: Response): void {
  res.status(401).json({ error: { code: 'unauthenticated', message: 'Not signed in.' } });
}

export interface SessionRouterOptions {
  /** SP-initiated single logout after POST /logout; absent: local sign-out only. */
  startIdpLogout?: IdpLogoutStarter;
}

export function sessionRouter(options: SessionRouterOptions = {}): Router {
  const r = Router();

  r.get('/api/me', (req, res) => {
    if (!req.user) return unauthenticated(res);
    res.set('Cache-Control', 'no-store').json(meJson(req.user, req));
  });

  r.get('/me', (req, res) => {
    if (!req.user) {
      res.status(401).render('signed-out', { title: 'Not signed in' });
      return;
    }
    res.set('Cache-Control', 'no-store').render('me', { title: 'Your account', me: meJson(req.user, req) });
  });

  // Forward-auth for nginx auth_request, Traefik ForwardAuth, Caddy forward_auth.
  r.get('/auth/check', (req, res) => {
    res.set('Cache-Control', 'no-store');
    if (!req.user) {
      res.status(401).end();
      return;
    }
    const { user, tenant, groups } = req.user;
    res.set({
      'X-Gatehouse-User': headerValue(user.username),
      'X-Gatehouse-User-Id': user.id,
      'X-Gatehouse-Email': headerValue(user.email ?? ''),
      'X-Gatehouse-Name': headerValue(user.fullName),
      'X-Gatehouse-Tenant': tenant.slug,
      'X-Gatehouse-Groups': groups.map((g) => headerValue(g.displayName)).join(','),
    });
    res.status(200).end();
  });

  r.post('/logout', (req, res, next) => {
    // Read before the session ends: what a LogoutRequest to the IdP needs (used when the connection has singleLogout).
    const { connectionId, samlSubject } = req.session;
    const ended =
      req.user && connectionId && samlSubject ? { connectionId, subject: samlSubject, returnTo: safeLocalPath(req.query.returnTo) } : null;
    req.logout({ keepSessionInfo: false }, (error) => {
      if (error) return next(error);
      destroySession(req, res).then(async () => {
        // The local session is gone before the IdP is involved: nothing that goes wrong there can keep it alive.
        const idpLogoutUrl =
          ended && options.startIdpLogout
            ? await options.startIdpLogout(ended).catch((sloError: unknown) => {
                req.log?.error({ err: sloError }, 'single logout at the IdP could not be started; signed out locally only');
                return null;
              })
            : null;
        if (req.accepts(['json', 'html']) === 'json') {
          if (idpLogoutUrl) res.set('Cache-Control', 'no-store').json({ loggedOut: true, idpLogoutUrl });
          else res.status(204).end();
        } else res.set('Cache-Control', 'no-store').redirect(303, idpLogoutUrl ?? '/me');
      }, next);
    });
  });
  return r;
}
