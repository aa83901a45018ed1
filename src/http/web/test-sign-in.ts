/**
 * "Test sign-in" from the admin console: a real SP-initiated login through the connection (the full ACS pipeline
 * and real provisioning), whose result is recorded for the admin instead of starting a session.
 *
 * Why not a normal login: the ACS regenerates the session, so the admin's console session (often a bootstrap
 * session) would be replaced by the tested user's. The console starts the test by storing a one-time test id
 * (request cache, 15 minutes) and sending the browser to /sso/:connection/login with returnTo
 * /admin/test-sign-in/<id>. The ACS treats a login as a test only when the response answers a request Gatehouse
 * sent (InResponseTo: the returnTo came from the server-side login state, not from the browser) and the test id is
 * claimed atomically for that connection. The result (claims, decision) goes to the provisioning log as a
 * `test_sign_in` event, where the console reads it.
 */
import { randomSecret } from '../../common/secrets';
import type { Connection, ProvisioningEvent } from '../../provisioning/types';
import type { AcceptedAssertion } from '../../saml/types';
import type { Store } from '../../store/ports';

export const TEST_SIGN_IN_PATH = '/admin/test-sign-in/';
export const TEST_SIGN_IN_EVENT = 'test_sign_in';
const TEST_TTL_MS = 15 * 60_000;
const TEST_ID = /^[A-Za-z0-9_-]{16,64}$/;

const pendingKey = (testId: string) => `admin:test-sign-in:${testId}`;

export function testSignInReturnTo(testId: string): string {
  return `${TEST_SIGN_IN_PATH}${testId}`;
}

/** The test id in a returnTo, when it is a test sign-in's. */
export function testIdOf(returnTo: string | null): string | null {
  if (!returnTo?.startsWith(TEST_SIGN_IN_PATH)) return null;
  const id = returnTo.slice(TEST_SIGN_IN_PATH.length);
  return TEST_ID.test(id) ? id : null;
}

/** Called by the console: remembers a new test for this connection and returns its id. */
export async function startTestSignIn(store: Store, connection: Connection, now = new Date()): Promise<string> {
  const testId = randomSecret(18);
  await store.requestCache.put(pendingKey(testId), JSON.stringify({ connectionId: connection.id }), new Date(now.getTime() + TEST_TTL_MS));
  return testId;
}

/**
 * Called by the ACS after the assertion passed every check: the test id when this login is a console test of this
 * connection (claimed once; a second response for the same test is an ordinary login), else null.
 */
export async function claimTestSignIn(store: Store, connection: Connection, assertion: AcceptedAssertion): Promise<string | null> {
  if (assertion.inResponseTo === null) return null; // IdP-initiated: the RelayState came from the browser.
  const testId = testIdOf(assertion.returnTo);
  if (!testId) return null;
  const pending = await store.requestCache.take(pendingKey(testId));
  if (!pending) return null;
  const { connectionId } = JSON.parse(pending) as { connectionId?: string };
  return connectionId === connection.id ? testId : null;
}

export interface TestSignInOutcome {
  decision: 'linked' | 'key' | 'created' | 'refused';
  reason: string | null;
  username: string | null;
  userId: string | null;
  reference: string | null;
}

/** What a test_sign_in event's details hold (read back by the console). */
export interface TestSignInDetails extends TestSignInOutcome {
  testId: string;
  nameId: string;
  nameIdFormat: string | null;
  issuer: string;
  claims: Record<string, string[]>;
}

export async function recordTestSignIn(
  store: Store,
  connection: Connection,
  testId: string,
  assertion: AcceptedAssertion,
  outcome: TestSignInOutcome,
): Promise<void> {
  const details: TestSignInDetails = {
    testId,
    nameId: assertion.nameId,
    nameIdFormat: assertion.nameIdFormat,
    issuer: assertion.issuer,
    claims: assertion.attributes,
    ...outcome,
  };
  await store.events.append({
    tenantId: connection.tenantId,
    connectionId: connection.id,
    channel: 'admin',
    type: TEST_SIGN_IN_EVENT,
    outcome: outcome.decision === 'refused' ? 'refused' : 'success',
    subject: outcome.username,
    reason: outcome.reason,
    details: details as unknown as Record<string, unknown>,
    at: new Date(),
  });
}

/** The recorded result of one test, or of the connection's latest test when no id is given. */
export async function findTestSignIn(store: Store, connectionId: string, testId?: string): Promise<{ event: ProvisioningEvent; details: TestSignInDetails } | null> {
  // The log has no index on details; a test's result is among the connection's recent admin events.
  const events = await store.events.list({ connectionId, channel: 'admin', limit: 200 });
  for (const event of events) {
    if (event.type !== TEST_SIGN_IN_EVENT) continue;
    const details = event.details as unknown as TestSignInDetails;
    if (testId === undefined || details.testId === testId) return { event, details };
  }
  return null;
}
