/**
 * Home realm discovery at /login: the email's domain selects the tenant and its connection; several connections
 * get a choice page; unknown domains and bad input get a plain message; returnTo stays a local path.
 */
import request from 'supertest';
import { TestIdp } from '../helpers/test-idp';
import { authHeader, createTestGateway, type TestGateway } from '../helpers/gateway';

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
