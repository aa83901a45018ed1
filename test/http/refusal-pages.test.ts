/**
 * Refused sign-ins, as the person sees them: a page in plain words (what happened, what to do) for every refusal
 * reason, with the reference the admin finds in the provisioning log (SAML and provisioning refusals alike).
 */
import request from 'supertest';
import { PROVISIONING_REFUSALS } from '../../src/provisioning/identity';
import { REFUSAL_REASONS } from '../../src/saml/refusal';
import { endUserCopy, PROVISIONING_REFUSAL_COPY, SAML_REFUSAL_COPY } from '../../src/http/web/refusal-copy';
import { STATUS, TestIdp, type PostBody, type SpTarget } from '../helpers/test-idp';
import { authHeader, createTestGateway, type TestGateway } from '../helpers/gateway';

const ENG = '0d7c7f4e-1c3b-4e86-9f53-0e9f5b1a6c11';
const SALES = 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d';
const idp = new TestIdp();
let gw: TestGateway;
let sp: SpTarget;
let connectionId: string;

async function setUp(settings: Record<string, unknown> = {}) {
  gw = await createTestGateway();
  await request(gw.app).post('/api/tenants').set(authHeader).send({ slug: 'contoso', name: 'Contoso' }).expect(201);
  const res = await request(gw.app)
    .post('/api/tenants/contoso/connections')
    .set(authHeader)
    .send({ slug: 'contoso-entra', metadataXml: idp.metadataXml(), ...settings })
    .expect(201);
  sp = { entityId: res.body.spEntityId, acsUrl: res.body.acsUrl };
  connectionId = res.body.id;
}

async function refusedPage(body: PostBody) {
  const res = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'text/html').type('form').send(body);
  const reference = /data-testid="reference">([0-9A-F]{8})</.exec(res.text)?.[1] ?? null;
  const heading = /<h1>([^<]*)<\/h1>/.exec(res.text)?.[1] ?? null;
  return { res, reference, heading };
}

async function refusalEvent() {
  return (await gw.store.events.list({ connectionId, limit: 20 })).find((e) => e.type === 'login' && e.outcome === 'refused');
}

afterEach(async () => {
  await gw?.close();
});

describe('end-user copy', () => {
  it('exists for every SAML and provisioning refusal reason, in plain words without the code', () => {
    expect(Object.keys(SAML_REFUSAL_COPY).sort()).toEqual(Object.keys(REFUSAL_REASONS).sort());
    expect(Object.keys(PROVISIONING_REFUSAL_COPY).sort()).toEqual(Object.keys(PROVISIONING_REFUSALS).sort());
    for (const [code, copy] of Object.entries({ ...SAML_REFUSAL_COPY, ...PROVISIONING_REFUSAL_COPY })) {
      expect(copy.title.length).toBeGreaterThan(5);
      if (code.includes('_')) expect(copy.explanation).not.toContain(code);
      // No protocol jargon for the person signing in.
      expect(`${copy.title} ${copy.explanation} ${copy.whatToDo}`).not.toMatch(/SAML|assertion|ACS|NameID|IdP|Destination|InResponseTo/);
    }
  });

  it('falls back to the safe message for other codes', () => {
    expect(endUserCopy('validation_failed', 'slug: too short')).toMatchObject({ title: 'Something went wrong', explanation: 'slug: too short' });
  });
});

