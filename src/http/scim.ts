/**
 * The SCIM 2.0 endpoint (/scim/v2) and the OAuth 2.0 client-credentials token endpoint (/scim/oauth/token).
 *
 * Per request, in order: bearer token -> connection and tenant (the token alone selects them), a rate limit per
 * token (429 with Retry-After), the content type (application/scim+json or application/json), a 1 MB body limit,
 * then the reconciler (src/provisioning/scim.ts). Every answer is application/scim+json; every failure uses the SCIM
 * error schema (toScimErrorBody). Every request is written to the provisioning log (method, path, status, duration,
 * outcome, token id; never the token or a body), in one write with the changes it made.
 */
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import rateLimit from 'express-rate-limit';
import type { Logger } from '../common/log';
import { ScimReconciler, type ScimResult } from '../provisioning/scim';
import type { EventOutcome } from '../provisioning/types';
import { scimSettingsOf } from '../provisioning/types';
import { ScimCredentials, type Authenticated, type AuthFailure, type OAuthClientRef } from '../scim/credentials';
import { ScimError, toScimErrorBody } from '../scim/errors';
import { resourceTypeDocument, resourceTypesDocument, schemaDocument, schemasDocument, ScimSchemaRegistry, serviceProviderConfig } from '../scim/schemas';
import type { NewEvent, RevocableSessionStore, ScimToken, Store } from '../store/ports';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
export const SCIM_BODY_LIMIT = '1mb';

export interface ScimRouterOptions {
  store: Store;
  credentials: ScimCredentials;
  /** The session store whose destroyByUser signs a disabled or deleted user out everywhere. */
  sessions: Pick<RevocableSessionStore, 'destroyByUser'>;
  logger: Logger;
  /** Public origin (BASE_URL). */
  baseUrl: string;
  rateLimitPerMinute: number;
}

interface ScimLocals {
  started: number;
  auth?: Authenticated;
  /** Why the bearer token was refused (401); with the token when it exists (expired, revoked). */
  authFailure?: { reason: AuthFailure; token?: ScimToken };
  events: NewEvent[];
}

