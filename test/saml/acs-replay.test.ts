/**
 * Replay protection, InResponseTo handling (SP- vs IdP-initiated) and RelayState, through SamlService with a real
 * in-memory store. The concurrent cases are the reason the atomic replay claim exists (design.md 4.4): node-saml's
 * own InResponseTo check reads and later deletes, so two simultaneous POSTs both pass it.
 */
import { inFlightRequestKey } from '../../src/saml/cache-provider';
import { randomRequestId } from '../helpers/test-idp';
import { createAcsHarness, expectRefusal, refusalOf, type AcsHarness } from './acs-harness';

let h: AcsHarness;
beforeEach(async () => {
  h = await createAcsHarness();
});
afterEach(async () => {
  await h.close();
});

describe('replay', () => {
  it('refuses the same response posted twice', async () => {
    const { connection, sp } = h.connection();
    const body = h.idp.postBody(sp);
    await h.saml.validateAcsPost(connection, body);
    await expectRefusal(h.saml.validateAcsPost(connection, body), 'replayed');
  });

  it('lets exactly one of two concurrent posts of the same response through (IdP-initiated)', async () => {
    const { connection, sp } = h.connection();
    const body = h.idp.postBody(sp);
    const results = await Promise.allSettled([h.saml.validateAcsPost(connection, body), h.saml.validateAcsPost(connection, body)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).toMatchObject({ name: 'SamlRefusal', reason: 'replayed' });
  });

  it('lets exactly one of many concurrent posts of the same SP-initiated response through', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/home' });
    const body = h.idp.postBody(sp, { inResponseTo: requestId });
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => h.saml.validateAcsPost(connection, body)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ name: 'SamlRefusal' });
    }
  });

  it('lets exactly one of two different assertions answering the same request through, even concurrently', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, {});
    const first = h.idp.postBody(sp, { inResponseTo: requestId });
    const second = h.idp.postBody(sp, { inResponseTo: requestId });
    const results = await Promise.allSettled([h.saml.validateAcsPost(connection, first), h.saml.validateAcsPost(connection, second)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected?.reason).toMatchObject({ name: 'SamlRefusal', reason: 'unknown_in_response_to' });
  });

  it('keys replay by connection: the same assertion id at two connections is two different assertions', async () => {
    const a = h.connection({ slug: 'contoso' });
    const b = h.connection({ slug: 'fabrikam' });
    const assertionId = '_0f5b9a55-7c44-4b73-9d2c-3a1f6a6c0001';
    await h.saml.validateAcsPost(a.connection, h.idp.postBody(a.sp, { assertionId }));
    await expect(h.saml.validateAcsPost(b.connection, h.idp.postBody(b.sp, { assertionId }))).resolves.toBeDefined();
  });
});

