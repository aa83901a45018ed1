/**
 * Builds a real Gatehouse app for HTTP tests (and the benchmarks): a fresh SQLite store (in memory unless told
 * otherwise), the real SAML service (with a pool of two validation worker threads by default, as in production) and
 * the real gateway app. Nothing is mocked; each call is fully isolated.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { silentLogger, type Logger } from '../../src/common/log';
import { createApp, type GatewayApp } from '../../src/http/app';
import type { AdminService } from '../../src/admin/service';
import { SamlService } from '../../src/saml/service';
import { createValidationPool, type ValidationPool } from '../../src/saml/validation-pool';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/ports';
import { FIXTURES_DIR } from './test-idp';

export const FIXTURES = FIXTURES_DIR;
/** http, so supertest's cookie jar sends the session cookie (a https BASE_URL makes it Secure; tested separately). */
export const BASE_URL = 'http://gatehouse.test';
export const ADMIN_KEY = 'test-admin-key-0123456789abcdefghijklmnop';

export function fixture(name: string): string {
  return readFileSync(path.join(FIXTURES, name), 'utf8');
}

export interface TestGateway {
  app: GatewayApp;
  store: Store;
  saml: SamlService;
  /** The service's validation workers (null with samlWorkers: 0). */
  validationPool: ValidationPool | null;
  admin: AdminService;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  sessionIdleMs?: number;
  sessionAbsoluteMs?: number;
  acsRateLimitPerMinute?: number;
  allowPrivateMetadataUrls?: boolean;
  baseUrl?: string;
  trustProxy?: false | number;
  scimRateLimitPerMinute?: number;
  /** Default: a fresh in-memory database. */
  databaseUrl?: string;
  /** Validation worker threads; default 2, 0 validates on the main thread. */
  samlWorkers?: number;
  logger?: Logger;
}

export async function createTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const logger = options.logger ?? silentLogger();
  const store = await openStore(options.databaseUrl ?? 'sqlite::memory:', { logger });
  const baseUrl = options.baseUrl ?? BASE_URL;
  const validationPool = createValidationPool(options.samlWorkers ?? 2, logger);
  const saml = new SamlService({
    baseUrl,
    spPrivateKeyPem: fixture('sp-signing.key'),
    spCertPem: fixture('sp-signing.crt'),
    replayCache: store.replayCache,
    requestCache: store.requestCache,
    logger,
    validationPool,
  });
  const { app, admin } = createApp({
    store,
    saml,
    logger,
    baseUrl,
    sessionSecret: 'test-session-secret-0123456789abcdefghijklmnop',
    adminApiKey: ADMIN_KEY,
    sessionIdleMs: options.sessionIdleMs ?? 3_600_000,
    sessionAbsoluteMs: options.sessionAbsoluteMs ?? 12 * 3_600_000,
    trustProxy: options.trustProxy ?? false,
    allowPrivateMetadataUrls: options.allowPrivateMetadataUrls ?? false,
    acsRateLimitPerMinute: options.acsRateLimitPerMinute ?? 10_000,
    scimRateLimitPerMinute: options.scimRateLimitPerMinute ?? 100_000,
  });
  return {
    app,
    store,
    saml,
    validationPool,
    admin,
    close: async () => {
      await validationPool?.close();
      await store.close();
    },
  };
}

export const authHeader = { Authorization: `Bearer ${ADMIN_KEY}` };
