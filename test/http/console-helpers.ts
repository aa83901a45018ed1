/**
 * A Gatehouse app configured for the admin console (ADMIN_TENANT / ADMIN_GROUP, SP certificate), plus helpers to
 * sign in through a bootstrap link or SAML and to post console forms with their CSRF token.
 */
import request from 'supertest';
import { createBootstrapLink } from '../../src/admin/bootstrap';
import { silentLogger } from '../../src/common/log';
import { createApp, type GatewayApp } from '../../src/http/app';
import { SamlService } from '../../src/saml/service';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/ports';
import { ADMIN_KEY, BASE_URL, fixture } from '../helpers/gateway';
import { authnRequestIdOf } from '../helpers/test-idp';

export const ADMIN_GROUP = '11111111-aaaa-4bbb-8ccc-222222222222';

export interface ConsoleGateway {
  app: GatewayApp;
  store: Store;
  close(): Promise<void>;
}

export interface ConsoleGatewayOptions {
  adminTenant?: string;
  adminGroup?: string;
  /** Lets the wizard's metadata URL point at a local test server. */
  allowPrivateMetadataUrls?: boolean;
  /** The SP certificate the dashboard reports on (default: the test SP certificate). */
  spCertPem?: string;
  /** Default: a fresh in-memory database. */
  databaseUrl?: string;
}

/** A console gateway; the admin tenant and group default to 'ops' / ADMIN_GROUP, also when other options are given. */
export async function createConsoleGateway(options: ConsoleGatewayOptions = {}): Promise<ConsoleGateway> {
  const policy: ConsoleGatewayOptions = { adminTenant: 'ops', adminGroup: ADMIN_GROUP, ...options };
  const logger = silentLogger();
  const store = await openStore(policy.databaseUrl ?? 'sqlite::memory:', { logger });
  const saml = new SamlService({
    baseUrl: BASE_URL,
    spPrivateKeyPem: fixture('sp-signing.key'),
    spCertPem: fixture('sp-signing.crt'),
    replayCache: store.replayCache,
    requestCache: store.requestCache,
    logger,
  });
  const { app } = createApp({
    store,
    saml,
    logger,
    baseUrl: BASE_URL,
    sessionSecret: 'test-session-secret-0123456789abcdefghijklmnop',
    adminApiKey: ADMIN_KEY,
    sessionIdleMs: 3_600_000,
    sessionAbsoluteMs: 12 * 3_600_000,
    trustProxy: false,
    allowPrivateMetadataUrls: policy.allowPrivateMetadataUrls ?? false,
    acsRateLimitPerMinute: 10_000,
    adminTenant: policy.adminTenant ?? null,
    adminGroup: policy.adminGroup ?? null,
    spCertPem: policy.spCertPem ?? fixture('sp-signing.crt'),
  });
  return { app, store, close: () => store.close() };
}

/** The CSRF token of a console page. */
export function csrfOf(html: string): string {
  const token = /name="_csrf" value="([^"]+)"/.exec(html)?.[1];
  if (!token) throw new Error('no CSRF token on the page');
  return token;
}

/** An agent with a bootstrap admin session. */
export async function bootstrapAgent(gw: ConsoleGateway): Promise<request.Agent> {
  const agent = request.agent(gw.app);
  const { url } = await createBootstrapLink(gw.store.requestCache, BASE_URL);
  const page = await agent.get(new URL(url).pathname + new URL(url).search).expect(200);
  const token = new URL(url).searchParams.get('token')!;
  await agent.post('/admin/bootstrap').type('form').send({ _csrf: csrfOf(page.text), token }).expect(303);
  return agent;
}

/** Posts a console form the way a browser does: fetch the page, then post with its token. */
export async function postForm(agent: request.Agent, pagePath: string, action: string, fields: Record<string, string | string[]>) {
  const page = await agent.get(pagePath).expect(200);
  return agent.post(action).type('form').send({ _csrf: csrfOf(page.text), ...fields });
}

/** Where a "continue" page (meta refresh; continueTo in src/http/web/login.ts) sends the browser. */
export function continueTarget(html: string): string | null {
  const url = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(html)?.[1];
  return url ? url.replace(/&amp;/g, '&') : null;
}

/**
 * The console's "Run a test sign-in" as a browser does it: the form, the continue page, the SP-initiated redirect to
 * the IdP, the IdP's answer (built by `answer` for the AuthnRequest id) posted to the ACS, then the redirects back to
 * the console. Returns the final response (the connection's test page) and the redirect chain.
 */
export async function runTestSignIn(
  agent: request.Agent,
  connection: { id: string; slug: string },
  answer: (authnRequestId: string) => { SAMLResponse: string; RelayState?: string },
): Promise<{ page: request.Response; acs: request.Response; chain: string[] }> {
  const testPage = `/admin/connections/${connection.id}/test`;
  const start = await postForm(agent, testPage, testPage, {});
  if (start.status !== 200) throw new Error(`test start answered ${start.status}`);
  const login = await agent.get(continueTarget(start.text)!).expect(302);
  const requestId = authnRequestIdOf(login.headers.location!);
  const acs = await agent.post(`/sso/${connection.slug}/acs`).type('form').send(answer(requestId));
  const chain: string[] = [];
  let res = acs;
  while (res.status === 302 || res.status === 303) {
    chain.push(res.headers.location!);
    res = await agent.get(res.headers.location!);
  }
  return { page: res, acs, chain };
}
