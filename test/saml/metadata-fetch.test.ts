import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MetadataError, type MetadataErrorCode } from '../../src/saml/metadata';
import { fetchMetadata, forbiddenRange, redirectTarget, type FetchMetadataOptions, type HostLookup, type ResolvedAddress } from '../../src/saml/metadata-fetch';
import { metadataFixture } from '../fixtures/metadata/fixtures';

const METADATA = metadataFixture('okta.xml');
/** A public address (documentation-free, routable) that the tests pretend idp.example.com has; never dialled for real. */
const PUBLIC_ADDRESS = '93.184.215.14';

interface SeenRequest {
  path: string;
  host: string | undefined;
}

let server: Server;
let port: number;
let connections = 0;
let seen: SeenRequest[] = [];
const sockets = new Set<Socket>();

function route(req: IncomingMessage, res: ServerResponse): void {
  switch (new URL(req.url ?? '/', 'http://local').pathname) {
    case '/metadata':
      res.writeHead(200, { 'Content-Type': 'application/samlmetadata+xml' }).end(METADATA);
      return;
    case '/big-chunked': {
      // No Content-Length: the cap must hold while streaming.
      res.writeHead(200, { 'Content-Type': 'application/xml' });
      const chunk = 'x'.repeat(1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < 64 && res.write(chunk)) sent++;
        if (sent < 64) res.once('drain', pump);
        else res.end();
      };
      pump();
      return;
    }
    case '/big-declared':
      res.writeHead(200, { 'Content-Type': 'application/xml', 'Content-Length': String(10 * 1024 * 1024) });
      res.write('<');
      return; // never finishes: the declared length alone must be refused
    case '/hang':
      return; // never answers
    case '/missing':
      res.writeHead(404).end('Not found');
      return;
    case '/redirect-to-metadata':
      res.writeHead(302, { Location: '/metadata' }).end();
      return;
    case '/redirect-to-link-local':
      res.writeHead(302, { Location: 'http://169.254.169.254/latest/meta-data/' }).end();
      return;
    case '/redirect-to-internal-host':
      res.writeHead(301, { Location: 'http://internal.corp.test/metadata' }).end();
      return;
    case '/redirect-loop':
      res.writeHead(307, { Location: '/redirect-loop' }).end();
      return;
    default:
      res.writeHead(500).end();
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    seen.push({ path: req.url ?? '', host: req.headers.host });
    route(req, res);
  });
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  connections = 0;
  seen = [];
});

function staticLookup(table: Record<string, string[]>): jest.Mock<ReturnType<HostLookup>, Parameters<HostLookup>> {
  return jest.fn(async (hostname: string) => {
    const addresses = table[hostname];
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address): ResolvedAddress => ({ address, family: address.includes(':') ? 6 : 4 }));
  });
}

/**
 * idp.example.com "is" a public address; the test seam dials that address on the local server instead, so every
 * vetting rule still applies with allowPrivateNetworks: false.
 */
function publicIdp(extra: Record<string, string[]> = {}): Pick<FetchMetadataOptions, 'lookup' | 'dialOverride'> {
  return {
    lookup: staticLookup({ 'idp.example.com': [PUBLIC_ADDRESS], ...extra }),
    dialOverride: (vetted) => (vetted.address === PUBLIC_ADDRESS ? { address: '127.0.0.1', family: 4 } : vetted),
  };
}

async function refusal(promise: Promise<unknown>, code: MetadataErrorCode, message?: RegExp): Promise<MetadataError> {
  const error: unknown = await promise.then(
    () => new Error('expected a MetadataError, but the fetch succeeded'),
    (e: unknown) => e,
  );
  if (!(error instanceof MetadataError)) throw error;
  expect(error.code).toBe(code);
  if (message) expect(error.message).toMatch(message);
  return error;
}

