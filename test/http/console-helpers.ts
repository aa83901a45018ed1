/**
 * A Gatehouse app configured for the admin console (ADMIN_TENANT / ADMIN_GROUP, SP certificate), plus helpers to
 * sign in through a bootstrap link or SAML and to post console forms with their CSRF token.
 */
import request from 'supertest';
import { createBootstrapLink } from '../../src/admin/bootstrap';
import { silentLogger } from '../../src/common/log';
import { createApp } from '../../src/http/app';
import { SamlService } from '../../src/saml/service';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/ports';
import { ADMIN_KEY, BASE_URL, fixture } from '../helpers/gateway';
import type { Express } from 'express';

export const ADMIN_GROUP = '11111111-aaaa-4bbb-8ccc-222222222222';

export interface ConsoleGateway {
  app: Express;
  store: Store;
  close(): Promise<void>;
}

export async function createConsoleGateway(policy: { adminTenant?: string; adminGroup?: string } = { adminTenant: 'ops', adminGroup: ADMIN_GROUP }): Promise<ConsoleGateway> {
  const logger = silentLogger();
  const store = await openStore('sqlite::memory:', { logger });
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
    allowPrivateMetadataUrls: false,
    acsRateLimitPerMinute: 10_000,
    adminTenant: policy.adminTenant ?? null,
    adminGroup: policy.adminGroup ?? null,
    spCertPem: fixture('sp-signing.crt'),
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
