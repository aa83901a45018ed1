/**
 * The quick start as a user runs it: the built server (`npm start` runs `node dist/src/main.js`) in an empty
 * directory, the `gatehouse` CLI binary against the same store, a signed Entra-shaped response to the ACS, Entra's SCIM
 * steps with a token the CLI made (Test Connection, create, adopt the signed-in user, disable it: its session ends),
 * then SIGTERM. Also: invalid configuration exits with code 2 and one line naming the variable.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TestIdp } from './helpers/test-idp';

const ROOT = path.resolve(__dirname, '..');
const MAIN = path.join(ROOT, 'dist/src/main.js');
const CLI = path.join(ROOT, 'dist/src/cli/index.js');

jest.setTimeout(180_000);

beforeAll(() => {
  // What `npm start` does first.
  execFileSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
    cwd: ROOT,
    stdio: 'pipe',
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; output so far:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (pattern.test(out)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited with ${code} before ${pattern}; output:\n${out}`));
    });
  });
}

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  return env;
}

describe('npm start on a fresh directory', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-start-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts on the embedded store, generates private secrets, signs a user in after a CLI setup, and takes SCIM with a CLI token', async () => {
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const env = cleanEnv({ PORT: String(port), BASE_URL: baseUrl, LOG_LEVEL: 'warn' });
    const server = spawn(process.execPath, [MAIN], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const banner = await waitForOutput(server, /Next: /);
      expect(banner).toContain(`Gatehouse is listening on ${baseUrl} (store: sqlite`);
      expect(banner).toContain('data/secrets.json (mode 0600, generated now)');
      expect(statSync(path.join(dir, 'data/secrets.json')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(dir, 'certs/sp-signing.key')).mode & 0o777).toBe(0o600);
      expect(statSync(path.join(dir, 'data/gatehouse.db')).isFile()).toBe(true);
      const { adminApiKey } = JSON.parse(readFileSync(path.join(dir, 'data/secrets.json'), 'utf8')) as { adminApiKey: string };
      expect(banner).not.toContain(adminApiKey);

      // No identity provider yet: a one-time link into the admin console, which works once.
      const bootstrap = /Admin console: open this one-time link within 15 minutes[^\n]*\n\s+(\S+)/.exec(banner)?.[1];
      expect(bootstrap).toMatch(new RegExp(`^${baseUrl}/admin/bootstrap\\?token=`));
      const confirm = await fetch(bootstrap!);
      expect(confirm.status).toBe(200);
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await confirm.text())![1]!;
      const used = await fetch(`${baseUrl}/admin/bootstrap`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', Cookie: confirm.headers.get('set-cookie')!.split(';')[0]! },
        body: new URLSearchParams({ _csrf: csrf, token: new URL(bootstrap!).searchParams.get('token')! }).toString(),
      });
      expect(used.status).toBe(303);
      const consoleCookie = used.headers.get('set-cookie')!.split(';')[0]!;
      expect((await fetch(`${baseUrl}/admin`, { headers: { Cookie: consoleCookie } })).status).toBe(200);
      expect((await fetch(bootstrap!)).status).toBe(410);

      // The admin sets up the tenant and the Entra connection with the CLI, next to the running server.
      const idp = new TestIdp();
      writeFileSync(path.join(dir, 'federationmetadata.xml'), idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }));
      const cli = (...args: string[]) => execFileSync(process.execPath, [CLI, ...args], { cwd: dir, env, encoding: 'utf8' });
      expect(cli('tenant', 'create', '--slug', 'contoso', '--name', 'Contoso')).toContain('Tenant contoso created');
      const imported = cli('connection', 'import', '--tenant', 'contoso', '--slug', 'contoso-entra', '--metadata', 'federationmetadata.xml');
      expect(imported).toContain(`Reply URL (ACS URL):      ${baseUrl}/sso/contoso-entra/acs`);

      // Entra posts a signed response to the ACS; the session it yields is accepted by /api/me and /auth/check.
      const body = idp.postBody({ entityId: `${baseUrl}/sso/contoso-entra/metadata`, acsUrl: `${baseUrl}/sso/contoso-entra/acs` });
      const acs = await fetch(`${baseUrl}/sso/contoso-entra/acs`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ SAMLResponse: body.SAMLResponse }).toString(),
        redirect: 'manual',
      });
      expect(acs.status).toBe(303);
      const cookie = acs.headers.get('set-cookie')!.split(';')[0]!;
      const me = await fetch(`${baseUrl}/api/me`, { headers: { Cookie: cookie } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as { username: string }).username).toBe('adele.vance@contoso.example');
      const check = await fetch(`${baseUrl}/auth/check`, { headers: { Cookie: cookie } });
      expect(check.status).toBe(200);
      expect(check.headers.get('x-gatehouse-user')).toBe('adele.vance@contoso.example');

      // The admin API works with the generated key.
      const tenants = await fetch(`${baseUrl}/api/tenants`, { headers: { Authorization: `Bearer ${adminApiKey}` } });
      expect(tenants.status).toBe(200);

      // SCIM with a token made by the CLI: Entra's Test Connection, then its create-or-adopt and disable steps.
      const { token } = JSON.parse(cli('--json', 'scim-token', 'create', '--connection', 'contoso-entra')) as { token: string };
      const scim = (method: string, path: string, body?: unknown) =>
        fetch(`${baseUrl}/scim/v2${path}`, {
          method,
          headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/scim+json' } : {}) },
          body: body ? JSON.stringify(body) : undefined,
        });
      const filter = (value: string) => `/Users?filter=${encodeURIComponent(`userName eq "${value}"`)}`;
      const testConnection = await scim('GET', filter('ab6490ee-1e48-479e-a20b-2d77186b5dd1'));
      expect(testConnection.status).toBe(200);
      expect(testConnection.headers.get('content-type')).toMatch(/^application\/scim\+json/);
      expect(await testConnection.json()).toMatchObject({ totalResults: 0, Resources: [] });
      const user = (schemas: string[], userName: string) => ({ schemas, userName, externalId: userName.split('@')[0], active: true, emails: [{ type: 'work', value: userName, primary: true }] });
      const USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
      const created = await scim('POST', '/Users', user([USER], 'new.hire@contoso.example'));
      expect(created.status).toBe(201);
      const newHire = (await created.json()) as { id: string };
      expect(created.headers.get('location')).toBe(`${baseUrl}/scim/v2/Users/${newHire.id}`);
      expect(((await (await scim('GET', filter('NEW.HIRE@contoso.example'))).json()) as { Resources: { id: string }[] }).Resources.map((r) => r.id)).toEqual([newHire.id]);
      // The user who signed in by SAML is found and adopted: one account, same id.
      const signedIn = ((await (await fetch(`${baseUrl}/api/me`, { headers: { Cookie: cookie } })).json()) as { id: string }).id;
      expect(((await (await scim('GET', filter('Adele.Vance@contoso.example'))).json()) as { totalResults: number }).totalResults).toBe(1);
      const adopted = await scim('POST', '/Users', user([USER], 'Adele.Vance@contoso.example'));
      expect(adopted.status).toBe(201);
      expect(((await adopted.json()) as { id: string }).id).toBe(signedIn);
      // Disabling it cuts the live session at once.
      const disabled = await scim('PATCH', `/Users/${signedIn}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
      expect(disabled.status).toBe(200);
      expect((await fetch(`${baseUrl}/api/me`, { headers: { Cookie: cookie } })).status).toBe(401);
      expect((await fetch(`${baseUrl}/auth/check`, { headers: { Cookie: cookie } })).status).toBe(401);
    } finally {
      const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
      server.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ NODE_ENV: 'production' }, 'BASE_URL'],
    [{ DATABASE_URL: 'postgres://db/gatehouse' }, 'DATABASE_URL'],
  ])('exits with code 2 and one line naming the variable for %j', async (extra, variable) => {
    const child = spawn(process.execPath, [MAIN], { cwd: dir, env: cleanEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toMatch(new RegExp(`^gatehouse: invalid configuration: ${variable}: `));
  });
});