describe('InResponseTo', () => {
  it('refuses an unsolicited response when IdP-initiated login is off', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    await expectRefusal(h.saml.validateAcsPost(connection, h.idp.postBody(sp)), 'unsolicited_response');
  });

  it('refuses an InResponseTo that Gatehouse never issued (IdP-initiated off)', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const body = h.idp.postBody(sp, { inResponseTo: randomRequestId() });
    await expectRefusal(h.saml.validateAcsPost(connection, body), 'unknown_in_response_to');
  });

  it('refuses an InResponseTo that Gatehouse never issued even when IdP-initiated login is on', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: true } });
    const body = h.idp.postBody(sp, { inResponseTo: randomRequestId() });
    await expectRefusal(h.saml.validateAcsPost(connection, body), 'unknown_in_response_to');
  });

  it("refuses the request id of another connection", async () => {
    const a = h.connection({ slug: 'contoso', settings: { allowIdpInitiated: false } });
    const b = h.connection({ slug: 'fabrikam', settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(b.connection, {});
    const body = h.idp.postBody(a.sp, { inResponseTo: requestId });
    await expectRefusal(h.saml.validateAcsPost(a.connection, body), 'unknown_in_response_to');
    // ... and that failed attempt did not consume b's request.
    await expect(h.saml.validateAcsPost(b.connection, h.idp.postBody(b.sp, { inResponseTo: requestId }))).resolves.toMatchObject({
      inResponseTo: requestId,
    });
  });

  it('refuses a Response whose InResponseTo differs from the one inside the signed assertion', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, {});
    const body = h.idp.postBody(sp, { inResponseTo: requestId, subjectInResponseTo: randomRequestId() });
    await expectRefusal(h.saml.validateAcsPost(connection, body), 'unknown_in_response_to');
  });

  it('answers from the signed assertion when the unsigned Response attribute is stripped (IdP-initiated on)', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: true } });
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/reports' });
    const body = h.idp.postBody(sp, { inResponseTo: requestId, tamper: (doc) => doc.documentElement.removeAttribute('InResponseTo') });
    const accepted = await h.saml.validateAcsPost(connection, body);
    expect(accepted).toMatchObject({ inResponseTo: requestId, returnTo: '/reports' });
    // The request is spent: a second assertion carrying it (Response attribute stripped again) is refused.
    const again = h.idp.postBody(sp, { inResponseTo: requestId, tamper: (doc) => doc.documentElement.removeAttribute('InResponseTo') });
    await expectRefusal(h.saml.validateAcsPost(connection, again), 'unknown_in_response_to');
  });

  it('refuses a response to an expired request', async () => {
    const short = await createAcsHarness({ requestTtlMs: 50 });
    try {
      const { connection, sp } = short.connection({ settings: { allowIdpInitiated: false } });
      const { requestId } = await short.saml.createLoginRedirect(connection, {});
      await new Promise((resolve) => setTimeout(resolve, 80));
      await expectRefusal(short.saml.validateAcsPost(connection, short.idp.postBody(sp, { inResponseTo: requestId })), 'unknown_in_response_to');
    } finally {
      await short.close();
    }
  });

  it('surfaces a store failure as an error, not as a refusal', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, {});
    const body = h.idp.postBody(sp, { inResponseTo: requestId });
    await h.store.close();
    const error = await h.saml.validateAcsPost(connection, body).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).name).not.toBe('SamlRefusal');
    h = await createAcsHarness(); // afterEach closes a live store
  });

  it('removes node-saml\'s in-flight entry once the request is answered', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, {});
    expect(await h.store.requestCache.get(inFlightRequestKey(connection.id, requestId))).not.toBeNull();
    await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId }));
    expect(await h.store.requestCache.get(inFlightRequestKey(connection.id, requestId))).toBeNull();
  });
});

describe('RelayState (IdP-initiated)', () => {
  it('uses a local path', async () => {
    const { connection, sp } = h.connection();
    const accepted = await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { relayState: '/reports/q3?tab=2' }));
    expect(accepted.returnTo).toBe('/reports/q3?tab=2');
  });

  it.each(['https://evil.example', '//evil.example', '/\\evil', 'javascript:alert(1)', '/\t/evil.example'])(
    'ignores %j',
    async (relayState) => {
      const { connection, sp } = h.connection();
      const accepted = await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { relayState }));
      expect(accepted.returnTo).toBeNull();
    },
  );

  it('ignores RelayState on an SP-initiated response: the stored returnTo wins', async () => {
    const { connection, sp } = h.connection();
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/dashboard' });
    const accepted = await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId, relayState: '/elsewhere' }));
    expect(accepted.returnTo).toBe('/dashboard');
  });

  it('does not turn a refused response into a redirect', async () => {
    const { connection, sp } = h.connection();
    const refusal = await refusalOf(h.saml.validateAcsPost(connection, h.idp.postBody(sp, { sign: 'none', relayState: '/x' })));
    expect(refusal.reason).toBe('signature_missing');
  });
});