describe('refusal pages', () => {
  it('expired: tells the person to start again, with a reference found in the log', async () => {
    await setUp();
    const { res, reference, heading } = await refusedPage(idp.postBody(sp, { now: new Date(Date.now() - 2 * 3_600_000) }));
    expect(res.status).toBe(400);
    expect(heading).toBe('Your sign-in took too long');
    expect(res.text).toContain('href="/login">Sign in again');
    expect(reference).not.toBeNull();
    expect(await refusalEvent()).toMatchObject({ reason: 'expired', details: { reference } });
  });

  it('writes the log entry before the page is sent, even on a slow store', async () => {
    await setUp();
    const append = gw.store.events.append.bind(gw.store.events);
    gw.store.events.append = async (event) => {
      await new Promise((r) => setTimeout(r, 100));
      return append(event);
    };
    const { reference } = await refusedPage(idp.postBody(sp, { now: new Date(Date.now() - 2 * 3_600_000) }));
    expect(reference).not.toBeNull();
    expect(await refusalEvent()).toMatchObject({ reason: 'expired', details: { reference } });
  });

  it('replayed: says the sign-in was already used', async () => {
    await setUp();
    const body = idp.postBody(sp);
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(body).expect(303);
    const { heading, res } = await refusedPage(body);
    expect(heading).toBe('This sign-in was already used');
    expect(res.text).toContain('<code>replayed</code>');
  });

  it('IdP error status: says the organisation did not complete the sign-in', async () => {
    await setUp();
    const { heading, reference } = await refusedPage(idp.postBody(sp, { statusCode: STATUS.responder, subStatusCode: STATUS.authnFailed }));
    expect(heading).toBe('Your organisation didn’t complete the sign-in');
    expect(await refusalEvent()).toMatchObject({ reason: 'status_not_success', details: { reference } });
  });

  it('unknown connection: says the link does not work', async () => {
    await setUp();
    const res = await request(gw.app).post('/sso/no-such-connection/acs').set('Accept', 'text/html').type('form').send(idp.postBody(sp));
    expect(res.status).toBe(404);
    expect(res.text).toContain('<h1>This sign-in link doesn’t work</h1>');
  });

  it('not in a required group: a provisioning refusal with its reference in the log entry', async () => {
    await setUp({ jit: { requireAnyGroup: [ENG] } });
    const { res, heading, reference } = await refusedPage(idp.postBody(sp, { user: { groups: [SALES] } }));
    expect(res.status).toBe(403);
    expect(heading).toBe('You don’t have access to this application');
    expect(res.text).toContain('Ask your IT administrator to add you to a group');
    expect(reference).not.toBeNull();
    expect(await refusalEvent()).toMatchObject({ reason: 'not_in_required_group', details: { reference } });
  });

  it('disabled account: says so and that IT can help; JSON clients get the reference too', async () => {
    await setUp();
    await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    const [user] = (await gw.store.users.listByTenant((await gw.store.tenants.findBySlug('contoso'))!.id, { offset: 0, limit: 1 })).items;
    await request(gw.app).patch(`/api/connections/${connectionId}/users/${user!.id}`).set(authHeader).send({ active: false }).expect(200);
    const { heading } = await refusedPage(idp.postBody(sp));
    expect(heading).toBe('Your account is disabled');
    const json = await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'application/json').type('form').send(idp.postBody(sp)).expect(403);
    expect(json.body.error).toMatchObject({ code: 'user_disabled', reference: expect.stringMatching(/^[0-9A-F]{8}$/) });
    const events = await gw.store.events.list({ connectionId, limit: 20 });
    expect(events.find((e) => e.reason === 'user_disabled' && e.details.reference === json.body.error.reference)).toBeDefined();
  });

  it('an ordinary 404 page is not worded as a sign-in refusal', async () => {
    await setUp();
    const res = await request(gw.app).get('/no/such/page').set('Accept', 'text/html').expect(404);
    expect(res.text).toContain('<h1>Page not found</h1>');
  });
});

/** The log entry carrying this reference: written before the page was sent, so it is there as soon as the page is. */
async function entryWithReference(reference: string) {
  return (await gw.store.events.list({ outcome: 'refused', limit: 50 })).find((e) => e.details.reference === reference);
}

