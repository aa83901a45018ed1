/**
 * SAML routes: /sso/:connection/login, /acs, /logout and /metadata. The ACS runs the hardened pipeline
 * (src/saml/service) through a small passport strategy, then provisions the account (src/provisioning) and starts a
 * fresh session. /logout is the SingleLogoutService (both bindings): LogoutRequests from the IdP end the user's
 * sessions of this connection, LogoutResponses finish a single logout started by POST /logout.
 */
import { Router, type Request, type RequestHandler, type Response } from 'express';
import type passport from 'passport';
import type { Logger } from '../common/log';
import { safeLocalPath } from '../common/local-path';
import { findAccountByNameId, provisionIdentity, ProvisioningRefusal } from '../provisioning/identity';
import type { Connection, EventOutcome, Tenant } from '../provisioning/types';
import { identityFromAssertion } from '../saml/claims';
import type { LogoutInput } from '../saml/logout-checks';
import { SamlRefusal } from '../saml/refusal';
import type { SamlService } from '../saml/service';
import type { AcceptedLogoutRequest, AcceptedLogoutResponse, SamlSessionSubject } from '../saml/types';
import type { RevocableSessionStore, Store } from '../store/ports';
import { referenceCode, sendError } from './errors';
import { destroySession, type IdpLogoutStarter, type SessionPrincipal } from './session';
import { logoutRefusalCopy } from './web/refusal-copy';
import { claimTestSignIn, recordTestSignIn, testSignInReturnTo } from './web/test-sign-in';

export const SAML_STRATEGY = 'gatehouse-saml';
export const DEFAULT_RETURN_TO = '/me';
/** Where a finished single logout lands (/me shows the signed-out page to a browser without a session). */
export const DEFAULT_SIGNED_OUT = '/me';

interface ResolvedConnection {
  connection: Connection;
  tenant: Tenant;
}

async function resolveConnection(store: Store, slug: string): Promise<ResolvedConnection> {
  const connection = await store.connections.findBySlug(slug.toLowerCase());
  const tenant = connection ? await store.tenants.findById(connection.tenantId) : null;
  if (!connection || !tenant) throw new SamlRefusal('unknown_connection');
  return { connection, tenant };
}

/** What the strategy hands the route when a sign-in is refused. */
interface SignInFailure {
  refusal: SamlRefusal | ProvisioningRefusal;
  /** Shown to the person and written to the provisioning log, so the admin can find the attempt. */
  reference: string;
  /** Set for an admin's test sign-in (src/http/web/test-sign-in): the console page that shows the result. */
  testResultPath: string | null;
}

interface SignInSuccess {
  returnTo: string | null;
  /** A test sign-in: the result was recorded for the admin; no session is started. */
  isTest: boolean;
}

/**
 * The passport strategy: validate the posted response (every check of design.md section 4), provision the
 * identity, and hand passport the principal. Refusals go to `fail` with a SignInFailure, so the route renders them.
 */
export function samlStrategy(store: Store, saml: SamlService): passport.Strategy {
  return {
    name: SAML_STRATEGY,
    authenticate(req: Request) {
      const reference = referenceCode();
      let testId: string | null = null;
      const run = async () => {
        const { connection, tenant } = await resolveConnection(store, String(req.params.connection));
        const assertion = await saml.validateAcsPost(connection, req.body);
        testId = await claimTestSignIn(store, connection, assertion);
        const identity = identityFromAssertion(assertion, { groupsClaim: connection.settings.jit.groupsClaim });
        let result;
        try {
          result = await provisionIdentity(store, { tenant, connection }, identity, { channel: 'saml', reference });
        } catch (error) {
          if (testId && error instanceof ProvisioningRefusal) {
            await recordTestSignIn(store, connection, testId, assertion, { decision: 'refused', reason: error.reason, username: error.subject, userId: null, reference });
          }
          throw error;
        }
        if (testId) {
          await recordTestSignIn(store, connection, testId, assertion, { decision: result.via, reason: null, username: result.user.username, userId: result.user.id, reference: null });
        }
        const samlSubject: SamlSessionSubject = { nameId: assertion.nameId, nameIdFormat: assertion.nameIdFormat, sessionIndex: assertion.sessionIndex };
        const principal: SessionPrincipal = { user: result.user, tenant, groups: result.groups, signIn: { connectionId: connection.id, samlSubject } };
        return { principal, returnTo: assertion.returnTo };
      };
      run().then(
        ({ principal, returnTo }) => this.success(principal, { returnTo, isTest: testId !== null } satisfies SignInSuccess),
        (error: unknown) => {
          if (error instanceof SamlRefusal || error instanceof ProvisioningRefusal) {
            const failure: SignInFailure = { refusal: error, reference, testResultPath: testId ? testSignInReturnTo(testId) : null };
            this.fail(failure as never, 403);
          } else this.error(error);
        },
      );
    },
  } as passport.Strategy;
}