function locals(res: Response): ScimLocals {
  return res.locals as ScimLocals;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/** Milliseconds since `started` (performance.now()), to 0.01 ms. */
function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/** Who a SCIM request's log entry is filed under, and how it authenticated (or why it could not). */
interface RequestParty {
  tenantId: string | null;
  connectionId: string | null;
  tokenId: string | null;
  clientId?: string | null;
  authFailure?: string;
}

/** The provisioning-log entry of one SCIM or OAuth token request (never the token, a secret or the body). */
function scimRequestEvent(method: string, path: string, status: number, started: number, party: RequestParty): NewEvent {
  const outcome: EventOutcome = status >= 500 ? 'error' : status >= 400 ? 'refused' : 'success';
  return {
    tenantId: party.tenantId,
    connectionId: party.connectionId,
    channel: 'scim',
    type: 'scim_request',
    outcome,
    subject: `${method} ${path}`,
    reason: status >= 400 ? String(status) : null,
    details: {
      method,
      path,
      status,
      durationMs: elapsedMs(started),
      tokenId: party.tokenId,
      ...(party.clientId !== undefined ? { clientId: party.clientId } : {}),
      ...(party.authFailure ? { authFailure: party.authFailure } : {}),
    },
    at: new Date(),
  };
}

export function scimRouter(options: ScimRouterOptions): Router {
  const { store, credentials, logger } = options;
  const scimBase = `${options.baseUrl}/scim/v2`;
  const registries = new Map<string, ScimSchemaRegistry>();

  /** The connection's schema registry, built once per connection version. */
  const registryOf = (auth: Authenticated): ScimSchemaRegistry => {
    const key = `${auth.connection.id}:${auth.connection.version}`;
    let registry = registries.get(key);
    if (!registry) {
      if (registries.size > 1000) registries.clear();
      registry = ScimSchemaRegistry.create(scimSettingsOf(auth.connection.settings).extensions);
      registries.set(key, registry);
    }
    return registry;
  };

  /** The request's provisioning-log entry, as of now. */
  const requestEntry = (req: Request, res: Response, status: number): NewEvent => {
    const state = locals(res);
    const auth = state.auth;
    // A refused token that exists (expired, revoked) is logged on its own connection, so its admin sees why the
    // provisioning service is failing; an unknown or missing one belongs to no connection.
    const refused = state.authFailure?.token;
    return scimRequestEvent(req.method, `${req.baseUrl}${req.path}`, status, state.started, {
      tenantId: auth?.tenant.id ?? refused?.tenantId ?? null,
      connectionId: auth?.connection.id ?? refused?.connectionId ?? null,
      tokenId: auth?.token.id ?? refused?.id ?? null,
      authFailure: state.authFailure?.reason,
    });
  };

  /**
   * Writes the request's log entry (after the changes it made) and sends the response. A `logged` result's entry
   * was stored with its change (ScimReconciler's requestLog), in the same transaction.
   */
  const finish = async (req: Request, res: Response, result: ScimResult): Promise<void> => {
    const state = locals(res);
    const status = result.status;
    const pending = result.logged ? state.events : [...state.events, requestEntry(req, res, status)];
    if (pending.length > 0) {
      try {
        await store.events.appendMany(pending);
      } catch (error) {
        logger.error({ err: error }, 'SCIM provisioning log write failed');
      }
    }
    if (res.headersSent) return;
    res.status(status);
    res.set({ 'Content-Type': `${SCIM_CONTENT_TYPE}; charset=utf-8`, 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    // The only ETag is the resource version (W/"n"): res.send would add a body hash to every answer (errors and
    // lists included), which a client could mistake for a version to send back in If-Match.
    if (result.etag) res.set('ETag', result.etag);
    if (result.location) res.location(result.location);
    if (result.body === undefined) {
      res.end();
      return;
    }
    const json = JSON.stringify(result.body);
    res.set('Content-Length', String(Buffer.byteLength(json, 'utf8')));
    res.end(json);
  };

  const fail = (req: Request, res: Response, error: unknown): Promise<void> => {
    const body = toScimErrorBody(error);
    const status = Number(body.status);
    if (status >= 500) logger.error({ err: error, path: req.path }, 'SCIM request failed');
    if (status === 401) res.set('WWW-Authenticate', 'Bearer realm="gatehouse-scim"');
    return finish(req, res, { status, body });
  };

  const handle =
    (fn: (req: Request, res: Response, reconciler: ScimReconciler) => Promise<ScimResult>) =>
    async (req: Request, res: Response): Promise<void> => {
      const state = locals(res);
      const auth = state.auth!;
      const reconciler = new ScimReconciler(
        store,
        { tenant: auth.tenant, connection: auth.connection, registry: registryOf(auth), baseUrl: scimBase },
        { revokeSessions: (userId) => options.sessions.destroyByUser(userId), requestLog: (status) => requestEntry(req, res, status) },
      );
      try {
        const result = await fn(req, res, reconciler);
        state.events.push(...reconciler.events);
        await finish(req, res, result);
      } catch (error) {
        // A refused request changes nothing; the changes a failed one made before failing are logged with it.
        state.events.push(...reconciler.events);
        await fail(req, res, error);
      }
    };

  const r = Router();

  // ---- OAuth 2.0 client credentials (RFC 6749 §4.4) ----
  // Logged in the provisioning log like every SCIM request (status, duration, outcome, the client id when it names a
  // known client), never the secret or the token issued.
  const answerOAuth = async (
    req: Request,
    res: Response,
    status: number,
    body: Record<string, unknown>,
    client: OAuthClientRef | null,
    refused?: string,
  ): Promise<void> => {
    const entry = scimRequestEvent(req.method, req.originalUrl.split('?')[0]!, status, res.locals.started as number, {
      tenantId: client?.tenantId ?? null,
      connectionId: client?.connectionId ?? null,
      tokenId: null,
      clientId: client?.clientId ?? null,
      authFailure: refused,
    });
    try {
      await store.events.appendMany([entry]);
    } catch (error) {
      logger.error({ err: error }, 'SCIM provisioning log write failed');
    }
    if (res.headersSent) return;
    res.status(status).set('Cache-Control', 'no-store');
    if (status === 401) res.set('WWW-Authenticate', 'Basic realm="gatehouse-scim"');
    res.json(body);
  };

  r.post(
    '/oauth/token',
    (_req, res, next) => {
      res.locals.started = performance.now();
      next();
    },
    express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 }),
    async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      let clientId = typeof body.client_id === 'string' ? body.client_id : undefined;
      let clientSecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
      const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.get('authorization') ?? '');
      if (basic) {
        const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon > 0) {
          try {
            clientId = decodeURIComponent(decoded.slice(0, colon));
            clientSecret = decodeURIComponent(decoded.slice(colon + 1));
          } catch {
            return answerOAuth(req, res, 400, { error: 'invalid_request', error_description: 'The Basic credentials are not valid.' }, null);
          }
        }
      }
      if (body.grant_type !== 'client_credentials') {
        return answerOAuth(req, res, 400, { error: 'unsupported_grant_type', error_description: 'Only grant_type=client_credentials is supported.' }, null);
      }
      if (!clientId || !clientSecret) {
        const description = 'client_id and client_secret are required (form fields or HTTP Basic).';
        return answerOAuth(req, res, 400, { error: 'invalid_request', error_description: description }, null);
      }
      let issued: Awaited<ReturnType<ScimCredentials['issueAccessToken']>>;
      try {
        issued = await credentials.issueAccessToken(clientId, clientSecret);
      } catch (error) {
        logger.error({ err: error }, 'SCIM OAuth token request failed');
        return answerOAuth(req, res, 500, { error: 'server_error', error_description: 'Internal server error.' }, null);
      }
      if ('refused' in issued) {
        const description = 'Unknown or revoked client, or wrong secret.';
        return answerOAuth(req, res, 401, { error: 'invalid_client', error_description: description }, issued.client, issued.refused);
      }
      return answerOAuth(req, res, 200, { access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn }, issued.client);
    },
  );
  // An unreadable or oversized form body.
  r.use('/oauth/token', (error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (error as { status?: unknown }).status;
    const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
    const description = code === 413 ? 'The request body is too large.' : code < 500 ? 'The request body could not be read.' : 'Internal server error.';
    void answerOAuth(req, res, code, { error: code < 500 ? 'invalid_request' : 'server_error', error_description: description }, null);
  });

  // ---- /scim/v2 ----
  const v2 = Router();
  v2.use((_req, res, next) => {
    res.locals.started = performance.now();
    res.locals.events = [];
    next();
  });
  v2.use(async (req, res, next) => {
    const match = BEARER.exec(req.get('authorization') ?? '');
    const result = await credentials.authenticate(match?.[1]).catch((error: unknown) => error);
    if (result instanceof Error || !result || 'failure' in (result as object)) {
      if (result instanceof Error) return fail(req, res, result);
      const { failure, token } = result as { failure: AuthFailure; token?: ScimToken };
      locals(res).authFailure = { reason: failure, ...(token && (failure === 'expired' || failure === 'revoked') ? { token } : {}) };
      return fail(req, res, new ScimError(401, undefined, failure === 'missing' ? 'A bearer token is required.' : 'The bearer token is not valid.'));
    }
    locals(res).auth = result as Authenticated;
    next();
  });
  v2.use(
    rateLimit({
      windowMs: 60_000,
      limit: options.rateLimitPerMinute,
      standardHeaders: 'draft-8',
      legacyHeaders: false,
      // Per credential: a long-lived token by its id; OAuth access tokens by their client, so minting new access
      // tokens does not reset the client's budget.
      keyGenerator: (_req, res) => {
        const { token } = locals(res).auth!;
        return token.kind === 'access' && token.clientId ? `scim:client:${token.clientId}` : `scim:token:${token.id}`;
      },
      handler: (req, res) => {
        const reset = (req as Request & { rateLimit?: { resetTime?: Date } }).rateLimit?.resetTime;
        res.set('Retry-After', String(Math.max(1, Math.ceil(((reset?.getTime() ?? Date.now() + 60_000) - Date.now()) / 1000))));
        void fail(req, res, new ScimError(429, 'tooMany', 'Too many requests for this token; retry after the time in Retry-After.'));
      },
    }),
  );
  v2.use((req, res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is([SCIM_CONTENT_TYPE, 'application/json'])) {
      return fail(req, res, new ScimError(415, undefined, `Send the body as ${SCIM_CONTENT_TYPE} or application/json.`));
    }
    next();
  });
  v2.use(express.json({ limit: SCIM_BODY_LIMIT, type: [SCIM_CONTENT_TYPE, 'application/json'], strict: false }));

  const param = (req: Request, name: string): string => String((req.params as Record<string, unknown>)[name]);
  const header = (req: Request, name: string): string | undefined => req.get(name) ?? undefined;
  const query = (req: Request) => req.query as Record<string, unknown>;
  const ok = <T>(body: T): ScimResult<T> => ({ status: 200, body });

  v2.get('/ServiceProviderConfig', handle(async () => ok(withOAuth(serviceProviderConfig(scimBase), options.baseUrl))));
  v2.get('/ResourceTypes', handle(async (_req, res) => ok(resourceTypesDocument(registryOf(locals(res).auth!), scimBase))));
  v2.get(
    '/ResourceTypes/:id',
    handle(async (req, res) => {
      const doc = resourceTypeDocument(registryOf(locals(res).auth!), scimBase, param(req, 'id'));
      if (!doc) throw new ScimError(404, undefined, `No resource type "${req.params.id}".`);
      return ok(doc);
    }),
  );
  v2.get('/Schemas', handle(async (_req, res) => ok(schemasDocument(registryOf(locals(res).auth!), scimBase))));
  v2.get(
    '/Schemas/:urn',
    handle(async (req, res) => {
      const doc = schemaDocument(registryOf(locals(res).auth!), scimBase, param(req, 'urn'));
      if (!doc) throw new ScimError(404, undefined, `No schema "${req.params.urn}".`);
      return ok(doc);
    }),
  );

  v2.get('/Users', handle(async (req, _res, rec) => ok(await rec.listUsers(query(req)))));
  v2.post('/Users', handle(async (req, _res, rec) => rec.createUser(req.body)));
  v2.get('/Users/:id', handle(async (req, _res, rec) => rec.getUser(param(req, 'id'), query(req))));
  v2.put('/Users/:id', handle(async (req, _res, rec) => rec.replaceUser(param(req, 'id'), req.body, header(req, 'if-match'))));
  v2.patch('/Users/:id', handle(async (req, _res, rec) => rec.patchUser(param(req, 'id'), req.body, header(req, 'if-match'))));
  v2.delete('/Users/:id', handle(async (req, _res, rec) => rec.deleteUser(param(req, 'id'), header(req, 'if-match'))));

  v2.get('/Groups', handle(async (req, _res, rec) => ok(await rec.listGroups(query(req)))));
  v2.post('/Groups', handle(async (req, _res, rec) => rec.createGroup(req.body)));
  v2.get('/Groups/:id', handle(async (req, _res, rec) => rec.getGroup(param(req, 'id'), query(req))));
  v2.put('/Groups/:id', handle(async (req, _res, rec) => rec.replaceGroup(param(req, 'id'), req.body, header(req, 'if-match'))));
  v2.patch('/Groups/:id', handle(async (req, _res, rec) => rec.patchGroup(param(req, 'id'), req.body, header(req, 'if-match'))));
  v2.delete('/Groups/:id', handle(async (req, _res, rec) => rec.deleteGroup(param(req, 'id'), header(req, 'if-match'))));

  v2.use((req: Request, res: Response) => {
    void fail(req, res, new ScimError(404, undefined, `No SCIM endpoint ${req.method} ${req.path}.`));
  });
  // Body-parser errors (bad JSON, oversized) and anything else thrown outside a handler.
  v2.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    void fail(req, res, error);
  });

  r.use('/v2', v2);
  return r;
}

/** The ServiceProviderConfig, also naming the OAuth client-credentials token endpoint. */
function withOAuth<T extends { authenticationSchemes: unknown[] }>(config: T, baseUrl: string): T {
  return {
    ...config,
    authenticationSchemes: [
      ...config.authenticationSchemes,
      {
        type: 'oauth2',
        name: 'OAuth 2.0 client credentials',
        description: `POST ${baseUrl}/scim/oauth/token with grant_type=client_credentials and the connection's client id and secret; the access token is valid for one hour.`,
        specUri: 'https://www.rfc-editor.org/info/rfc6749',
        primary: false,
      },
    ],
  };
}