describe('every refusal a person can meet: its own page, and a reference the admin finds in the provisioning log', () => {
  type Case = {
    reason: string;
    status: number;
    settings?: Record<string, unknown>;
    tenantDomains?: string[];
    /** Runs before the refused attempt (e.g. a first sign-in). */
    before?: () => Promise<void>;
    body: () => PostBody;
    slug?: string;
  };
  let replayed: PostBody | null = null;
  const replayBody = () => (replayed ??= idp.postBody(sp));
  const cases: Case[] = [
    { reason: 'expired', status: 400, body: () => idp.postBody(sp, { now: new Date(Date.now() - 2 * 3_600_000) }) },
    {
      reason: 'replayed',
      status: 400,
      // The same response twice: the first signs in, the second is the replay.
      before: async () => {
        await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(replayBody()).expect(303);
      },
      body: () => replayBody(),
    },
    {
      reason: 'user_disabled',
      status: 403,
      before: async () => {
        await request(gw.app).post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
        const tenant = (await gw.store.tenants.findBySlug('contoso'))!;
        const [user] = (await gw.store.users.listByTenant(tenant.id, { offset: 0, limit: 1 })).items;
        await request(gw.app).patch(`/api/connections/${connectionId}/users/${user!.id}`).set(authHeader).send({ active: false }).expect(200);
      },
      body: () => idp.postBody(sp),
    },
    { reason: 'not_in_required_group', status: 403, settings: { jit: { requireAnyGroup: [ENG] } }, body: () => idp.postBody(sp, { user: { groups: [SALES] } }) },
    { reason: 'jit_disabled', status: 403, settings: { jit: { enabled: false } }, body: () => idp.postBody(sp) },
    { reason: 'domain_not_owned', status: 403, tenantDomains: ['fabrikam.example'], body: () => idp.postBody(sp) },
    { reason: 'unknown_connection', status: 404, slug: 'no-such-connection', body: () => idp.postBody(sp) },
    { reason: 'status_not_success', status: 400, body: () => idp.postBody(sp, { statusCode: STATUS.responder, subStatusCode: STATUS.authnFailed }) },
    { reason: 'unsolicited_response', status: 400, settings: { allowIdpInitiated: false }, body: () => idp.postBody(sp) },
    { reason: 'signature_invalid', status: 400, body: () => idp.postBody(sp, { key: 'idp-rogue' }) },
    { reason: 'audience_mismatch', status: 400, body: () => idp.postBody(sp, { audience: 'https://other.example/sp' }) },
  ];

  it.each(cases)('$reason', async (c) => {
    await setUp(c.settings ?? {});
    if (c.tenantDomains) await request(gw.app).patch('/api/tenants/contoso').set(authHeader).send({ domains: c.tenantDomains }).expect(200);
    await c.before?.();
    const res = await request(gw.app).post(`/sso/${c.slug ?? 'contoso-entra'}/acs`).set('Accept', 'text/html').type('form').send(c.body());
    expect(res.status).toBe(c.status);
    const copy = endUserCopy(c.reason, '');
    // The page is the person's: what happened, what to do; the code and a reference for their IT team.
    expect(res.text).toContain(`<h1>${copy.title}</h1>`);
    expect(res.text).toContain(copy.explanation);
    expect(res.text).toContain(copy.whatToDo);
    expect(res.text).toContain(`<code>${c.reason}</code>`);
    expect(res.text).toContain('look this reference up in Gatehouse’s provisioning log');
    expect(res.text.includes('href="/login">Sign in again')).toBe(copy.retry);
    const reference = /data-testid="reference">([0-9A-F]{8})</.exec(res.text)?.[1];
    expect(reference).toBeDefined();
    expect(res.headers['set-cookie'] ?? []).toEqual([]);
    // The admin finds the attempt by that reference, with the technical reason.
    const entry = await entryWithReference(reference!);
    expect(entry).toMatchObject({ channel: 'saml', outcome: 'refused', reason: c.reason });
    if (c.reason === 'unknown_connection') {
      // No tenant to file it under: it is in the unfiltered log, naming the connection that was asked for.
      expect(entry).toMatchObject({ tenantId: null, connectionId: null, details: { connection: 'no-such-connection' } });
    } else {
      expect(entry?.connectionId).toBe(connectionId);
    }
  });
});