export interface SsoRouterOptions {
  store: Store;
  saml: SamlService;
  passport: passport.PassportStatic;
  logger: Logger;
  rateLimit: RequestHandler;
  acsBodyParser: RequestHandler;
  /** The session store (the one SCIM deprovisioning revokes through): IdP-initiated logout ends sessions with it. */
  sessions: Pick<RevocableSessionStore, 'destroyByUser'>;
}

export function ssoRouter(options: SsoRouterOptions): Router {
  const { store, saml, passport: pp } = options;
  const r = Router();

  r.get('/sso/:connection/metadata', async (req, res) => {
    const { connection } = await resolveConnection(store, String(req.params.connection));
    res.type('application/samlmetadata+xml').send(saml.spMetadataXml(connection));
  });

  r.get('/sso/:connection/login', options.rateLimit, async (req, res) => {
    const { connection } = await resolveConnection(store, String(req.params.connection));
    const returnTo = safeLocalPath(req.query.returnTo) ?? DEFAULT_RETURN_TO;
    const { url } = await saml.createLoginRedirect(connection, { returnTo });
    res.set('Cache-Control', 'no-store').redirect(302, url);
  });

  r.post('/sso/:connection/acs', options.rateLimit, options.acsBodyParser, (req, res, next) => {
    pp.authenticate(SAML_STRATEGY, { session: false }, (error: unknown, principal: SessionPrincipal | false, info: unknown) => {
      if (error) return next(error);
      if (!principal) {
        const { refusal, reference, testResultPath } = info as SignInFailure;
        const code = refusal instanceof SamlRefusal ? refusal.reason : refusal.reason;
        const status = refusal instanceof SamlRefusal ? refusal.status : 403;
        // The log names the reason and the connection; never the assertion.
        req.log?.warn({ connection: req.params.connection, reason: code, detail: (refusal as SamlRefusal).detail, reference }, 'sign-in refused');
        const respond = () => {
          // An admin's test sign-in shows its refusal on the console's result page, with the claims that caused it.
          if (testResultPath) res.redirect(303, testResultPath);
          else sendError(req, res, { status, code, message: refusal.message }, reference);
        };
        // Logged before the page is sent, so the reference on it can always be found in the log.
        if (refusal instanceof SamlRefusal) recordRefusal(store, String(req.params.connection), code, reference).then(respond, next);
        else respond();
        return;
      }
      const { returnTo, isTest } = info as SignInSuccess;
      if (isTest) {
        // The admin's session stays as it is: the test result was recorded, no session starts for the tested user.
        res.redirect(303, safeLocalPath(returnTo) ?? DEFAULT_RETURN_TO);
        return;
      }
      // passport regenerates the session on login (a pre-login session id never becomes an authenticated one) and
      // saves it once, with what the serializer stamps from principal.signIn.
      req.login(principal, { session: true }, (loginError) => {
        if (loginError) return next(loginError);
        const target = safeLocalPath(returnTo) ?? DEFAULT_RETURN_TO;
        if (req.accepts(['html', 'json']) === 'json') res.json({ ok: true, returnTo: target });
        else res.redirect(303, target);
      });
    })(req, res, next);
  });

  // The SingleLogoutService: HTTP-Redirect (GET) and HTTP-POST, rate limited and size capped like the ACS.
  const singleLogout = async (req: Request, res: Response): Promise<void> => {
    const reference = referenceCode();
    const slug = String(req.params.connection);
    let resolved: ResolvedConnection | undefined;
    let message: AcceptedLogoutRequest | AcceptedLogoutResponse;
    try {
      resolved = await resolveConnection(store, slug);
      const input: LogoutInput = req.method === 'GET' ? { binding: 'redirect', rawQuery: rawQueryOf(req) } : { binding: 'post', body: req.body };
      message = await saml.validateLogoutMessage(resolved.connection, input);
    } catch (error) {
      if (!(error instanceof SamlRefusal)) throw error;
      // Nothing was ended. The log names the reason and the connection; never the message.
      req.log?.warn({ connection: slug, reason: error.reason, detail: error.detail, reference }, 'single logout refused');
      if (resolved) await appendLogoutEvent(req, store, resolved.connection, 'refused', error.reason, null, { reference });
      sendError(req, res, { status: error.status, code: error.reason, message: error.message }, reference, { copy: logoutRefusalCopy(error.reason) });
      return;
    }
    res.set('Cache-Control', 'no-store');
    if (message.kind === 'request') await answerLogoutRequest(req, res, resolved, message, options);
    else await finishLogout(req, res, resolved, message, options);
  };
  r.get('/sso/:connection/logout', options.rateLimit, singleLogout);
  r.post('/sso/:connection/logout', options.rateLimit, options.acsBodyParser, singleLogout);
  return r;
}

