/**
 * SP-initiated login: the AuthnRequest redirect (HTTP-Redirect binding, optionally signed), the login state kept
 * in the store under the request id (design.md 4.9), and the round trip through the ACS.
 */
import { createPublicKey, verify } from 'node:crypto';
import querystring from 'node:querystring';
import { inflateRawSync } from 'node:zlib';
import { inFlightRequestKey } from '../../src/saml/cache-provider';
import { parseXmlStrict } from '../../src/saml/xml';
import { DEFAULT_USER } from '../helpers/test-idp';
import { createAcsHarness, expectRefusal, SP_CERT_PEM, type AcsHarness } from './acs-harness';

let h: AcsHarness;
beforeEach(async () => {
  h = await createAcsHarness();
});
afterEach(async () => {
  await h.close();
});

function authnRequestOf(url: string): Element {
  const encoded = new URL(url).searchParams.get('SAMLRequest');
  if (!encoded) throw new Error('no SAMLRequest');
  return parseXmlStrict(inflateRawSync(Buffer.from(encoded, 'base64')).toString('utf8'), 'AuthnRequest').documentElement;
}

function child(el: Element, localName: string): Element | undefined {
  return Array.from(el.getElementsByTagNameNS('*', localName))[0];
}

describe('createLoginRedirect', () => {
  it('redirects to the IdP with a deflated AuthnRequest whose ID is remembered in the request cache', async () => {
    const { connection, sp } = h.connection();
    const { url, requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/reports' });

    const target = new URL(url);
    expect(`${target.origin}${target.pathname}`).toBe(h.idp.ssoUrl);
    expect(target.searchParams.has('Signature')).toBe(false);
    expect(target.searchParams.has('SigAlg')).toBe(false);
    expect(target.searchParams.has('RelayState')).toBe(false);

    const request = authnRequestOf(url);
    expect(request.localName).toBe('AuthnRequest');
    expect(request.getAttribute('ID')).toBe(requestId);
    expect(request.getAttribute('Destination')).toBe(h.idp.ssoUrl);
    expect(request.getAttribute('AssertionConsumerServiceURL')).toBe(sp.acsUrl);
    expect(request.getAttribute('ProtocolBinding')).toBe('urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST');
    expect(child(request, 'Issuer')?.textContent).toBe(connection.spEntityId);
    // Entra: no RequestedAuthnContext (it would force password auth) and no NameID format.
    expect(child(request, 'RequestedAuthnContext')).toBeUndefined();
    expect(child(request, 'NameIDPolicy')?.hasAttribute('Format')).toBe(false);

    expect(await h.store.requestCache.get(inFlightRequestKey(connection.id, requestId))).not.toBeNull();
  });

  it('signs the request with RSA-SHA256 (Signature and SigAlg query parameters) when the connection asks for it', async () => {
    const { connection } = h.connection({ settings: { signAuthnRequests: true } });
    const { url } = await h.saml.createLoginRedirect(connection, {});
    const params = new URL(url).searchParams;
    expect(params.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    const signature = params.get('Signature');
    expect(signature).toBeTruthy();
    // The HTTP-Redirect binding signs "SAMLRequest=...&SigAlg=..." (URL-encoded values, in that order).
    const signedOctets = querystring.stringify({ SAMLRequest: params.get('SAMLRequest'), SigAlg: params.get('SigAlg') });
    const valid = verify('RSA-SHA256', Buffer.from(signedOctets), createPublicKey(SP_CERT_PEM), Buffer.from(signature ?? '', 'base64'));
    expect(valid).toBe(true);
  });

  it('issues a new request id every time', async () => {
    const { connection } = h.connection();
    const a = await h.saml.createLoginRedirect(connection, {});
    const b = await h.saml.createLoginRedirect(connection, {});
    expect(a.requestId).not.toBe(b.requestId);
  });

  it('refuses to build a redirect for an IdP without an HTTP-Redirect SSO endpoint', async () => {
    const { connection } = h.connection();
    const noRedirect = { ...connection, idp: { ...connection.idp, ssoRedirectUrl: null } };
    await expect(h.saml.createLoginRedirect(noRedirect, {})).rejects.toThrow(/single sign-on URL/);
  });
});

describe('SP-initiated round trip', () => {
  it('accepts the response to its request and hands back the stored returnTo, once', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/reports?q=1' });

    const accepted = await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId }));
    expect(accepted).toMatchObject({ inResponseTo: requestId, returnTo: '/reports?q=1', nameId: DEFAULT_USER.upn });

    // A second (fresh, validly signed) assertion answering the same request is refused.
    await expectRefusal(h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId })), 'unknown_in_response_to');
  });

  it('works with a signed AuthnRequest and a signed Response', async () => {
    const { connection, sp } = h.connection({
      settings: { allowIdpInitiated: false, signAuthnRequests: true, wantAuthnResponseSigned: true },
    });
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/' });
    const accepted = await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId, sign: 'both' }));
    expect(accepted).toMatchObject({ inResponseTo: requestId, returnTo: '/' });
  });

  it.each(['https://evil.example/', '//evil.example', '/\\evil'])('never stores a non-local returnTo (%j)', async (returnTo) => {
    const { connection, sp } = h.connection();
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo });
    const accepted = await h.saml.validateAcsPost(connection, h.idp.postBody(sp, { inResponseTo: requestId }));
    expect(accepted.returnTo).toBeNull();
  });

  it('answers a request made before the connection was edited (request state is keyed by connection id, not version)', async () => {
    const { connection, sp } = h.connection({ settings: { allowIdpInitiated: false } });
    const { requestId } = await h.saml.createLoginRedirect(connection, { returnTo: '/a' });
    const edited = { ...connection, version: connection.version + 1, name: 'Renamed' };
    await expect(h.saml.validateAcsPost(edited, h.idp.postBody(sp, { inResponseTo: requestId }))).resolves.toMatchObject({
      returnTo: '/a',
    });
  });
});
