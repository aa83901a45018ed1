/**
 * The quick start as a user runs it: the built server (`npm start` runs `node dist/src/main.js`) in an empty
 * directory, the `gatehouse` CLI binary against the same store, a signed Entra-shaped response to the ACS, then
 * SIGTERM. Also: invalid configuration exits with code 2 and one line naming the variable.
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

  it('starts on the embedded store, generates private secrets, and signs a user in after a CLI setup', async () => {
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
