/**
 * The SCIM 2.0 endpoint (/scim/v2) and the OAuth 2.0 client-credentials token endpoint (/scim/oauth/token).
 *
 * Served on Node's own request and response objects, not through Express: this is the hot path of an initial sync
 * (thousands of requests a second), and Express re-prototypes every request and response, which costs more than
 * everything else a SCIM request does outside the store and keeps each request's objects alive until a full GC
 * (long young-generation pauses: the lookup p99). The gateway's request handler (./app) sends /scim/v2 and
 * /scim/oauth/token here and everything else to Express. Bodies are read with body-parser, as Express would.
 *
 * Per request, in order: bearer token -> connection and tenant (the token alone selects them; failed attempts are
 * limited per address, FAILED_AUTH_PER_MINUTE), a rate limit per token (429 with Retry-After), the content type (application/scim+json or application/json), a 1 MB body limit,
 * then the reconciler (src/provisioning/scim.ts). Every answer is application/scim+json; every failure uses the SCIM
 * error schema (toScimErrorBody). Every request is written to the provisioning log (method, path, status, duration,
 * outcome, token id; never the token or a body), in one write with the changes it made.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseQueryString } from 'node:querystring';
import bodyParser from 'body-parser';
import type { Logger } from '../common/log';
import { ScimReconciler, type ScimResult } from '../provisioning/scim';
import type { EventOutcome } from '../provisioning/types';
import { scimSettingsOf } from '../provisioning/types';
import { ScimCredentials, type Authenticated, type AuthFailure, type OAuthClientRef } from '../scim/credentials';
import { ScimError, toScimErrorBody } from '../scim/errors';
import { resourceTypeDocument, resourceTypesDocument, schemaDocument, schemasDocument, ScimSchemaRegistry, serviceProviderConfig } from '../scim/schemas';
import type { NewEvent, RevocableSessionStore, ScimToken, Store } from '../store/ports';
import { RateLimiter } from './rate-limit';

export const SCIM_CONTENT_TYPE = 'application/scim+json';
/**
 * Failed authentications per minute from one address (the connecting socket's, whatever proxy headers say). Only
 * failures count and a valid token is never refused by it, so a provisioning service sharing an address with a
 * misconfigured one is unaffected. Beyond it: 429, and only the first refusal of the minute is logged, so requests
 * without a valid token cannot grow the provisioning log without bound.
 */
export const FAILED_AUTH_PER_MINUTE = 100;
export const SCIM_BODY_LIMIT = '1mb';
const ACCEPTED_BODY_TYPES = [SCIM_CONTENT_TYPE, 'application/json'];

export interface ScimEndpointOptions {
  store: Store;
  credentials: ScimCredentials;
  /** The session store whose destroyByUser signs a disabled or deleted user out everywhere. */
  sessions: Pick<RevocableSessionStore, 'destroyByUser'>;
  logger: Logger;
  /** Public origin (BASE_URL). */
  baseUrl: string;
  rateLimitPerMinute: number;
}

