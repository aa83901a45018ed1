/**
 * The Express application: security headers, logging, body limits, rate limits, sessions, and the routers.
 * Built from explicit dependencies so tests create as many isolated apps as they like.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Express } from 'express';
import rateLimit from 'express-rate-limit';
import helmet from 'helmet';
import { pinoHttp } from 'pino-http';
import { AdminService } from '../admin/service';
import type { Logger } from '../common/log';
import type { SamlService } from '../saml/service';
import type { Store } from '../store/ports';
import { adminApiRouter } from './admin-api';
import { errorHandler, notFound, sendError } from './errors';
import { createPassport, sessionMiddleware, sessionRouter } from './session';
import { samlStrategy, ssoRouter } from './sso';

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
}

/** views/ at the repository root, from src/http (tests) or dist/src/http (built). */
export const VIEWS_DIR = [path.resolve(__dirname, '../../views'), path.resolve(__dirname, '../../../views')].find((dir) =>
  existsSync(path.join(dir, 'error.ejs')),
) ?? path.resolve(__dirname, '../../views');

/** The SAMLResponse is capped inside the pipeline too; this stops oversized bodies before they are buffered. */
export const ACS_BODY_LIMIT = '512kb';
const ADMIN_BODY_LIMIT = '3mb';

export function createApp(options: AppOptions): { app: Express; admin: AdminService } {
  const { store, logger } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', options.trustProxy);
  app.set('views', VIEWS_DIR);
  app.set('view engine', 'ejs');

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
    }),
  );
  app.use(sessionRouter());
  app.use('/api', adminApiRouter(admin, options.adminApiKey));
  app.get('/', (_req, res) => {
    res.redirect(302, '/me');
  });

  app.use(notFound);
  app.use(errorHandler);
  return { app, admin };
}
