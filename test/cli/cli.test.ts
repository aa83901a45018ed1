/**
 * The gatehouse CLI against a real SQLite file, as an admin would use it next to a running server.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCli } from '../../src/cli/program';
import { openStore } from '../../src/store';
import { TestIdp } from '../helpers/test-idp';

const idp = new TestIdp();
let dir: string;
let env: NodeJS.ProcessEnv;

interface Run {
  code: number;
  out: string;
  err: string;
}

async function cli(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { env, out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

function file(name: string, content: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, content);
  return p;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-cli-'));
  env = { DATABASE_URL: `sqlite:${path.join(dir, 'gatehouse.db')}`, BASE_URL: 'https://sso.example.com' };
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('gatehouse CLI', () => {
  it('creates a tenant and imports a connection, printing the values to paste into Entra', async () => {
    const t = await cli('tenant', 'create', '--slug', 'contoso', '--name', 'Contoso Ltd', '--domain', 'contoso.example');
    expect(t).toMatchObject({ code: 0, err: '' });
    expect(t.out).toContain('Tenant contoso created');
    expect(t.out).toContain('contoso.example');

    const metadata = file('federationmetadata.xml', idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }));
    const c = await cli('connection', 'import', '--tenant', 'contoso', '--slug', 'contoso-entra', '--metadata', metadata, '--match-by', 'email');
    expect(c.code).toBe(0);
    expect(c.out).toContain('Identifier (Entity ID):   https://sso.example.com/sso/contoso-entra/metadata');
    expect(c.out).toContain('Reply URL (ACS URL):      https://sso.example.com/sso/contoso-entra/acs');
    expect(c.out).toContain('Sign on URL:              https://sso.example.com/sso/contoso-entra/login');
    expect(c.out).toContain('Logout Url (Optional):    https://sso.example.com/sso/contoso-entra/logout');
    expect(c.out).toContain('Single logout at the IdP: off');
    expect(c.out).toContain(idp.entityId);
    expect(c.out.match(/expires \d{4}-\d{2}-\d{2}/g)).toHaveLength(2);
    expect(c.out).toContain('email claim');

    const shown = await cli('--json', 'connection', 'show', 'contoso-entra');
    expect(JSON.parse(shown.out)).toMatchObject({ slug: 'contoso-entra', settings: { matchBy: 'email', singleLogout: false } });

    const updated = await cli('connection', 'update', 'contoso-entra', '--jit', 'off', '--idp-initiated', 'off');
    expect(updated.code).toBe(0);
    expect(updated.out).toContain('version 2');

    // It really is in the store the server uses.
    const store = await openStore(env.DATABASE_URL!);
    try {
      const conn = await store.connections.findBySlug('contoso-entra');
      expect(conn?.settings).toMatchObject({ matchBy: 'email', allowIdpInitiated: false, jit: { enabled: false } });
    } finally {
      await store.close();
    }

    const slo = await cli('--json', 'connection', 'update', 'contoso-entra', '--single-logout', 'on');
    expect(slo.code).toBe(0);
    expect(JSON.parse(slo.out)).toMatchObject({ settings: { singleLogout: true }, logoutUrl: 'https://sso.example.com/sso/contoso-entra/logout' });
  });

  it('refuses bad metadata with exit code 1 and stores nothing', async () => {
    await cli('tenant', 'create', '--slug', 'contoso', '--name', 'Contoso');
    const bad = await cli('connection', 'import', '--tenant', 'contoso', '--slug', 'c', '--metadata', file('m.xml', '<nope'));
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^gatehouse: .+\[not_xml\]\n$/);
    const list = await cli('--json', 'connection', 'list', '--tenant', 'contoso');
    expect(JSON.parse(list.out)).toEqual([]);
  });

  it('exits 2 on bad usage and on bad configuration', async () => {
    expect((await cli('tenant', 'create', '--slug', 'x')).code).toBe(2);
    expect((await cli('connection', 'import', '--tenant', 'x', '--slug', 'y', '--metadata', path.join(dir, 'missing.xml'))).code).toBe(1);
    env = { DATABASE_URL: 'postgres://nope' };
    const r = await cli('tenant', 'list');
    expect(r.code).toBe(2);
    expect(r.err).toContain('DATABASE_URL');
  });

  it('renames groups from a CSV, and rejects a CSV with a bad row naming the row', async () => {
    await cli('tenant', 'create', '--slug', 'contoso', '--name', 'Contoso');
    const store = await openStore(env.DATABASE_URL!);
    const tenant = (await store.tenants.findBySlug('contoso'))!;
    await store.groups.ensure(tenant.id, '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d', { displayName: '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d', nameResolved: false });
    await store.close();

    const bad = await cli('groups', 'rename', '--tenant', 'contoso', '--file', file('bad.csv', 'id,name\n5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d,Engineering\nonly-one-column\n'));
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('row 3');
    expect(bad.err).toContain('nothing was renamed');

    const good = await cli(
      'groups',
      'rename',
      '--tenant',
      'contoso',
      '--file',
      file('names.csv', 'id,name\n5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d,Engineering\nffffffff-0000-4000-8000-000000000000,Ghost\n'),
    );
    expect(good.code).toBe(0);
    expect(good.out).toContain('Renamed 1 group(s).');
    expect(good.out).toContain('ffffffff-0000-4000-8000-000000000000');

    const check = await openStore(env.DATABASE_URL!);
    const g = await check.groups.findByExternalId(tenant.id, '5b8d2c1e-7a4f-4d3b-9e2a-1c0b9a8f7e6d');
    expect(g).toMatchObject({ displayName: 'Engineering', nameResolved: true });
    expect(await check.groups.findByExternalId(tenant.id, 'ffffffff-0000-4000-8000-000000000000')).toBeNull();
    await check.close();
  });

  it('answers match dry runs and shows, then follows, the provisioning log', async () => {
    await cli('tenant', 'create', '--slug', 'contoso', '--name', 'Contoso', '--domain', 'contoso.example');
    await cli('connection', 'import', '--tenant', 'contoso', '--slug', 'contoso-entra', '--metadata', file('m.xml', idp.metadataXml()));
    const m = await cli('match', '--connection', 'contoso-entra', '--username', 'new@contoso.example');
    expect(m.out).toContain('would be created');
    const refused = await cli('match', '--connection', 'contoso-entra', '--username', 'x@elsewhere.example');
    expect(refused.out).toContain('domain_not_owned');

    const store = await openStore(env.DATABASE_URL!);
    const conn = (await store.connections.findBySlug('contoso-entra'))!;
    await store.events.append({ tenantId: conn.tenantId, connectionId: conn.id, channel: 'saml', type: 'login', outcome: 'refused', subject: 'a@contoso.example', reason: 'expired', details: {}, at: new Date() });

    const shown = await cli('events', '--connection', 'contoso-entra');
    expect(shown.out).toMatch(/saml\s+refused\s+login\s+a@contoso.example\s+\(expired\)/);

    // --follow prints events that arrive later, until interrupted.
    const controller = new AbortController();
    let out = '';
    const following = runCli(['events', '--connection', 'contoso-entra', '--follow'], {
      env,
      out: (t) => (out += t),
      err: () => undefined,
      signal: controller.signal,
      followIntervalMs: 20,
    });
    await new Promise((r) => setTimeout(r, 60));
    await store.events.append({ tenantId: conn.tenantId, connectionId: conn.id, channel: 'saml', type: 'login', outcome: 'success', subject: 'b@contoso.example', reason: null, details: {}, at: new Date() });
    for (let i = 0; i < 100 && !out.includes('b@contoso.example'); i++) await new Promise((r) => setTimeout(r, 20));
    controller.abort();
    expect(await following).toBe(0);
    expect(out).toContain('a@contoso.example');
    expect(out).toContain('b@contoso.example');
    expect(out.indexOf('a@contoso.example')).toBeLessThan(out.indexOf('b@contoso.example'));
    await store.close();
  });
});