describe('fetchMetadata: the SSRF guard', () => {
  it('refuses a loopback URL without any request reaching the server', async () => {
    await refusal(fetchMetadata(`http://127.0.0.1:${port}/metadata`, { allowPrivateNetworks: false }), 'metadata_url_forbidden', /127\.0\.0\.1 \(loopback\)/);
    await refusal(fetchMetadata(`http://localhost:${port}/metadata`, { allowPrivateNetworks: false }), 'metadata_url_forbidden');
    await refusal(fetchMetadata(`http://[::ffff:127.0.0.1]:${port}/metadata`, { allowPrivateNetworks: false }), 'metadata_url_forbidden');
    expect(connections).toBe(0);
    expect(seen).toEqual([]);
  });

  it('fetches from a private address when private networks are allowed', async () => {
    await expect(fetchMetadata(`http://127.0.0.1:${port}/metadata`, { allowPrivateNetworks: true })).resolves.toBe(METADATA);
    expect(seen.map((r) => r.path)).toEqual(['/metadata']);
  });

  it('refuses a host name that resolves to a private address', async () => {
    const lookup = staticLookup({ 'idp.corp.example': ['10.0.0.1'] });
    await refusal(fetchMetadata('https://idp.corp.example/metadata', { allowPrivateNetworks: false, lookup }), 'metadata_url_forbidden', /idp\.corp\.example resolves to 10\.0\.0\.1 \(private\)/);
    expect(lookup).toHaveBeenCalledWith('idp.corp.example');
  });

  it('refuses a host name when any of its addresses is private, not just the first', async () => {
    const lookup = staticLookup({ 'idp.example.com': [PUBLIC_ADDRESS, 'fd00::5'] });
    await refusal(fetchMetadata('https://idp.example.com/metadata', { allowPrivateNetworks: false, lookup }), 'metadata_url_forbidden', /fd00::5 \(uniqueLocal\)/);
  });

  it('connects to the vetted address and never resolves the name again (DNS rebinding)', async () => {
    // Node itself cannot resolve rebind.test; the request only arrives because the socket is pinned to the address vetted.
    const lookup = staticLookup({ 'rebind.test': ['127.0.0.1'] });
    await expect(fetchMetadata(`http://rebind.test:${port}/metadata`, { allowPrivateNetworks: true, lookup })).resolves.toBe(METADATA);
    expect(lookup).toHaveBeenCalledTimes(1);
    expect(seen).toEqual([{ path: '/metadata', host: `rebind.test:${port}` }]); // Host keeps the name
  });

  it('follows a redirect, vetting the new hop', async () => {
    const options = { allowPrivateNetworks: false, ...publicIdp() };
    await expect(fetchMetadata(`http://idp.example.com:${port}/redirect-to-metadata`, options)).resolves.toBe(METADATA);
    expect(seen).toEqual([
      { path: '/redirect-to-metadata', host: `idp.example.com:${port}` },
      { path: '/metadata', host: `idp.example.com:${port}` },
    ]);
  });

  it('refuses a redirect to a private address', async () => {
    const options = { allowPrivateNetworks: false, ...publicIdp() };
    await refusal(fetchMetadata(`http://idp.example.com:${port}/redirect-to-link-local`, options), 'metadata_url_forbidden', /169\.254\.169\.254 \(linkLocal\)/);
    expect(seen.map((r) => r.path)).toEqual(['/redirect-to-link-local']);
  });

  it('refuses a redirect to a host name that resolves to a private address', async () => {
    const options = { allowPrivateNetworks: false, ...publicIdp({ 'internal.corp.test': ['192.168.1.20'] }) };
    await refusal(fetchMetadata(`http://idp.example.com:${port}/redirect-to-internal-host`, options), 'metadata_url_forbidden', /internal\.corp\.test resolves to 192\.168\.1\.20/);
    expect(seen.map((r) => r.path)).toEqual(['/redirect-to-internal-host']);
  });

  it('follows at most 3 redirects', async () => {
    await refusal(fetchMetadata(`http://127.0.0.1:${port}/redirect-loop`, { allowPrivateNetworks: true }), 'metadata_fetch_failed', /more than 3 times/);
    expect(seen).toHaveLength(4);
  });

  it.each([
    ['file:///etc/passwd', /not file/],
    ['ftp://idp.example.com/metadata.xml', /not ftp/],
    ['javascript:alert(1)', /not javascript/],
    ['gopher://127.0.0.1:6379/_INFO', /not gopher/],
    ['/relative/metadata.xml', /not a valid absolute URL/],
  ])('refuses the URL %s', async (url, message) => {
    const lookup = staticLookup({});
    await refusal(fetchMetadata(url, { allowPrivateNetworks: true, lookup }), 'metadata_url_invalid', message);
    expect(lookup).not.toHaveBeenCalled();
  });

  it('refuses a URL with credentials, before resolving anything', async () => {
    const lookup = staticLookup({ 'idp.example.com': [PUBLIC_ADDRESS] });
    await refusal(fetchMetadata('https://admin:secret@idp.example.com/metadata', { allowPrivateNetworks: true, lookup }), 'metadata_url_invalid', /user name or password/);
    await refusal(fetchMetadata('https://admin@idp.example.com/metadata', { allowPrivateNetworks: true, lookup }), 'metadata_url_invalid');
    expect(lookup).not.toHaveBeenCalled();
  });
});

