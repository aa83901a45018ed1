/**
 * SAML routes: /sso/:connection/login, /acs and /metadata. The ACS runs the hardened pipeline (src/saml/service)
 * through a small passport strategy, then provisions the account (src/provisioning) and starts a fresh session.
 */
import { Router, type Request, type RequestHandler } from 'express';
import type passport from 'passport';
import type { Logger } from '../common/log';
import { safeLocalPath } from '../common/local-path';
import { provisionIdentity, ProvisioningRefusal } from '../provisioning/identity';
import type { Connection, Tenant } from '../provisioning/types';
import { identityFromAssertion } from '../saml/claims';
import { SamlRefusal } from '../saml/refusal';
import type { SamlService } from '../saml/service';
import type { Store } from '../store/ports';
import { referenceCode, sendError } from './errors';
import type { SessionPrincipal } from './session';
import { claimTestSignIn, recordTestSignIn, testSignInReturnTo } from './web/test-sign-in';

export const SAML_STRATEGY = 'gatehouse-saml';
export const DEFAULT_RETURN_TO = '/me';

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
  connectionId: string;
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
        const principal: SessionPrincipal = { user: result.user, tenant, groups: result.groups };
        return { principal, returnTo: assertion.returnTo, connection };
      };
      run().then(
        ({ principal, returnTo, connection }) => this.success(principal, { returnTo, connectionId: connection.id, isTest: testId !== null } satisfies SignInSuccess),
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
        if (refusal instanceof SamlRefusal && refusal.reason !== 'unknown_connection') {
          void recordRefusal(store, String(req.params.connection), code, reference);
        }
        // An admin's test sign-in shows its refusal on the console's result page, with the claims that caused it.
        if (testResultPath) res.redirect(303, testResultPath);
        else sendError(req, res, { status, code, message: refusal.message }, reference);
        return;
      }
      const { returnTo, connectionId, isTest } = info as SignInSuccess;
      if (isTest) {
        // The admin's session stays as it is: the test result was recorded, no session starts for the tested user.
        res.redirect(303, safeLocalPath(returnTo) ?? DEFAULT_RETURN_TO);
        return;
      }
      // passport regenerates the session on login: a pre-login session id never becomes an authenticated one.
      req.login(principal, { session: true }, (loginError) => {
        if (loginError) return next(loginError);
        req.session.authenticatedAt = Date.now();
        req.session.connectionId = connectionId;
        req.session.save((saveError) => {
          if (saveError) return next(saveError);
          const target = safeLocalPath(returnTo) ?? DEFAULT_RETURN_TO;
          if (req.accepts(['html', 'json']) === 'json') res.json({ ok: true, returnTo: target });
          else res.redirect(303, target);
        });
      });
    })(req, res, next);
  });
  return r;
}

/** Assertion refusals are written to the provisioning log too (provisioning refusals log themselves). */
async function recordRefusal(store: Store, slug: string, reason: string, reference: string): Promise<void> {
  const connection = await store.connections.findBySlug(slug.toLowerCase()).catch(() => null);
  if (!connection) return;
  await store.events
    .append({
      tenantId: connection.tenantId,
      connectionId: connection.id,
      channel: 'saml',
      type: 'login',
      outcome: 'refused',
      subject: null,
      reason,
      details: { reference },
      at: new Date(),
    })
    .catch(() => undefined);
}
