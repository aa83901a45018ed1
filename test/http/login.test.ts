/**
 * Home realm discovery at /login: the email's domain selects the tenant and its connection; several connections
 * get a choice page; unknown domains and bad input get a plain message; returnTo stays a local path.
 */
import request from 'supertest';
import { authnRequestIdOf, TestIdp } from '../helpers/test-idp';
import { authHeader, BASE_URL, createTestGateway, type TestGateway } from '../helpers/gateway';

const idp = new TestIdp();
let gw: TestGateway;

/** Where the "continue" page (meta refresh; see continueTo in src/http/web/login.ts) sends the browser. */
function continueTarget(res: request.Response): string | null {
  const url = /<meta http-equiv="refresh" content="0;url=([^"]+)">/.exec(res.text)?.[1];
  return url ? url.replace(/&amp;/g, '&') : null;
}

async function tenant(slug: string, domains: string[]) {
  await request(gw.app).post('/api/tenants').set(authHeader).send({ slug, name: `${slug[0]!.toUpperCase()}${slug.slice(1)} Ltd`, domains }).expect(201);
}
async function connection(tenantSlug: string, slug: string) {
  await request(gw.app)
    .post(`/api/tenants/${tenantSlug}/connections`)
    .set(authHeader)
    .send({ slug, name: `${slug} sign-in`, metadataXml: idp.metadataXml() })
    .expect(201);
}

beforeEach(async () => {
  gw = await createTestGateway();
  await tenant('contoso', ['contoso.example']);
  await connection('contoso', 'contoso-entra');
  await tenant('fabrikam', ['fabrikam.example', 'fabrikam.test']);
  await connection('fabrikam', 'fabrikam-entra');
  await connection('fabrikam', 'fabrikam-okta');
  await tenant('tailspin', ['tailspin.example']);
});
afterEach(async () => {
  await gw.close();
});

describe('GET /login', () => {
  it('shows one email field and carries a local returnTo', async () => {
    const res = await request(gw.app).get('/login?returnTo=/reports?q=1').expect(200);
    expect(res.text).toContain('name="email"');
    expect(res.text).toContain('name="returnTo" value="/reports?q=1"');
  });

  it.each(['https://evil.example/', '//evil.example', '/\\evil.example', 'javascript:alert(1)'])('replaces the non-local returnTo %s with /me', async (returnTo) => {
    const res = await request(gw.app).get(`/login?returnTo=${encodeURIComponent(returnTo)}`).expect(200);
    expect(res.text).toContain('name="returnTo" value="/me"');
  });
});

describe('POST /login (home realm discovery)', () => {
  it('sends a known domain straight to its only connection, keeping returnTo', async () => {
    const res = await request(gw.app).post('/login').type('form').send({ email: '  Adele.Vance@CONTOSO.example ', returnTo: '/reports?q=1' });
    expect(res.status).toBe(200);
    expect(continueTarget(res)).toBe(`/sso/contoso-entra/login?returnTo=${encodeURIComponent('/reports?q=1')}`);
    // ... which redirects to the IdP as usual.
    const sso = await request(gw.app).get(continueTarget(res)!).expect(302);
    expect(sso.headers.location).toContain('SAMLRequest=');
  });

  it('offers a choice when the tenant has several connections', async () => {
    const res = await request(gw.app).post('/login').type('form').send({ email: 'megan@fabrikam.test', returnTo: '/app' }).expect(200);
    expect(res.text).toContain('Choose how to sign in');
    expect(res.text).toContain(`href="/sso/fabrikam-entra/login?returnTo=${encodeURIComponent('/app')}"`);
    expect(res.text).toContain(`href="/sso/fabrikam-okta/login?returnTo=${encodeURIComponent('/app')}"`);
    expect(res.text).not.toContain('contoso-entra');
  });

  it('answers an unknown domain with a plain message, not a stack trace', async () => {
    const res = await request(gw.app).post('/login').type('form').send({ email: 'someone@unknown.example' }).expect(404);
    expect(res.text).toContain('We don’t know “unknown.example”');
    expect(res.text).toContain('value="someone@unknown.example"');
    expect(res.text).not.toMatch(/at \w+ \(|Error:/);
  });

  it('says so when the tenant has no connection yet', async () => {
    const res = await request(gw.app).post('/login').type('form').send({ email: 'a@tailspin.example' }).expect(404);
    expect(res.text).toContain('Tailspin Ltd hasn’t set up sign-in yet');
  });

  it.each(['', 'not-an-email', 'trailing@', '@contoso.example'])('asks again for the malformed email %p', async (email) => {
    const res = await request(gw.app).post('/login').type('form').send({ email }).expect(422);
    expect(res.text).toContain('doesn’t look like an email address');
  });

  it.each(['https://evil.example/', '//evil.example', '/\\evil.example'])('drops the non-local returnTo %s (only local paths are carried)', async (returnTo) => {
    const res = await request(gw.app).post('/login').type('form').send({ email: 'a@contoso.example', returnTo }).expect(200);
    expect(continueTarget(res)).toBe(`/sso/contoso-entra/login?returnTo=${encodeURIComponent('/me')}`);
  });

  it('finds a domain an admin typed with capitals and a leading @', async () => {
    await request(gw.app).patch('/api/tenants/tailspin').set(authHeader).send({ domains: ['@Tailspin.Example'] }).expect(200);
    await connection('tailspin', 'tailspin-entra');
    const res = await request(gw.app).post('/login').type('form').send({ email: 'b@tailspin.example' }).expect(200);
    expect(continueTarget(res)).toContain('/sso/tailspin-entra/login');
  });
});

describe('returnTo through the whole round trip', () => {
  /** /login -> continue page -> /sso/:c/login -> IdP (answered here) -> ACS: where the browser lands. */
  async function landing(returnTo: string): Promise<string> {
    const agent = request.agent(gw.app);
    const login = await agent.post('/login').type('form').send({ email: 'adele.vance@contoso.example', returnTo }).expect(200);
    const redirect = await agent.get(continueTarget(login)!).expect(302);
    const inResponseTo = authnRequestIdOf(redirect.headers.location!);
    const connection = (await gw.store.connections.findBySlug('contoso-entra'))!;
    const sp = { entityId: connection.spEntityId, acsUrl: `${BASE_URL}/sso/contoso-entra/acs` };
    // A RelayState from the browser is ignored for an answered request: the server kept the returnTo.
    const acs = await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp, { inResponseTo, relayState: 'https://evil.example/' })).expect(303);
    return acs.headers.location!;
  }

  it('lands on the local page asked for', async () => {
    expect(await landing('/reports/42?tab=2#top')).toBe('/reports/42?tab=2#top');
  });

  it.each(['https://evil.example/x', '//evil.example/x', '/\\evil.example', '/\t/evil.example', ' /x', 'javascript:alert(1)'])('lands on /me instead of %p', async (returnTo) => {
    expect(await landing(returnTo)).toBe('/me');
  });
});

