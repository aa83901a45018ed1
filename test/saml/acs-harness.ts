/**
 * Shared set-up for the SAML service suites: a fresh in-memory store, a real SamlService over it and the test IdP.
 * Nothing is mocked.
 *
 * The service validates inline (no worker pool) unless GATEHOUSE_TEST_SAML_WORKERS is set to a number of workers:
 * `GATEHOUSE_TEST_SAML_WORKERS=2 npx jest test/saml` runs every SAML suite through the validation pool.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { silentLogger } from '../../src/common/log';
import type { Connection } from '../../src/provisioning/types';
import { SamlRefusal, type RefusalReason } from '../../src/saml/refusal';
import { SamlService, type SamlServiceOptions } from '../../src/saml/service';
import { ValidationPool } from '../../src/saml/validation-pool';
import { openStore } from '../../src/store';
import type { Store } from '../../src/store/ports';
import { FIXTURES_DIR, spTargetOf, TestIdp, type ConnectionForOptions, type SpTarget } from '../helpers/test-idp';

export const BASE_URL = 'https://gatehouse.test';
export const SP_KEY_PEM = readFileSync(path.join(FIXTURES_DIR, 'sp-signing.key'), 'utf8');
export const SP_CERT_PEM = readFileSync(path.join(FIXTURES_DIR, 'sp-signing.crt'), 'utf8');

export interface AcsHarness {
  store: Store;
  saml: SamlService;
  idp: TestIdp;
  /** A connection for the test IdP (defaults of connectionFor) and the SP target responses are addressed to. */
  connection(options?: Partial<ConnectionForOptions>): { connection: Connection; sp: SpTarget };
  close(): Promise<void>;
}

export async function createAcsHarness(options: Partial<SamlServiceOptions> = {}): Promise<AcsHarness> {
  const logger = silentLogger();
  const store = await openStore('sqlite::memory:', { logger });
  const workers = Number(process.env.GATEHOUSE_TEST_SAML_WORKERS ?? 0);
  const validationPool = workers > 0 ? new ValidationPool({ size: workers, logger }) : null;
  const saml = new SamlService({
    baseUrl: BASE_URL,
    spPrivateKeyPem: SP_KEY_PEM,
    spCertPem: SP_CERT_PEM,
    replayCache: store.replayCache,
    requestCache: store.requestCache,
    logger,
    validationPool,
    ...options,
  });
  const idp = new TestIdp();
  return {
    store,
    saml,
    idp,
    connection(connectionOptions = {}) {
      const connection = idp.connectionFor({ baseUrl: BASE_URL, ...connectionOptions });
      return { connection, sp: spTargetOf(connection, BASE_URL) };
    },
    close: async () => {
      await validationPool?.close();
      await store.close();
    },
  };
}

/** Awaits a promise that must be refused, and returns the refusal (failing the test on acceptance or another error). */
export async function refusalOf(promise: Promise<unknown>): Promise<SamlRefusal> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    if (error instanceof SamlRefusal) return error;
    throw error;
  }
  throw new Error(`expected a SamlRefusal, but the response was accepted: ${JSON.stringify(outcome)}`);
}

/** Asserts the refusal reason (and returns the refusal for further checks). */
export async function expectRefusal(promise: Promise<unknown>, reason: RefusalReason): Promise<SamlRefusal> {
  const refusal = await refusalOf(promise);
  expect({ reason: refusal.reason, detail: refusal.detail }).toEqual({ reason, detail: refusal.detail });
  return refusal;
}
