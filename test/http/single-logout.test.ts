/**
 * SAML single logout over HTTP, through the real app: IdP-initiated LogoutRequests on /sso/:connection/logout (both
 * bindings) end the user's sessions of that connection and are answered with a signed LogoutResponse; SP-initiated
 * logout (POST /logout with singleLogout on) ends the local session and sends a signed LogoutRequest to the IdP,
 * whose LogoutResponse lands on the signed-out page. Every refusal ends nothing.
 */
import request from 'supertest';
import { SESSION_COOKIE } from '../../src/http/session';
import { authHeader, BASE_URL, createTestGateway, fixture, type TestGateway } from '../helpers/gateway';
import { NAMEID_FORMAT, readRedirect, STATUS, TestIdp, type SpTarget, type TestUser } from '../helpers/test-idp';

/** An IdP whose SingleLogoutService has its own Location and ResponseLocation (both distinct from its SSO URL). */
const idp = new TestIdp({
  sloUrl: 'https://login.microsoftonline.test/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2/logout',
  sloResponseUrl: 'https://login.microsoftonline.test/72f988bf-86f1-41af-91ab-2d7cd011db47/saml2/logout-response',
});
const SP_CERT = fixture('sp-signing.crt');
const SLO_PATH = '/sso/contoso-entra/logout';
const SLO_URL = `${BASE_URL}${SLO_PATH}`;

const ADELE: Partial<TestUser> = {};
const LEE: Partial<TestUser> = { upn: 'lee.gu@contoso.example', email: 'lee.gu@contoso.example', objectId: '11111111-2222-4333-8444-555555555555', givenName: 'Lee', surname: 'Gu' };

let gw: TestGateway;
let sp: SpTarget;
let connectionId: string;

async function setUp(options: { settings?: Record<string, unknown>; metadataXml?: string } = {}) {
  gw = await createTestGateway();
  await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso' }).expect(201);
  const res = await request(gw.app)
    .post('/api/tenants/contoso/connections')
    .set(authHeader)
    .send({ slug: 'contoso-entra', metadataXml: options.metadataXml ?? idp.metadataXml(), ...options.settings })
    .expect(201);
  expect(res.body.logoutUrl).toBe(SLO_URL);
  sp = { entityId: res.body.spEntityId, acsUrl: res.body.acsUrl };
  connectionId = res.body.id;
}

afterEach(async () => {
  jest.restoreAllMocks();
  await gw?.close();
});

/** A browser signed in through the ACS (IdP-initiated, as the user would be from the My Apps tile). */
async function signIn(user: Partial<TestUser> = ADELE, options: { sessionIndex?: string; target?: SpTarget; slug?: string } = {}) {
  const agent = request.agent(gw.app);
  await agent
    .post(`/sso/${options.slug ?? 'contoso-entra'}/acs`)
    .type('form')
    .send(idp.postBody(options.target ?? sp, { user, ...(options.sessionIndex ? { sessionIndex: options.sessionIndex } : {}) }))
    .expect(303);
  await agent.get('/api/me').expect(200);
  return agent;
}

async function expectSignedIn(agent: ReturnType<typeof request.agent>) {
  await agent.get('/api/me').expect(200);
  await agent.get('/auth/check').expect(200);
}

async function expectSignedOut(agent: ReturnType<typeof request.agent>) {
  await agent.get('/api/me').expect(401);
  await agent.get('/auth/check').expect(401);
}

async function logoutEvents() {
  return (await gw.store.events.list({ connectionId, limit: 50 })).filter((e) => e.type === 'logout');
}

function sessionCookieOf(res: request.Response): string | null {
  const cookies = (res.headers['set-cookie'] as unknown as string[] | undefined) ?? [];
  const c = cookies.find((v) => v.startsWith(`${SESSION_COOKIE}=`));
  return c ? c.split(';')[0]! : null;
}

// ---------------------------------------------------------------------------------------------------------------