/**
 * An IdP-initiated LogoutRequest that passed every check: ends every session of the named account that was started
 * through this connection (sessions record the connection at sign-in; a session of the same account through another
 * connection is the other IdP's business), then answers the IdP with a signed LogoutResponse.
 *
 * A NameID that names no account here is answered with Success too: the state the IdP asks for (no session of that
 * principal at this SP) holds, and SAML leaves the case open. The provisioning log records it as `unknown_principal`
 * (outcome info), so an admin can see a NameID Gatehouse could not map (see findAccountByNameId for when that happens).
 */
async function answerLogoutRequest(
  req: Request,
  res: Response,
  { connection, tenant }: ResolvedConnection,
  message: AcceptedLogoutRequest,
  options: SsoRouterOptions,
): Promise<void> {
  const { store, saml } = options;
  const user = await findAccountByNameId(store, { tenant, connection }, message.nameId);
  let sessionsEnded = 0;
  if (user) {
    sessionsEnded = await options.sessions.destroyByUser(user.id, { connectionId: connection.id });
    // An HTTP-Redirect request is a top-level GET, so the browser's own (Lax) session cookie came with it: if it is one
    // of the sessions just ended, drop it from this request too, so that finishing the response cannot write it back.
    if (req.user?.user.id === user.id && req.session.connectionId === connection.id) {
      await destroySession(req, res);
    }
  }
  await appendLogoutEvent(req, store, connection, user ? 'success' : 'info', user ? 'idp_logout' : 'unknown_principal', user?.username ?? message.nameId, {
    binding: message.binding,
    sessionsEnded,
  });

  const url = await saml.createLogoutResponseRedirect(connection, message);
  if (url) {
    res.redirect(303, url);
    return;
  }
  // The IdP's metadata names no SingleLogoutService we can answer on: nothing to send back, say it is done.
  res.status(200);
  if (req.accepts(['html', 'json']) === 'json') res.json({ loggedOut: true });
  else res.render('signed-out', { title: 'Signed out', signedOut: true });
}

/** The IdP's LogoutResponse to our LogoutRequest (its id taken from the request cache): the single logout is complete. */
async function finishLogout(
  req: Request,
  res: Response,
  { connection }: ResolvedConnection,
  message: AcceptedLogoutResponse,
  options: SsoRouterOptions,
): Promise<void> {
  await appendLogoutEvent(req, options.store, connection, 'success', 'idp_confirmed', null, { binding: message.binding });
  // A local path only (stored with our request, else a local RelayState): never an open redirect.
  res.redirect(303, safeLocalPath(message.returnTo) ?? DEFAULT_SIGNED_OUT);
}

async function appendLogoutEvent(
  req: Request,
  store: Store,
  connection: Connection,
  outcome: EventOutcome,
  reason: string,
  subject: string | null,
  details: Record<string, unknown>,
): Promise<void> {
  try {
    await store.events.append({ tenantId: connection.tenantId, connectionId: connection.id, channel: 'saml', type: 'logout', outcome, subject, reason, details, at: new Date() });
  } catch (error) {
    // The sessions are already ended; a log entry that could not be written does not undo that or stop the answer.
    req.log?.error({ err: error, connection: connection.slug }, 'could not write the single logout to the provisioning log');
  }
}

/** The query string exactly as received (the HTTP-Redirect binding's signature covers its raw tokens). */
function rawQueryOf(req: Request): string {
  const index = req.originalUrl.indexOf('?');
  return index === -1 ? '' : req.originalUrl.slice(index + 1);
}

/**
 * SP-initiated single logout for POST /logout: when the session's connection has singleLogout on and its IdP an
 * HTTP-Redirect SingleLogoutService, the URL of a signed LogoutRequest naming the sign-in's NameID and SessionIndex.
 */
export function idpLogoutStarter(store: Store, saml: SamlService): IdpLogoutStarter {
  return async ({ connectionId, subject, returnTo }) => {
    const connection = await store.connections.findById(connectionId);
    if (!connection?.settings.singleLogout) return null;
    const redirect = await saml.createLogoutRedirect(connection, subject, { returnTo });
    return redirect?.url ?? null;
  };
}

/**
 * Assertion refusals are written to the provisioning log too (provisioning refusals log themselves), so the
 * reference on the person's error page leads the admin to the attempt. A response posted to a connection that does
 * not exist is logged without a tenant (the console's unfiltered log shows it), with the name that was used.
 */
async function recordRefusal(store: Store, slug: string, reason: string, reference: string): Promise<void> {
  const connection = await store.connections.findBySlug(slug.toLowerCase()).catch(() => null);
  await store.events
    .append({
      tenantId: connection?.tenantId ?? null,
      connectionId: connection?.id ?? null,
      channel: 'saml',
      type: 'login',
      outcome: 'refused',
      subject: null,
      reason,
      details: connection ? { reference } : { reference, connection: slug.slice(0, 100) },
      at: new Date(),
    })
    .catch(() => undefined);
}