describe('fetchMetadata: limits and failures', () => {
  it('stops reading a body larger than maxBytes', async () => {
    await refusal(fetchMetadata(`http://127.0.0.1:${port}/big-chunked`, { allowPrivateNetworks: true, maxBytes: 4096 }), 'metadata_too_large', /larger than 4096 bytes/);
  });

  it('refuses a declared Content-Length over maxBytes without waiting for the body', async () => {
    await refusal(fetchMetadata(`http://127.0.0.1:${port}/big-declared`, { allowPrivateNetworks: true, timeoutMs: 5000 }), 'metadata_too_large', /larger than 1048576 bytes/);
  });

  it('gives up on a server that never answers', async () => {
    const started = Date.now();
    await refusal(fetchMetadata(`http://127.0.0.1:${port}/hang`, { allowPrivateNetworks: true, timeoutMs: 300 }), 'metadata_fetch_timeout', /within 0\.3 s/);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('gives up on a name lookup that never answers', async () => {
    const lookup: HostLookup = () => new Promise<ResolvedAddress[]>(() => undefined);
    await refusal(fetchMetadata('https://idp.example.com/metadata', { allowPrivateNetworks: false, lookup, timeoutMs: 200 }), 'metadata_fetch_timeout');
  });

  it('refuses a non-2xx answer, keeping the query string out of the message', async () => {
    const error = await refusal(fetchMetadata(`http://127.0.0.1:${port}/missing?tenant=secret`, { allowPrivateNetworks: true }), 'metadata_fetch_failed', /answered HTTP 404/);
    expect(error.message).not.toContain('secret');
  });

  it('reports an unresolvable host name and a refused connection as fetch failures', async () => {
    await refusal(fetchMetadata('https://nowhere.example/metadata', { allowPrivateNetworks: false, lookup: staticLookup({}) }), 'metadata_fetch_failed', /cannot be resolved/);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await refusal(fetchMetadata(`http://127.0.0.1:${closedPort}/`, { allowPrivateNetworks: true }), 'metadata_fetch_failed', /ECONNREFUSED/);
  });
});

describe('forbiddenRange', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private'],
    ['172.16.5.4', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'broadcast'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd12:3456::1', 'uniqueLocal'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'ipv4Mapped loopback'],
    ['::ffff:10.1.2.3', 'ipv4Mapped private'],
    ['::ffff:169.254.169.254', 'ipv4Mapped linkLocal'],
    ['64:ff9b::a00:1', 'rfc6052 private'],
    ['2002:7f00:1::', '6to4'],
    ['2001:db8::1', 'reserved'],
    ['not-an-ip', 'unparseable'],
  ])('refuses %s (%s)', (address, range) => {
    expect(forbiddenRange(address)).toBe(range);
  });

  it.each(['93.184.215.14', '20.190.128.1', '2606:4700:4700::1111', '::ffff:93.184.215.14', '64:ff9b::5db8:d70e'])('allows the public address %s', (address) => {
    expect(forbiddenRange(address)).toBeNull();
  });
});

describe('redirectTarget', () => {
  const from = new URL('https://idp.example.com/federation/metadata.xml');

  it('resolves a relative Location against the URL that answered', () => {
    expect(redirectTarget('/v2/metadata.xml', from).toString()).toBe('https://idp.example.com/v2/metadata.xml');
    expect(redirectTarget('https://cdn.example.net/m.xml', from).toString()).toBe('https://cdn.example.net/m.xml');
  });

  it('refuses to downgrade from https to http', () => {
    expect(() => redirectTarget('http://idp.example.com/metadata.xml', from)).toThrow(expect.objectContaining({ code: 'metadata_url_forbidden' }));
    expect(redirectTarget('http://b.example/m.xml', new URL('http://a.example/')).protocol).toBe('http:');
  });

  it('applies the URL rules to the target (scheme, credentials)', () => {
    expect(() => redirectTarget('file:///etc/passwd', from)).toThrow(expect.objectContaining({ code: 'metadata_url_invalid' }));
    expect(() => redirectTarget('https://u:p@idp.example.com/', from)).toThrow(expect.objectContaining({ code: 'metadata_url_invalid' }));
  });
});
