/**
 * The gateway's HTTP request handler: the SCIM endpoint (served without Express, see ./scim) and the Express
 * application (security headers, logging, body limits, rate limits, sessions, and the routers) for the rest.
 * Built from explicit dependencies so tests create as many isolated apps as they like.
 */
import { existsSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import express from 'express';
import rateLimit from 'express-rate-limit';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { AdminService } from '../admin/service';
import type { Logger } from '../common/log';
import type { SamlService } from '../saml/service';
import type { Store } from '../store/ports';
import { adminApiRouter } from './admin-api';
import { errorHandler, notFound, sendError } from './errors';
import { ScimCredentials } from '../scim/credentials';
import { scimEndpoint } from './scim';
import { createPassport, sessionMiddleware, sessionRouter } from './session';
import { idpLogoutStarter, samlStrategy, ssoRouter } from './sso';
import { consoleAdminOf } from './console/context';
import { consoleRouter } from './console/router';
import { formatters } from './web/format';
import { loginRouter } from './web/login';

export interface AppOptions {
  store: Store;
  saml: SamlService;
  logger: Logger;
  baseUrl: string;
  sessionSecret: string;
  adminApiKey: string;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  trustProxy: false | number | string;
  allowPrivateMetadataUrls: boolean;
  acsRateLimitPerMinute: number;
  /** Requests per minute per SCIM token (default 6000). */
  scimRateLimitPerMinute?: number;
  /** Admin console sign-in by SAML (ADMIN_TENANT / ADMIN_GROUP); absent: bootstrap links only. */
  adminTenant?: string | null;
  adminGroup?: string | null;
  /** The SP certificate, for the console (its expiry; SP metadata before a connection is saved). */
  spCertPem?: string | null;
}

/** views/ at the repository root, from src/http (tests) or dist/src/http (built). */
export const VIEWS_DIR = [path.resolve(__dirname, '../../views'), path.resolve(__dirname, '../../../views')].find((dir) =>
  existsSync(path.join(dir, 'error.ejs')),
) ?? path.resolve(__dirname, '../../views');

/** The SAMLResponse is capped inside the pipeline too; this stops oversized bodies before they are buffered. */
export const ACS_BODY_LIMIT = '512kb';
const ADMIN_BODY_LIMIT = '3mb';
export const DEFAULT_SCIM_RATE_LIMIT_PER_MINUTE = 6000;

/** A Node request listener: pass it to http.createServer, or to supertest. */
export type GatewayApp = (req: IncomingMessage, res: ServerResponse) => void;

export function createApp(options: AppOptions): { app: GatewayApp; admin: AdminService } {
  const { store, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.set('views', VIEWS_DIR);
  app.set('view engine', 'ejs');
  app.locals.fmt = formatters;

  // One session store for the sessions and for revoking a deprovisioned user's sessions.
  const sessionStore = store.createSessionStore({ ttlSeconds: Math.ceil(options.sessionIdleMs / 1000) });
  // SCIM is answered before Express sees the request: it is the hot path of a large initial sync (see ./scim). Its
  // requests are logged in the provisioning log (every request, with status and duration) rather than the access
  // log; provisioning clients get JSON only (no pages to protect with CSP and frame rules; the endpoint sets nosniff
  // itself) and have no session.
  const scim = scimEndpoint({
    store,
    credentials: new ScimCredentials(store),
    sessions: sessionStore,
    logger,
    baseUrl: options.baseUrl,
    rateLimitPerMinute: options.scimRateLimitPerMinute ?? DEFAULT_SCIM_RATE_LIMIT_PER_MINUTE,
  });
  app.use(
    pinoHttp({
      logger,
      // Only method, path and status: query strings may carry SAMLRequest/RelayState, headers carry tokens.
      serializers: {
        req: (req: { method: string; url: string; id: unknown }) => ({ id: req.id, method: req.method, path: req.url.split('?')[0] }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/readyz' },
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
        },
      },
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    try {
      await store.ping();
      res.json({ status: 'ready', store: store.kind });
    } catch {
      res.status(503).json({ error: { code: 'store_unavailable', message: 'The store is not reachable.' } });
    }
  });
  app.use('/static', express.static(path.join(VIEWS_DIR, 'static'), { maxAge: '1h', index: false }));

  const admin = new AdminService({
    store,
    baseUrl: options.baseUrl,
    allowPrivateMetadataUrls: options.allowPrivateMetadataUrls,
    logger,
  });
  app.use('/api', express.json({ limit: ADMIN_BODY_LIMIT, type: ['application/json', 'application/*+json'] }));

  const pp = createPassport(store);
  pp.use(samlStrategy(store, options.saml));
  app.use(
    sessionMiddleware({
      store,
      sessionStore,
      secret: options.sessionSecret,
      secureCookies: options.baseUrl.startsWith('https:'),
      idleMs: options.sessionIdleMs,
      absoluteMs: options.sessionAbsoluteMs,
    }),
  );
  app.use(pp.initialize());
  app.use(pp.session());

  const signInRateLimit = rateLimit({
    windowMs: 60_000,
    limit: options.acsRateLimitPerMinute,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (req, res) =>
      sendError(req, res, { status: 429, code: 'rate_limited', message: 'Too many sign-in attempts. Wait a minute and try again.' }),
  });
  app.use(
    ssoRouter({
      store,
      saml: options.saml,
      passport: pp,
      logger,
      rateLimit: signInRateLimit,
      acsBodyParser: express.urlencoded({ extended: false, limit: ACS_BODY_LIMIT, parameterLimit: 10 }),
      sessions: sessionStore,
    }),
  );
  const adminPolicy = { tenant: options.adminTenant ?? null, group: options.adminGroup ?? null };
  app.use((req, res, next) => {
    // Lets any page (e.g. /me) offer the console to admins.
    res.locals.consoleAdmin = consoleAdminOf(req, adminPolicy);
    next();
  });
  app.use(sessionRouter({ startIdpLogout: idpLogoutStarter(store, options.saml) }));
  app.use(loginRouter(store));
  app.use(
    consoleRouter({
      store,
      admin,
      saml: options.saml,
      baseUrl: options.baseUrl,
      policy: adminPolicy,
      spCertPem: options.spCertPem ?? null,
      allowPrivateMetadataUrls: options.allowPrivateMetadataUrls,
    }),
  );
  app.use('/api', adminApiRouter(admin, options.adminApiKey));
  app.get('/', (_req, res) => {
    res.redirect(302, '/me');
  });

  app.use(notFound);
  app.use(errorHandler);
  const gateway: GatewayApp = (req, res) => scim(req, res, () => app(req, res));
  return { app: gateway, admin };
}
