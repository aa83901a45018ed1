/**
 * SCIM credentials: bearer tokens (admin API and CLI: create shown once, hash-only storage, list, extend, revoke,
 * several per connection), expiry alerts mailed through a real in-process SMTP server (once per threshold, retried
 * when the mail fails, reset by extending), and OAuth 2.0 client credentials.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SMTPServer } from 'smtp-server';
import request from 'supertest';
import { runCli } from '../../src/cli/program';
import { createMailer, type Mailer } from '../../src/common/mailer';
import { hashToken } from '../../src/common/secrets';
import { FAILED_AUTH_PER_MINUTE } from '../../src/http/scim';
import { checkTokenExpiry, thresholdReached } from '../../src/scim/token-alerts';
import { openStore } from '../../src/store';
import { authHeader } from '../helpers/gateway';
import { entraUser, scimClient, setUpScim, type ScimSetup } from '../helpers/scim';
import { TestIdp } from '../helpers/test-idp';

const DAY = 86_400_000;
let setup: ScimSetup;

afterEach(async () => {
  await setup?.gw.close();
});

const api = () => request(setup.gw.app);
const tokensUrl = () => `/api/connections/${setup.connectionId}/scim-tokens`;
const rawDb = () => (setup.gw.store as unknown as { db: { prepare(sql: string): { all(...a: unknown[]): Record<string, unknown>[] } } }).db;

describe('SCIM tokens through the admin API', () => {
  beforeEach(async () => {
    setup = await setUpScim();
  });

  it('creates a token shown once (365 days by default), stores only its hash, lists it with prefix and last use', async () => {
    const before = Date.now();
    const created = await api().post(tokensUrl()).set(authHeader).send({}).expect(201);
    expect(created.headers['cache-control']).toBe('no-store');
    expect(created.body).toEqual({ id: expect.any(String), token: expect.stringMatching(/^gh_scim_[\w-]{43}$/), prefix: expect.any(String), expiresAt: expect.any(String) });
    const expires = Date.parse(created.body.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 365 * DAY);
    expect(expires).toBeLessThanOrEqual(Date.now() + 365 * DAY);

    const rows = rawDb().prepare('SELECT * FROM scim_tokens WHERE id = ?').all(created.body.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.hash).toBe(hashToken(created.body.token));
    expect(JSON.stringify(rows)).not.toContain(created.body.token);
    expect(created.body.token.startsWith(created.body.prefix)).toBe(true);
    expect(created.body.prefix.length).toBeLessThan(20);

    // Several tokens are active at once.
    await scimClient({ gw: setup.gw, token: created.body.token }).get('/Users').expect(200);
    await scimClient(setup).get('/Users').expect(200);
    const list = (await api().get(tokensUrl()).set(authHeader).expect(200)).body.items;
    expect(list).toHaveLength(2);
    const mine = list.find((t: { id: string }) => t.id === created.body.id);
    expect(mine).toMatchObject({ prefix: created.body.prefix, status: 'active', revokedAt: null, alertsSent: [] });
    expect(Date.parse(mine.lastUsedAt)).toBeGreaterThanOrEqual(before);
    expect(JSON.stringify(list)).not.toContain(created.body.token);
  });

  it('honours expiresInDays, extends and revokes; refuses bad values and tokens of other connections', async () => {
    const created = (await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 10 }).expect(201)).body;
    expect(Math.round((Date.parse(created.expiresAt) - Date.now()) / DAY)).toBe(10);
    await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 0 }).expect(400);
    await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 5000 }).expect(400);

    const extended = (await api().post(`${tokensUrl()}/${created.id}/extend`).set(authHeader).send({ expiresInDays: 90 }).expect(200)).body;
    expect(Math.round((Date.parse(extended.expiresAt) - Date.now()) / DAY)).toBe(90);
    const revoked = (await api().delete(`${tokensUrl()}/${created.id}`).set(authHeader).expect(200)).body;
    expect(revoked.status).toBe('revoked');
    await scimClient({ gw: setup.gw, token: created.token }).get('/Users').expect(401);
    await api().post(`${tokensUrl()}/${created.id}/extend`).set(authHeader).send({}).expect(400);

    const other = await setUpScim({}, { gw: setup.gw, tenant: 'fabrikam' });
    await api().delete(`/api/connections/${other.connectionId}/scim-tokens/${created.id}`).set(authHeader).expect(404);
    await api().post(tokensUrl()).send({}).expect(401);
    const types = (await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'admin', limit: 20 })).map((e) => e.type);
    expect(types).toEqual(expect.arrayContaining(['scim_token_created', 'scim_token_extended', 'scim_token_revoked']));
  });
});

describe('expiry alerts over SMTP', () => {
  let smtp: SMTPServer;
  let port: number;
  let received: { to: string[]; raw: string }[];
  let rejectMail: boolean;
  let mailer: Mailer;

  beforeEach(async () => {
    received = [];
    rejectMail = false;
    smtp = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      onRcptTo(_address, _session, callback) {
        callback(rejectMail ? Object.assign(new Error('mailbox unavailable'), { responseCode: 550 }) : undefined);
      },
      onData(stream, session, callback) {
        let raw = '';
        stream.on('data', (chunk: Buffer) => (raw += chunk.toString('utf8')));
        stream.on('end', () => {
          received.push({ to: session.envelope.rcptTo.map((r) => r.address), raw });
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', () => resolve()));
    port = (smtp.server.address() as AddressInfo).port;
    mailer = createMailer({ smtpUrl: `smtp://127.0.0.1:${port}`, from: 'gatehouse@sso.example.com' })!;
    setup = await setUpScim({ scim: { notificationEmail: 'it-admins@contoso.example' } });
  });

  afterEach(async () => {
    mailer.close();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
  });

  const check = (now: Date) => checkTokenExpiry({ store: setup.gw.store, mailer, baseUrl: 'http://gatehouse.test', now });

  it('mails 30, 7 and 1 days before expiry, once each, logs them and flags the connection; extending resets', async () => {
    const token = (await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 40 }).expect(201)).body;
    const expiresAt = Date.parse(token.expiresAt);
    const at = (daysLeft: number) => new Date(expiresAt - daysLeft * DAY);

    expect(await check(at(31))).toEqual([]);
    expect((await check(at(29.5))).map((a) => a.threshold)).toEqual([30]);
    expect(await check(at(29))).toEqual([]);
    expect(await check(at(8))).toEqual([]);
    expect((await check(at(6.5))).map((a) => a.threshold)).toEqual([7]);
    expect((await check(at(0.5))).map((a) => a.threshold)).toEqual([1]);
    expect(await check(at(0.4))).toEqual([]);
    expect(received).toHaveLength(3);
    expect(received.every((m) => m.to.join() === 'it-admins@contoso.example')).toBe(true);
    expect(received[0]!.raw).toMatch(/Subject: Gatehouse: the SCIM token gh_scim_\S+\.\.\. of contoso expires in\s+30 days/);
    expect(received[2]!.raw).toMatch(/expires in\s+1 day\r?\n/);
    expect(received.map((m) => m.raw).join()).not.toContain(token.token);

    const log = (await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 20 })).filter((e) => e.type === 'scim_token_expiring');
    expect(log.map((e) => e.details.threshold)).toEqual([1, 7, 30]);
    expect(log[0]).toMatchObject({ outcome: 'info', subject: token.prefix, details: { emailed: true, tokenId: token.id } });
    const status = (await api().get(`/api/connections/${setup.connectionId}`).set(authHeader).expect(200)).body.scim;
    expect(status).toMatchObject({ tokenExpiring: true, expiringTokens: [{ tokenId: token.id }], baseUrl: 'http://gatehouse.test/scim/v2' });

    await api().post(`${tokensUrl()}/${token.id}/extend`).set(authHeader).send({}).expect(200);
    expect((await api().get(`/api/connections/${setup.connectionId}`).set(authHeader).expect(200)).body.scim.tokenExpiring).toBe(false);
    expect(await check(new Date())).toEqual([]);
  });

  it('a token first seen 5 days out gets one alert, not three', async () => {
    await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 5 }).expect(201);
    expect((await check(new Date())).map((a) => a.threshold)).toEqual([7]);
    expect(await check(new Date(Date.now() + DAY))).toEqual([]);
    expect(received).toHaveLength(1);
  });

  it('a mail the server refuses is retried by the next check', async () => {
    await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 3 }).expect(201);
    rejectMail = true;
    expect(await check(new Date())).toEqual([]);
    const failed = (await setup.gw.store.events.list({ connectionId: setup.connectionId, channel: 'scim', limit: 5 }))[0];
    expect(failed).toMatchObject({ type: 'scim_token_expiring', outcome: 'error', reason: 'mail_failed' });
    rejectMail = false;
    expect((await check(new Date())).map((a) => a.emailed)).toEqual([true]);
    expect(received).toHaveLength(1);
  });

  it('without a notification address (or SMTP) the alert is logged and flagged, not mailed', async () => {
    await api().patch(`/api/connections/${setup.connectionId}`).set(authHeader).send({ scim: { notificationEmail: null } }).expect(200);
    await api().post(tokensUrl()).set(authHeader).send({ expiresInDays: 2 }).expect(201);
    expect(await check(new Date())).toEqual([expect.objectContaining({ threshold: 7, emailed: false })]);
    expect(received).toHaveLength(0);
    expect((await api().get(`/api/connections/${setup.connectionId}`).set(authHeader).expect(200)).body.scim.tokenExpiring).toBe(true);
  });

  it('thresholdReached picks the smallest threshold reached', () => {
    const now = new Date('2025-01-01T00:00:00Z');
    expect(thresholdReached(new Date(now.getTime() + 31 * DAY), now)).toBeUndefined();
    expect(thresholdReached(new Date(now.getTime() + 30 * DAY), now)).toBe(30);
    expect(thresholdReached(new Date(now.getTime() + 7 * DAY), now)).toBe(7);
    expect(thresholdReached(new Date(now.getTime() + 0.5 * DAY), now)).toBe(1);
  });
});

describe('OAuth 2.0 client credentials', () => {
  beforeEach(async () => {
    setup = await setUpScim();
  });

  it('issues 1-hour bearer tokens to a client (form or HTTP Basic) that /scim/v2 accepts; revoking ends them', async () => {
    const client = (await api().post(`/api/connections/${setup.connectionId}/scim-clients`).set(authHeader).expect(201)).body;
    expect(client).toMatchObject({ clientId: expect.stringMatching(/^gh_client_/), clientSecret: expect.stringMatching(/^gh_cs_/), tokenUrl: 'http://gatehouse.test/scim/oauth/token' });

    const form = await api().post('/scim/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }).expect(200);
    expect(form.headers['cache-control']).toBe('no-store');
    expect(form.body).toEqual({ access_token: expect.stringMatching(/^gh_scimat_/), token_type: 'Bearer', expires_in: 3600 });
    const basic = await api()
      .post('/scim/oauth/token')
      .auth(client.clientId, client.clientSecret)
      .type('form')
      .send({ grant_type: 'client_credentials' })
      .expect(200);

    const viaOAuth = scimClient({ gw: setup.gw, token: form.body.access_token });
    const created = await viaOAuth.post('/Users', entraUser('oauth@testuser.com')).expect(201);
    await scimClient({ gw: setup.gw, token: basic.body.access_token }).get(`/Users/${created.body.id}`).expect(200);
    const row = rawDb().prepare("SELECT kind, client_id, expires_at, created_at FROM scim_tokens WHERE hash = ?").all(hashToken(form.body.access_token))[0]!;
    expect(row).toMatchObject({ kind: 'access', client_id: client.clientId });
    expect(Math.abs(Number(row.expires_at) - Number(row.created_at) - 3_600_000)).toBeLessThan(1000);
    // Access tokens are not listed as the connection's secret tokens.
    expect((await api().get(tokensUrl()).set(authHeader).expect(200)).body.items).toHaveLength(1);

    await api().post('/scim/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: 'wrong' }).expect(401);
    await api().post('/scim/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: 'gh_client_nope', client_secret: 'x' }).expect(401);
    expect((await api().post('/scim/oauth/token').type('form').send({ grant_type: 'password', client_id: client.clientId, client_secret: client.clientSecret }).expect(400)).body.error).toBe(
      'unsupported_grant_type',
    );
    await api().post('/scim/oauth/token').type('form').send({ grant_type: 'client_credentials' }).expect(400);

    const listed = (await api().get(`/api/connections/${setup.connectionId}/scim-clients`).set(authHeader).expect(200)).body.items;
    expect(listed).toEqual([expect.objectContaining({ clientId: client.clientId, status: 'active' })]);
    expect(JSON.stringify(listed)).not.toContain(client.clientSecret);
    await api().delete(`/api/connections/${setup.connectionId}/scim-clients/${client.id}`).set(authHeader).expect(200);
    await viaOAuth.get('/Users').expect(401);
    await api().post('/scim/oauth/token').type('form').send({ grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret }).expect(401);
  });

  it('refused token requests share the per-address budget of failures: 429 beyond it, logged once, a valid grant still works', async () => {
    const client = (await api().post(`/api/connections/${setup.connectionId}/scim-clients`).set(authHeader).expect(201)).body;
    const grant = { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret };
    const wrong = () => api().post('/scim/oauth/token').type('form').send({ ...grant, client_secret: 'gh_cs_wrong' });
    for (let i = 0; i < FAILED_AUTH_PER_MINUTE; i++) expect((await wrong()).status).toBe(401);
    const limited = await wrong();
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'invalid_request' });
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    await wrong().expect(429);
    await api().post('/scim/oauth/token').type('form').send(grant).expect(200);
    const statuses = (await setup.gw.store.events.list({ channel: 'scim', limit: 1000 }))
      .filter((e) => e.subject === 'POST /scim/oauth/token')
      .map((e) => e.details.status);
    expect(statuses.filter((status) => status === 401)).toHaveLength(FAILED_AUTH_PER_MINUTE);
    expect(statuses.filter((status) => status === 429)).toHaveLength(1);
  });

  it('logs every token request in the provisioning log (client id, status, outcome), never the secret or the token', async () => {
    const client = (await api().post(`/api/connections/${setup.connectionId}/scim-clients`).set(authHeader).expect(201)).body;
    const grant = { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret };
    const issued = (await api().post('/scim/oauth/token').type('form').send(grant).expect(200)).body.access_token as string;
    await api().post('/scim/oauth/token').type('form').send({ ...grant, client_secret: 'gh_cs_wrong' }).expect(401);
    await api().post('/scim/oauth/token').type('form').send({ ...grant, client_id: 'gh_client_nope' }).expect(401);
    // Malformed Basic credentials and an oversized body are client errors, not server errors.
    await api().post('/scim/oauth/token').set('Authorization', `Basic ${Buffer.from('%E0%A4%A:x').toString('base64')}`).type('form').send({ grant_type: 'client_credentials' }).expect(400);
    await api().post('/scim/oauth/token').type('form').send({ ...grant, pad: 'x'.repeat(20_000) }).expect(413);

    const all = (await setup.gw.store.events.list({ channel: 'scim', limit: 20 })).filter((e) => e.subject === 'POST /scim/oauth/token').reverse();
    expect(all.map((e) => [e.details.status, e.outcome, e.connectionId, e.details.clientId ?? null, e.details.authFailure ?? null])).toEqual([
      [200, 'success', setup.connectionId, client.clientId, null],
      [401, 'refused', setup.connectionId, client.clientId, 'wrong_secret'],
      [401, 'refused', null, null, 'unknown_client'],
      [400, 'refused', null, null, null],
      [413, 'refused', null, null, null],
    ]);
    expect(all.every((e) => typeof e.details.durationMs === 'number' && e.details.path === '/scim/oauth/token')).toBe(true);
    const text = JSON.stringify(await setup.gw.store.events.list({ limit: 100 }));
    expect(text).not.toContain(client.clientSecret);
    expect(text).not.toContain(issued);
  });
});

describe('gatehouse scim-token / scim-client CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const cli = async (...argv: string[]) => {
    let out = '';
    let err = '';
    const code = await runCli(argv, { env, out: (t) => (out += t), err: (t) => (err += t) });
    return { code, out, err };
  };

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-scim-cli-'));
    env = { DATABASE_URL: `sqlite:${path.join(dir, 'g.db')}`, BASE_URL: 'https://sso.example.com' };
    const store = await openStore(env.DATABASE_URL!);
    const tenant = await store.tenants.create({ slug: 'contoso', name: 'Contoso', domains: [] });
    await store.close();
    const metadata = path.join(dir, 'md.xml');
    require('node:fs').writeFileSync(metadata, new TestIdp().metadataXml());
    expect((await cli('connection', 'import', '--tenant', tenant.slug, '--slug', 'contoso-entra', '--metadata', metadata)).code).toBe(0);
  });

  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, lists, extends and revokes tokens and clients', async () => {
    const created = await cli('--json', 'scim-token', 'create', '--connection', 'contoso-entra', '--days', '30');
    expect(created.code).toBe(0);
    const token = JSON.parse(created.out) as { id: string; token: string; expiresAt: string };
    expect(Math.round((Date.parse(token.expiresAt) - Date.now()) / DAY)).toBe(30);
    const human = await cli('scim-token', 'create', '--connection', 'contoso-entra');
    expect(human.out).toMatch(/Copy it now, it is not shown again:\n {2}gh_scim_/);

    const list = await cli('scim-token', 'list', '--connection', 'contoso-entra');
    expect(list.out.split('\n').filter(Boolean)).toHaveLength(2);
    expect(list.out).toContain('last used never');
    expect(list.out).not.toContain(token.token);

    const extended = await cli('--json', 'scim-token', 'extend', token.id, '--connection', 'contoso-entra', '--days', '400');
    expect(Math.round((Date.parse(JSON.parse(extended.out).expiresAt) - Date.now()) / DAY)).toBe(400);
    const revoked = await cli('scim-token', 'revoke', token.id, '--connection', 'contoso-entra');
    expect(revoked).toMatchObject({ code: 0 });
    expect(revoked.out).toContain('revoked');
    expect((await cli('scim-token', 'revoke', 'no-such-token', '--connection', 'contoso-entra')).code).toBe(1);
    expect((await cli('scim-token', 'create', '--connection', 'contoso-entra', '--days', '0')).code).toBe(1);

    const client = JSON.parse((await cli('--json', 'scim-client', 'create', '--connection', 'contoso-entra')).out) as { clientId: string; clientSecret: string };
    expect(client.clientSecret).toMatch(/^gh_cs_/);
    expect((await cli('scim-client', 'list', '--connection', 'contoso-entra')).out).toContain(client.clientId);
    expect((await cli('scim-client', 'revoke', client.clientId, '--connection', 'contoso-entra')).out).toContain('revoked');
  });
});