/** A request handler that answers the SCIM paths and passes anything else to `next`. */
export type ScimEndpoint = (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

/** Whether a request path (no query) belongs to the SCIM endpoint. */
function scimPathKind(pathname: string): 'v2' | 'oauth' | null {
  const lower = pathname.toLowerCase();
  if (lower === '/scim/v2' || lower.startsWith('/scim/v2/')) return 'v2';
  if (lower === '/scim/oauth/token' || lower === '/scim/oauth/token/') return 'oauth';
  return null;
}

/** One SCIM request: what the log entry and the answer need. */
interface ScimExchange {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The path as sent, without the query string. */
  path: string;
  /** The raw query string (after '?'), '' when none. */
  search: string;
  started: number;
  auth?: Authenticated;
  /** Why the bearer token was refused (401); with the token when it exists (expired, revoked). */
  authFailure?: { reason: AuthFailure; token?: ScimToken };
  events: NewEvent[];
  /** Parsed by body-parser (POST, PUT, PATCH). */
  body?: unknown;
  /** Not written to the provisioning log (a failed authentication beyond FAILED_AUTH_PER_MINUTE, after the first). */
  unlogged?: boolean;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;
const BASIC = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i;

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

/** The media type of the request body (no parameters, lower case), or null when the request names none. */
function mediaTypeOf(req: IncomingMessage): string | null {
  const header = req.headers['content-type'];
  if (!header) return null;
  const semicolon = header.indexOf(';');
  return (semicolon === -1 ? header : header.slice(0, semicolon)).trim().toLowerCase();
}

/** Runs a connect-style middleware (body-parser) and resolves when it calls next. */
function runMiddleware(
  middleware: (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  return new Promise((resolve, reject) => middleware(req, res, (error?: unknown) => (error ? reject(error) : resolve())));
}

interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Matched against the path after /scim/v2, case-insensitively, with an optional trailing slash. */
  pattern: RegExp;
  run: (exchange: ScimExchange, reconciler: ScimReconciler, params: string[]) => Promise<ScimResult>;
}

export function scimEndpoint(options: ScimEndpointOptions): ScimEndpoint {
  const { store, credentials, logger } = options;
  const scimBase = `${options.baseUrl}/scim/v2`;
  const registries = new Map<string, ScimSchemaRegistry>();
  const rateLimiter = new RateLimiter(options.rateLimitPerMinute);
  const failedAuthLimiter = new RateLimiter(FAILED_AUTH_PER_MINUTE);
  const parseJson = bodyParser.json({ limit: SCIM_BODY_LIMIT, type: ACCEPTED_BODY_TYPES, strict: false });
  const parseForm = bodyParser.urlencoded({ extended: false, limit: '16kb', parameterLimit: 10 });

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
  const requestEntry = (exchange: ScimExchange, status: number): NewEvent => {
    const auth = exchange.auth;
    // A refused token that exists (expired, revoked) is logged on its own connection, so its admin sees why the
    // provisioning service is failing; an unknown or missing one belongs to no connection.
    const refused = exchange.authFailure?.token;
    return scimRequestEvent(exchange.method, exchange.path, status, exchange.started, {
      tenantId: auth?.tenant.id ?? refused?.tenantId ?? null,
      connectionId: auth?.connection.id ?? refused?.connectionId ?? null,
      tokenId: auth?.token.id ?? refused?.id ?? null,
      authFailure: exchange.authFailure?.reason,
    });
  };

  const writeLog = async (entries: NewEvent[]): Promise<void> => {
    if (entries.length === 0) return;
    try {
      await store.events.appendMany(entries);
    } catch (error) {
      logger.error({ err: error }, 'SCIM provisioning log write failed');
    }
  };

  /** Answers with the result, never cached: application/scim+json, or `contentType` (the OAuth token endpoint). */
  const send = (res: ServerResponse, result: ScimResult, contentType = SCIM_CONTENT_TYPE): void => {
    if (res.headersSent) return;
    res.statusCode = result.status;
    res.setHeader('Content-Type', `${contentType}; charset=utf-8`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // The only ETag is the resource version (W/"n"), never a body hash a client could mistake for a version.
    if (result.etag) res.setHeader('ETag', result.etag);
    if (result.location) res.setHeader('Location', result.location);
    if (result.body === undefined) {
      res.end();
      return;
    }
    const json = JSON.stringify(result.body);
    res.setHeader('Content-Length', Buffer.byteLength(json, 'utf8'));
    res.end(json);
  };

  /**
   * Writes the request's log entry (after the changes it made) and sends the response. A `logged` result's entry
   * was stored with its change (ScimReconciler's requestLog), in the same transaction. A change or a refusal is in
   * the log before it is answered; a successful read changed nothing, so its entry is written just after its answer
   * (in the group commit of the same turn), which keeps a commit off the latency of every lookup.
   */
  const finish = async (exchange: ScimExchange, result: ScimResult): Promise<void> => {
    const { res } = exchange;
    const status = result.status;
    const pending = exchange.unlogged ? [] : result.logged ? exchange.events : [...exchange.events, requestEntry(exchange, status)];
    const readOnly = (exchange.method === 'GET' || exchange.method === 'HEAD') && status < 400 && exchange.events.length === 0;
    if (!readOnly) await writeLog(pending);
    send(res, result);
    if (readOnly) await writeLog(pending);
  };

  const fail = (exchange: ScimExchange, error: unknown): Promise<void> => {
    const body = toScimErrorBody(error);
    const status = Number(body.status);
    if (status >= 500) logger.error({ err: error, path: exchange.path }, 'SCIM request failed');
    if (status === 401 && !exchange.res.headersSent) exchange.res.setHeader('WWW-Authenticate', 'Bearer realm="gatehouse-scim"');
    return finish(exchange, { status, body });
  };

  const ok = <T>(body: T): ScimResult<T> => ({ status: 200, body });
  const query = (exchange: ScimExchange): Record<string, unknown> => parseQueryString(exchange.search);
  const ifMatch = (exchange: ScimExchange): string | undefined => {
    const value = exchange.req.headers['if-match'];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  const registry = (exchange: ScimExchange) => registryOf(exchange.auth!);

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/ServiceProviderConfig\/?$/i, run: async () => ok(withOAuth(serviceProviderConfig(scimBase), options.baseUrl)) },
    { method: 'GET', pattern: /^\/ResourceTypes\/?$/i, run: async (x) => ok(resourceTypesDocument(registry(x), scimBase)) },
    {
      method: 'GET',
      pattern: /^\/ResourceTypes\/([^/]+)\/?$/i,
      run: async (x, _rec, [id]) => {
        const doc = resourceTypeDocument(registry(x), scimBase, id!);
        if (!doc) throw new ScimError(404, undefined, `No resource type "${id}".`);
        return ok(doc);
      },
    },
    { method: 'GET', pattern: /^\/Schemas\/?$/i, run: async (x) => ok(schemasDocument(registry(x), scimBase)) },
    {
      method: 'GET',
      pattern: /^\/Schemas\/([^/]+)\/?$/i,
      run: async (x, _rec, [urn]) => {
        const doc = schemaDocument(registry(x), scimBase, urn!);
        if (!doc) throw new ScimError(404, undefined, `No schema "${urn}".`);
        return ok(doc);
      },
    },

    { method: 'GET', pattern: /^\/Users\/?$/i, run: async (x, rec) => ok(await rec.listUsers(query(x))) },
    { method: 'POST', pattern: /^\/Users\/?$/i, run: (x, rec) => rec.createUser(x.body) },
    { method: 'GET', pattern: /^\/Users\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.getUser(id!, query(x)) },
    { method: 'PUT', pattern: /^\/Users\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.replaceUser(id!, x.body, ifMatch(x)) },
    { method: 'PATCH', pattern: /^\/Users\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.patchUser(id!, x.body, ifMatch(x)) },
    { method: 'DELETE', pattern: /^\/Users\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.deleteUser(id!, ifMatch(x)) },

    { method: 'GET', pattern: /^\/Groups\/?$/i, run: async (x, rec) => ok(await rec.listGroups(query(x))) },
    { method: 'POST', pattern: /^\/Groups\/?$/i, run: (x, rec) => rec.createGroup(x.body) },
    { method: 'GET', pattern: /^\/Groups\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.getGroup(id!, query(x)) },
    { method: 'PUT', pattern: /^\/Groups\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.replaceGroup(id!, x.body, ifMatch(x)) },
    { method: 'PATCH', pattern: /^\/Groups\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.patchGroup(id!, x.body, ifMatch(x)) },
    { method: 'DELETE', pattern: /^\/Groups\/([^/]+)\/?$/i, run: (x, rec, [id]) => rec.deleteGroup(id!, ifMatch(x)) },
  ];

  /** The route for a method and a path below /scim/v2 (HEAD is answered as GET), with its decoded parameters. */
  const routeOf = (method: string, subpath: string): { route: Route; params: string[] } | null => {
    const wanted = method === 'HEAD' ? 'GET' : method;
    for (const route of routes) {
      if (route.method !== wanted) continue;
      const match = route.pattern.exec(subpath);
      if (!match) continue;
      const params = match.slice(1).map((raw) => {
        try {
          return decodeURIComponent(raw);
        } catch {
          throw new ScimError(400, undefined, `The path segment "${raw}" is not valid URL encoding.`);
        }
      });
      return { route, params };
    }
    return null;
  };

  const serveV2 = async (exchange: ScimExchange): Promise<void> => {
    const { req, res } = exchange;
    // 1. The bearer token selects the connection and tenant.
    const match = BEARER.exec(req.headers.authorization ?? '');
    const result = await credentials.authenticate(match?.[1]);
    if ('failure' in result) {
      const { failure, token } = result;
      exchange.authFailure = { reason: failure, ...(token && (failure === 'expired' || failure === 'revoked') ? { token } : {}) };
      const failures = await failedAuthLimiter.hit(req.socket.remoteAddress ?? 'unknown', res);
      if (failures.exceeded) {
        exchange.unlogged = !failures.firstRefused;
        throw new ScimError(429, 'tooMany', 'Too many failed authentications from this address; retry after the time in Retry-After.');
      }
      throw new ScimError(401, undefined, failure === 'missing' ? 'A bearer token is required.' : 'The bearer token is not valid.');
    }
    exchange.auth = result;

    // 2. Per credential: a long-lived token by its id; OAuth access tokens by their client, so minting new access
    // tokens does not reset the client's budget.
    const { token } = result;
    const limited = await rateLimiter.hit(token.kind === 'access' && token.clientId ? `scim:client:${token.clientId}` : `scim:token:${token.id}`, res);
    rateLimiter.writeHeaders(res, limited);
    if (limited.exceeded) {
      throw new ScimError(429, 'tooMany', 'Too many requests for this token; retry after the time in Retry-After.');
    }

    // 3. The body: JSON in one of the two media types, at most SCIM_BODY_LIMIT.
    if (exchange.method === 'POST' || exchange.method === 'PUT' || exchange.method === 'PATCH') {
      const type = mediaTypeOf(req);
      if (type === null || !ACCEPTED_BODY_TYPES.includes(type)) {
        throw new ScimError(415, undefined, `Send the body as ${SCIM_CONTENT_TYPE} or application/json.`);
      }
      await runMiddleware(parseJson, req, res);
      exchange.body = (req as IncomingMessage & { body?: unknown }).body;
    }

    // 4. The route.
    const found = routeOf(exchange.method, exchange.path.slice('/scim/v2'.length));
    if (!found) throw new ScimError(404, undefined, `No SCIM endpoint ${exchange.method} ${exchange.path}.`);
    const reconciler = new ScimReconciler(
      store,
      { tenant: result.tenant, connection: result.connection, registry: registryOf(result), baseUrl: scimBase },
      { revokeSessions: (userId) => options.sessions.destroyByUser(userId), requestLog: (status) => requestEntry(exchange, status) },
    );
    try {
      const answer = await found.route.run(exchange, reconciler, found.params);
      exchange.events.push(...reconciler.events);
      await finish(exchange, answer);
    } catch (error) {
      // A refused request changes nothing; the changes a failed one made before failing are logged with it.
      exchange.events.push(...reconciler.events);
      throw error;
    }
  };

  // ---- OAuth 2.0 client credentials (RFC 6749 §4.4) ----
  // Logged in the provisioning log like every SCIM request (status, duration, outcome, the client id when it names a
  // known client), never the secret or the token issued.
  const answerOAuth = async (
    exchange: ScimExchange,
    status: number,
    body: Record<string, unknown>,
    client: OAuthClientRef | null,
    refused?: string,
  ): Promise<void> => {
    const { res } = exchange;
    // Every refused token request counts against the address's budget of failures, as failed bearer tokens do.
    let logged = true;
    if (status >= 400) {
      const failures = await failedAuthLimiter.hit(exchange.req.socket.remoteAddress ?? 'unknown', res);
      if (failures.exceeded) {
        logged = failures.firstRefused;
        status = 429;
        body = { error: 'invalid_request', error_description: 'Too many failed requests from this address; retry after the time in Retry-After.' };
      }
    }
    if (logged) {
      await writeLog([
        scimRequestEvent(exchange.method, exchange.path, status, exchange.started, {
          tenantId: client?.tenantId ?? null,
          connectionId: client?.connectionId ?? null,
          tokenId: null,
          clientId: client?.clientId ?? null,
          authFailure: refused,
        }),
      ]);
    }
    if (status === 401 && !res.headersSent) res.setHeader('WWW-Authenticate', 'Basic realm="gatehouse-scim"');
    send(res, { status, body }, 'application/json');
  };

  const serveOAuth = async (exchange: ScimExchange): Promise<void> => {
    const { req, res } = exchange;
    if (exchange.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      return answerOAuth(exchange, 405, { error: 'invalid_request', error_description: 'Use POST.' }, null);
    }
    try {
      await runMiddleware(parseForm, req, res);
    } catch (error) {
      // An unreadable or oversized form body.
      const status = (error as { status?: unknown }).status;
      const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
      const description = code === 413 ? 'The request body is too large.' : code < 500 ? 'The request body could not be read.' : 'Internal server error.';
      return answerOAuth(exchange, code, { error: code < 500 ? 'invalid_request' : 'server_error', error_description: description }, null);
    }
    const body = ((req as IncomingMessage & { body?: unknown }).body ?? {}) as Record<string, unknown>;
    let clientId = typeof body.client_id === 'string' ? body.client_id : undefined;
    let clientSecret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
    const basic = BASIC.exec(req.headers.authorization ?? '');
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) {
        try {
          clientId = decodeURIComponent(decoded.slice(0, colon));
          clientSecret = decodeURIComponent(decoded.slice(colon + 1));
        } catch {
          return answerOAuth(exchange, 400, { error: 'invalid_request', error_description: 'The Basic credentials are not valid.' }, null);
        }
      }
    }
    if (body.grant_type !== 'client_credentials') {
      return answerOAuth(exchange, 400, { error: 'unsupported_grant_type', error_description: 'Only grant_type=client_credentials is supported.' }, null);
    }
    if (!clientId || !clientSecret) {
      const description = 'client_id and client_secret are required (form fields or HTTP Basic).';
      return answerOAuth(exchange, 400, { error: 'invalid_request', error_description: description }, null);
    }
    let issued: Awaited<ReturnType<ScimCredentials['issueAccessToken']>>;
    try {
      issued = await credentials.issueAccessToken(clientId, clientSecret);
    } catch (error) {
      logger.error({ err: error }, 'SCIM OAuth token request failed');
      return answerOAuth(exchange, 500, { error: 'server_error', error_description: 'Internal server error.' }, null);
    }
    if ('refused' in issued) {
      const description = 'Unknown or revoked client, or wrong secret.';
      return answerOAuth(exchange, 401, { error: 'invalid_client', error_description: description }, issued.client, issued.refused);
    }
    return answerOAuth(exchange, 200, { access_token: issued.accessToken, token_type: 'Bearer', expires_in: issued.expiresIn }, issued.client);
  };

  return (req, res, next) => {
    const url = req.url ?? '/';
    const mark = url.indexOf('?');
    const path = mark === -1 ? url : url.slice(0, mark);
    const kind = scimPathKind(path);
    if (!kind) return next();
    const exchange: ScimExchange = {
      req,
      res,
      method: req.method ?? 'GET',
      path,
      search: mark === -1 ? '' : url.slice(mark + 1),
      started: performance.now(),
      events: [],
    };
    const served = kind === 'v2' ? serveV2(exchange).catch((error: unknown) => fail(exchange, error)) : serveOAuth(exchange);
    served.catch((error: unknown) => {
      // Only a failure to answer at all lands here (the log write is already guarded).
      logger.error({ err: error, path }, 'SCIM request could not be answered');
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end();
      }
    });
  };
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