describe('/me', () => {
  it('shows the name, email, groups by name (ids set apart), when the session ends, and a sign-out button', async () => {
    const connection = (await gw.store.connections.findBySlug('contoso-entra'))!;
    const sp = { entityId: connection.spEntityId, acsUrl: `${BASE_URL}/sso/contoso-entra/acs` };
    const agent = request.agent(gw.app);
    await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).expect(303);
    await request(gw.app).post('/api/tenants/contoso/groups/rename').set(authHeader).send({ names: { '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d': 'Engineering' } }).expect(200);
    const page = await agent.get('/me').expect(200);
    expect(page.text).toContain('<h1>Adele Vance</h1>');
    expect(page.text).toContain('<dt>Email</dt><dd>adele.vance@contoso.example</dd>');
    expect(page.text).toContain('<li class="chip">Engineering</li>');
    expect(page.text).toMatch(/<li class="chip unresolved"[^>]*>c3e1a7b9-2d4f-4a6c-8e0b-1f3d5a7c9e2b<\/li>/);
    expect(page.text).toContain('known only by their identity-provider ID');
    expect(page.text).toMatch(/<dt>Session ends<\/dt><dd>in (59|60) minutes if you are inactive/);
    expect(page.text).toContain('<form method="post" action="/logout"><button type="submit" class="secondary">Sign out</button></form>');
    expect(page.headers['cache-control']).toBe('no-store');
    // Not an admin: no way into the console is offered.
    expect(page.text).not.toContain('href="/admin"');
    // /login knows who is signed in.
    expect((await agent.get('/login').expect(200)).text).toContain('You are already signed in as <strong>adele.vance@contoso.example</strong>');
  });
});

describe('public pages and the CSP', () => {
  it('every public page is served under the strict CSP and has nothing inline it would block', async () => {
    const connection = (await gw.store.connections.findBySlug('contoso-entra'))!;
    const sp = { entityId: connection.spEntityId, acsUrl: `${BASE_URL}/sso/contoso-entra/acs` };
    const agent = request.agent(gw.app);
    const pages = [
      await request(gw.app).get('/login'),
      await request(gw.app).post('/login').type('form').send({ email: 'a@unknown.example' }),
      await request(gw.app).post('/login').type('form').send({ email: 'a@fabrikam.example' }),
      await request(gw.app).post('/login').type('form').send({ email: 'a@contoso.example' }),
      await request(gw.app).get('/me'),
      await request(gw.app).get('/no/such/page').set('Accept', 'text/html'),
      await request(gw.app).post('/sso/contoso-entra/acs').set('Accept', 'text/html').type('form').send(idp.postBody(sp, { now: new Date(Date.now() - 7_200_000) })),
      await agent.post('/sso/contoso-entra/acs').type('form').send(idp.postBody(sp)).then(() => agent.get('/me')),
    ];
    for (const page of pages) {
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const csp = String(page.headers['content-security-policy']);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(page.text.match(/<script(?![^>]*\ssrc=)[^>]*>|<style|\sstyle=|\son[a-z]+=/gi)).toBeNull();
    }
  });
});