describe('IdP-initiated single logout (LogoutRequest)', () => {
  beforeEach(() => setUp());

  it('ends every session of the user through this connection and answers a signed LogoutResponse with the RelayState', async () => {
    const adeleLaptop = await signIn();
    const adelePhone = await signIn();
    const lee = await signIn(LEE);
    const { xml, id } = idp.buildLogoutRequest(SLO_URL, { nameId: 'Adele.Vance@contoso.example' });
    // Characters URLSearchParams and querystring encode differently: the signature must still verify at the IdP.
    const relayState = "idp state (1) ~ it's!";

    const res = await adeleLaptop.get(`${SLO_PATH}?${idp.redirectQuery('SAMLRequest', xml, { relayState })}`);
    expect(res.status).toBe(303);
    expect(res.headers['cache-control']).toBe('no-store');
    const answer = readRedirect(res.headers.location!, SP_CERT);
    expect(answer.endpoint).toBe(idp.sloResponseUrl); // ResponseLocation, not Location
    expect(answer.field).toBe('SAMLResponse');
    expect(answer.signatureValid).toBe(true);
    expect(answer.sigAlg).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
    expect(answer.relayState).toBe(relayState);
    const root = answer.doc.documentElement;
    expect(root.localName).toBe('LogoutResponse');
    expect(root.getAttribute('InResponseTo')).toBe(id);
    expect(root.getAttribute('Destination')).toBe(idp.sloResponseUrl);
    expect(answer.doc.getElementsByTagNameNS('*', 'Issuer')[0]?.textContent).toBe(sp.entityId);
    expect(answer.doc.getElementsByTagNameNS('*', 'StatusCode')[0]?.getAttribute('Value')).toBe(STATUS.success);
    // The browser that carried the request had its cookie cleared as well.
    expect(res.headers['set-cookie']?.toString()).toMatch(new RegExp(`${SESSION_COOKIE}=;`));

    await expectSignedOut(adeleLaptop);
    await expectSignedOut(adelePhone);
    await expectSignedIn(lee);

    const [event] = await logoutEvents();
    expect(event).toMatchObject({
      channel: 'saml',
      type: 'logout',
      outcome: 'success',
      reason: 'idp_logout',
      subject: 'adele.vance@contoso.example',
      details: { binding: 'redirect', sessionsEnded: 2 },
    });
    expect(JSON.stringify(event)).not.toContain(id);
  });

  it('accepts the HTTP-POST binding', async () => {
    const adele = await signIn();
    const built = idp.buildLogoutRequest(SLO_URL);
    const res = await request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLRequest', built, { relayState: 'rs-1' }));
    expect(res.status).toBe(303);
    const answer = readRedirect(res.headers.location!, SP_CERT);
    expect(answer.signatureValid).toBe(true);
    expect(answer.relayState).toBe('rs-1');
    expect(answer.doc.documentElement.getAttribute('InResponseTo')).toBe(built.id);
    await expectSignedOut(adele);
    expect((await logoutEvents())[0]).toMatchObject({ outcome: 'success', details: { binding: 'post', sessionsEnded: 1 } });
  });

  it('finds the account by a persistent NameID through the identity link', async () => {
    const adele = await signIn();
    const { xml } = idp.buildLogoutRequest(SLO_URL, { nameId: '9f4e6a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b', nameIdFormat: NAMEID_FORMAT.persistent });
    await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLRequest', xml)}`).expect(303);
    await expectSignedOut(adele);
  });

  it('leaves the sessions the same account started through another connection', async () => {
    const other = await request(gw.app)
      .post('/api/tenants/contoso/connections')
      .set(authHeader)
      .send({ slug: 'contoso-okta', metadataXml: idp.metadataXml() })
      .expect(201);
    const viaOther = await signIn(ADELE, { slug: 'contoso-okta', target: { entityId: other.body.spEntityId, acsUrl: other.body.acsUrl } });
    const viaThis = await signIn();
    const { xml } = idp.buildLogoutRequest(SLO_URL);
    await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLRequest', xml)}`).expect(303);
    await expectSignedOut(viaThis);
    await expectSignedIn(viaOther);
  });

  it('answers Success for a NameID it does not know, ending nothing, and logs unknown_principal', async () => {
    const adele = await signIn();
    const { xml, id } = idp.buildLogoutRequest(SLO_URL, { nameId: 'nobody@contoso.example' });
    const res = await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLRequest', xml)}`).expect(303);
    const answer = readRedirect(res.headers.location!, SP_CERT);
    expect(answer.signatureValid).toBe(true);
    expect(answer.doc.documentElement.getAttribute('InResponseTo')).toBe(id);
    expect(answer.doc.getElementsByTagNameNS('*', 'StatusCode')[0]?.getAttribute('Value')).toBe(STATUS.success);
    await expectSignedIn(adele);
    expect((await logoutEvents())[0]).toMatchObject({ outcome: 'info', reason: 'unknown_principal', subject: 'nobody@contoso.example', details: { sessionsEnded: 0 } });
  });

  it('answers 200 with a page when the IdP has no SingleLogoutService', async () => {
    await gw.close();
    await setUp({ metadataXml: idp.metadataXml({ singleLogout: false }) });
    const adele = await signIn();
    const { xml } = idp.buildLogoutRequest(SLO_URL);
    const res = await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLRequest', xml)}`).set('Accept', 'text/html');
    expect(res.status).toBe(200);
    expect(res.text).toContain('You have been signed out');
    await expectSignedOut(adele);
  });

  describe('refusals end no session', () => {
    let adele: ReturnType<typeof request.agent>;
    beforeEach(async () => {
      adele = await signIn();
    });

    /** Sends the query from the signed-in browser itself (the worst case) and expects a refusal with `code`. */
    async function expectRedirectRefused(query: string, code: string, status = 400) {
      const res = await adele.get(`${SLO_PATH}?${query}`).set('Accept', 'application/json');
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(code);
      expect(res.body.error.reference).toMatch(/^[0-9A-F]{8}$/);
      expect(res.headers.location).toBeUndefined();
      await expectSignedIn(adele);
      return res;
    }

    async function expectPostRefused(form: Record<string, string>, code: string) {
      const res = await request(gw.app).post(SLO_PATH).set('Accept', 'application/json').type('form').send(form);
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
      await expectSignedIn(adele);
    }

    it('refuses an unsigned request (HTTP-Redirect and HTTP-POST)', async () => {
      const built = idp.buildLogoutRequest(SLO_URL);
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', built.xml, { sign: false }), 'signature_missing');
      await expectPostRefused(idp.postForm('SAMLRequest', built, { sign: false }), 'signature_missing');
    });

    it('refuses a request signed with a key that is not the IdP’s (HTTP-Redirect and HTTP-POST)', async () => {
      const built = idp.buildLogoutRequest(SLO_URL);
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', built.xml, { key: 'idp-rogue' }), 'signature_invalid');
      await expectPostRefused(idp.postForm('SAMLRequest', built, { key: 'idp-rogue' }), 'signature_invalid');
    });

    it('refuses a request changed after signing', async () => {
      const genuine = idp.buildLogoutRequest(SLO_URL, { nameId: 'someone.else@contoso.example' });
      const forged = idp.buildLogoutRequest(SLO_URL);
      const signedQuery = idp.redirectQuery('SAMLRequest', genuine.xml);
      const forgedMessage = idp.redirectQuery('SAMLRequest', forged.xml, { sign: false });
      await expectRedirectRefused(signedQuery.replace(/^SAMLRequest=[^&]*/, forgedMessage), 'signature_invalid');
    });

    it('refuses a request from another issuer', async () => {
      const { xml } = idp.buildLogoutRequest(SLO_URL, { issuer: 'https://sts.windows.net/00000000-0000-0000-0000-000000000000/' });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', xml), 'unknown_issuer');
      const missing = idp.buildLogoutRequest(SLO_URL, { issuer: null });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', missing.xml), 'unknown_issuer');
    });

    it('refuses a request addressed elsewhere, or to no Destination', async () => {
      const elsewhere = idp.buildLogoutRequest(SLO_URL, { destination: 'https://other-app.example/saml/logout' });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', elsewhere.xml), 'destination_mismatch');
      const nowhere = idp.buildLogoutRequest(SLO_URL, { destination: null });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', nowhere.xml), 'destination_mismatch');
    });

    it('honours NotOnOrAfter, and refuses a request issued too long ago', async () => {
      const now = Date.now();
      const expired = idp.buildLogoutRequest(SLO_URL, { issueInstant: new Date(now - 60_000), notOnOrAfter: new Date(now - 4 * 60_000) });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', expired.xml), 'expired');
      const old = idp.buildLogoutRequest(SLO_URL, { issueInstant: new Date(now - 20 * 60_000), notOnOrAfter: null });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', old.xml), 'expired');
    });

    it('refuses SHA-1 signatures unless the connection allows them', async () => {
      const { xml } = idp.buildLogoutRequest(SLO_URL);
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', xml, { signatureAlgorithm: 'sha1' }), 'weak_algorithm');
    });

    it('refuses a replayed request', async () => {
      const { xml } = idp.buildLogoutRequest(SLO_URL);
      const query = idp.redirectQuery('SAMLRequest', xml);
      await request(gw.app).get(`${SLO_PATH}?${query}`).expect(303);
      await expectSignedOut(adele);
      adele = await signIn();
      await expectRedirectRefused(query, 'replayed');
    });

    it('refuses a DOCTYPE, a repeated parameter, a message of the wrong type and an unknown connection', async () => {
      const doctype = idp.buildLogoutRequest(SLO_URL, { prolog: '<!DOCTYPE x [<!ENTITY e "x">]>' });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', doctype.xml), 'doctype_forbidden');
      const { xml } = idp.buildLogoutRequest(SLO_URL);
      const query = idp.redirectQuery('SAMLRequest', xml);
      await expectRedirectRefused(`${query}&${query.split('&')[0]}`, 'malformed_response');
      const response = idp.buildLogoutResponse(SLO_URL, { inResponseTo: '_x' });
      await expectRedirectRefused(idp.redirectQuery('SAMLRequest', response.xml), 'malformed_response');
      await expectRedirectRefused('', 'missing_response');
      const unknown = await request(gw.app).get(`/sso/nope/logout?${query}`).set('Accept', 'application/json');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('unknown_connection');
      await expectSignedIn(adele);
    });

    it('shows browsers a sign-out refusal page and logs the refusal with its reference', async () => {
      const { xml } = idp.buildLogoutRequest(SLO_URL);
      const res = await adele.get(`${SLO_PATH}?${idp.redirectQuery('SAMLRequest', xml, { sign: false })}`).set('Accept', 'text/html');
      expect(res.status).toBe(400);
      expect(res.headers['content-type']).toMatch(/text\/html/);
      expect(res.text).toContain('couldn’t complete the sign-out');
      expect(res.text).toContain('signature_missing');
      const reference = /data-testid="reference">([0-9A-F]{8})</.exec(res.text)?.[1];
      expect(reference).toBeDefined();
      await new Promise((r) => setTimeout(r, 20)); // the refusal is logged without delaying the answer
      expect((await logoutEvents())[0]).toMatchObject({ outcome: 'refused', reason: 'signature_missing', details: { reference } });
      await expectSignedIn(adele);
    });

    it('caps the size of the message like the ACS', async () => {
      const res = await request(gw.app).post(SLO_PATH).set('Accept', 'application/json').type('form').send({ SAMLRequest: 'A'.repeat(600 * 1024) });
      expect(res.status).toBe(413);
      await expectSignedIn(adele);
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('SP-initiated single logout (POST /logout)', () => {
  async function enableSingleLogout() {
    await request(gw.app).patch(`/api/connections/${connectionId}`).set(authHeader).send({ singleLogout: true }).expect(200);
  }

  /** POST /logout from a browser (expects a 303); returns the HTTP response. */
  async function logout(agent: ReturnType<typeof request.agent>, path = '/logout') {
    const res = await agent.post(path).set('Accept', 'text/html');
    expect(res.status).toBe(303);
    return res;
  }

  /** POST /logout from a browser; returns the LogoutRequest the IdP receives (read from the redirect Location). */
  async function sentRequest(agent: ReturnType<typeof request.agent>, path = '/logout') {
    return readRedirect((await logout(agent, path)).headers.location!, SP_CERT);
  }

  beforeEach(() => setUp());

  it('is off by default: POST /logout signs out locally only', async () => {
    const adele = await signIn();
    const res = await logout(adele);
    expect(res.headers.location).toBe('/me');
    await expectSignedOut(adele);
    const json = await signIn();
    await json.post('/logout').set('Accept', 'application/json').expect(204);
  });

  it('ends the local session, then sends a signed LogoutRequest naming the NameID and SessionIndex of the login', async () => {
    await enableSingleLogout();
    const adele = await signIn(ADELE, { sessionIndex: '_session-42' });
    const before = sessionCookieOf(await adele.get('/api/me'));
    const sent = await sentRequest(adele);
    expect(sent.endpoint).toBe(idp.sloUrl); // Location (ResponseLocation is for responses)
    expect(sent.field).toBe('SAMLRequest');
    expect(sent.signatureValid).toBe(true);
    const root = sent.doc.documentElement;
    expect(root.localName).toBe('LogoutRequest');
    expect(root.getAttribute('Destination')).toBe(idp.sloUrl);
    expect(sent.doc.getElementsByTagNameNS('*', 'Issuer')[0]?.textContent).toBe(sp.entityId);
    const nameId = sent.doc.getElementsByTagNameNS('*', 'NameID')[0]!;
    expect(nameId.textContent).toBe('adele.vance@contoso.example');
    expect(nameId.getAttribute('Format')).toBe(NAMEID_FORMAT.email);
    expect(sent.doc.getElementsByTagNameNS('*', 'SessionIndex')[0]?.textContent).toBe('_session-42');

    await expectSignedOut(adele);
    if (before) await request(gw.app).get('/api/me').set('Cookie', before).expect(401);
  });

  it('lands on the signed-out page when the IdP answers with a matching InResponseTo, once', async () => {
    await enableSingleLogout();
    const adele = await signIn();
    const sent = await sentRequest(adele);
    const requestId = sent.doc.documentElement.getAttribute('ID')!;

    const { xml } = idp.buildLogoutResponse(SLO_URL, { inResponseTo: requestId });
    const query = idp.redirectQuery('SAMLResponse', xml);
    const done = await adele.get(`${SLO_PATH}?${query}`);
    expect(done.status).toBe(303);
    expect(done.headers.location).toBe('/me');
    const page = await adele.get('/me').set('Accept', 'text/html').expect(401);
    expect(page.text).toContain('You are not signed in');
    expect((await logoutEvents())[0]).toMatchObject({ outcome: 'success', reason: 'idp_confirmed', details: { binding: 'redirect' } });

    // The request was answered: the same answer again is not one Gatehouse is waiting for.
    const again = await adele.get(`${SLO_PATH}?${query}`).set('Accept', 'application/json');
    expect(again.status).toBe(400);
    expect(again.body.error.code).toBe('unknown_in_response_to');
  });

  it('returns to a local returnTo, over the HTTP-POST binding too', async () => {
    await enableSingleLogout();
    const adele = await signIn();
    const sent = await sentRequest(adele, '/logout?returnTo=/goodbye?x=1');
    const built = idp.buildLogoutResponse(SLO_URL, { inResponseTo: sent.doc.documentElement.getAttribute('ID') });
    const done = await request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLResponse', built)).expect(303);
    expect(done.headers.location).toBe('/goodbye?x=1');
  });

  it('follows a local RelayState but never one that is not a local path', async () => {
    await enableSingleLogout();
    for (const [relayState, expected] of [
      ['/after-logout', '/after-logout'],
      ['https://evil.example/', '/me'],
      ['//evil.example/x', '/me'],
    ] as const) {
      const adele = await signIn();
      const requestId = (await sentRequest(adele)).doc.documentElement.getAttribute('ID');
      const { xml } = idp.buildLogoutResponse(SLO_URL, { inResponseTo: requestId });
      const done = await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLResponse', xml, { relayState })}`).expect(303);
      expect(done.headers.location).toBe(expected);
    }
  });

  it('refuses a LogoutResponse to a request it never sent, or without InResponseTo', async () => {
    await enableSingleLogout();
    const unknown = idp.buildLogoutResponse(SLO_URL, { inResponseTo: '_never-sent' });
    const res = await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLResponse', unknown.xml)}`).set('Accept', 'application/json');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('unknown_in_response_to');
    const none = idp.buildLogoutResponse(SLO_URL, { inResponseTo: null });
    const res2 = await request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLResponse', none.xml)}`).set('Accept', 'application/json');
    expect(res2.body.error.code).toBe('unknown_in_response_to');
  });

  it('refuses an unsigned or foreign-signed LogoutResponse without using up the request', async () => {
    await enableSingleLogout();
    const adele = await signIn();
    const requestId = (await sentRequest(adele)).doc.documentElement.getAttribute('ID');
    const built = idp.buildLogoutResponse(SLO_URL, { inResponseTo: requestId });
    const refused = async (form: () => request.Test, code: string) => {
      const res = await form().set('Accept', 'application/json');
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe(code);
    };
    await refused(() => request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLResponse', built.xml, { sign: false })}`), 'signature_missing');
    await refused(() => request(gw.app).get(`${SLO_PATH}?${idp.redirectQuery('SAMLResponse', built.xml, { key: 'idp-rogue' })}`), 'signature_invalid');
    await refused(() => request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLResponse', built, { sign: false })), 'signature_missing');
    await refused(() => request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLResponse', built, { key: 'idp-rogue' })), 'signature_invalid');
    const foreign = idp.buildLogoutResponse(SLO_URL, { inResponseTo: requestId, issuer: 'https://idp.evil.example/' });
    await refused(() => request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLResponse', foreign)), 'unknown_issuer');
    const failed = idp.buildLogoutResponse(SLO_URL, { inResponseTo: requestId, statusCode: STATUS.responder });
    await refused(() => request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLResponse', failed)), 'status_not_success');
    // The genuine answer still completes the logout.
    await request(gw.app).post(SLO_PATH).type('form').send(idp.postForm('SAMLResponse', built)).expect(303);
  });

  it('gives JSON clients the IdP URL with the local session already ended', async () => {
    await enableSingleLogout();
    const adele = await signIn();
    const res = await adele.post('/logout').set('Accept', 'application/json').expect(200);
    expect(res.body).toEqual({ loggedOut: true, idpLogoutUrl: expect.stringContaining(`${idp.sloUrl}?`) });
    expect(readRedirect(res.body.idpLogoutUrl, SP_CERT).signatureValid).toBe(true);
    await expectSignedOut(adele);
  });

  it('still ends the local session when the LogoutRequest cannot be made', async () => {
    await enableSingleLogout();
    const adele = await signIn();
    jest.spyOn(gw.saml, 'createLogoutRedirect').mockRejectedValue(new Error('the request cache is down'));
    const res = await logout(adele);
    expect(res.headers.location).toBe('/me');
    await expectSignedOut(adele);
  });

  it('signs out locally only when the IdP has no SingleLogoutService', async () => {
    await gw.close();
    await setUp({ metadataXml: idp.metadataXml({ singleLogout: false }), settings: { singleLogout: true } });
    const adele = await signIn();
    expect((await logout(adele)).headers.location).toBe('/me');
    await expectSignedOut(adele);
  });

  it('a logout of another user’s IdP session never touches this one (claims are per sign-in)', async () => {
    await enableSingleLogout();
    const adele = await signIn();
    const lee = await signIn(LEE, { sessionIndex: '_lee' });
    const sent = await sentRequest(lee);
    expect(sent.doc.getElementsByTagNameNS('*', 'NameID')[0]?.textContent).toBe('lee.gu@contoso.example');
    expect(sent.doc.getElementsByTagNameNS('*', 'SessionIndex')[0]?.textContent).toBe('_lee');
    await expectSignedIn(adele);
  });
});
