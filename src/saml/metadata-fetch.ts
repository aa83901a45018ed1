/**
 * Downloads IdP metadata from an admin-supplied URL without becoming an SSRF tool.
 *
 * The URL's host is resolved once, every address is vetted (no loopback, private, link-local, CGNAT, ... unless the
 * deployment allows private networks), and the connection is pinned to the vetted address through a custom `lookup`,
 * so a DNS answer that changes between the check and the connect (DNS rebinding) cannot redirect it. The Host header
 * and TLS SNI/certificate check still use the host name. Redirects are followed (at most 3), each hop vetted again.
 * The body is streamed with a byte cap, and one deadline covers DNS, connect, redirects and the body.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { MetadataError } from './metadata';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses. */
export type HostLookup = (hostname: string) => Promise<ResolvedAddress[]>;

export interface FetchMetadataOptions {
  /** Allow loopback/private/link-local/... targets (an on-premises IdP). Off by default in deployments. */
  allowPrivateNetworks: boolean;
  /** Deadline for the whole download, redirects included. Default 10 s. */
  timeoutMs?: number;
  /** Largest accepted body. Default 1 MiB. */
  maxBytes?: number;
  /** Host name resolution; default dns.lookup (all addresses). Tests inject one. */
  lookup?: HostLookup;
  /**
   * Test seam only: where a vetted address is really dialled (default: the address itself). Lets a test serve a
   * "public" address from a local server while every vetting rule still applies. Never set it in production.
   */
  dialOverride?: (vetted: ResolvedAddress) => ResolvedAddress;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export async function fetchMetadata(url: string, options: FetchMetadataOptions): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const lookup = options.lookup ?? systemLookup;

  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), timeoutMs);
  try {
    let current = parseMetadataUrl(url);
    for (let redirects = 0; ; redirects++) {
      const vetted = await withDeadline(resolveAndVet(current, lookup, options.allowPrivateNetworks), deadline.signal);
      const dialled = options.dialOverride ? options.dialOverride(vetted) : vetted;
      const response = await request(current, dialled, deadline.signal);
      const status = response.statusCode ?? 0;

      if (REDIRECT_STATUSES.has(status)) {
        response.resume(); // discard the redirect's body
        const location = response.headers.location;
        if (!location) throw new MetadataError('metadata_fetch_failed', `${describe(current)} answered HTTP ${status} without a Location.`);
        if (redirects >= MAX_REDIRECTS) {
          throw new MetadataError('metadata_fetch_failed', `The metadata URL redirected more than ${MAX_REDIRECTS} times.`);
        }
        current = redirectTarget(location, current);
        continue;
      }
      if (status < 200 || status > 299) {
        response.resume();
        throw new MetadataError('metadata_fetch_failed', `${describe(current)} answered HTTP ${status}; expected 200 with the metadata XML.`);
      }
      return await readBody(response, maxBytes, current);
    }
  } catch (error) {
    if (deadline.signal.aborted && !(error instanceof MetadataError && error.code === 'metadata_too_large')) {
      throw new MetadataError('metadata_fetch_timeout', `The metadata URL did not answer within ${timeoutMs / 1000} s.`);
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

function parseMetadataUrl(value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new MetadataError('metadata_url_invalid', 'The metadata URL is not a valid absolute URL.');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new MetadataError('metadata_url_invalid', `The metadata URL must use https (or http), not ${url.protocol.replace(/:$/, '')}.`);
  }
  if (url.username !== '' || url.password !== '') {
    // Credentials in a URL end up in logs and stored connection settings; refuse rather than leak them.
    throw new MetadataError('metadata_url_invalid', 'The metadata URL must not contain a user name or password.');
  }
  return url;
}

/**
 * Where a redirect with this Location leads from `from`: resolved (Location may be relative) and checked like the
 * first URL. A redirect must not quietly drop TLS either: the metadata carries the keys everything else trusts.
 */
export function redirectTarget(location: string, from: URL): URL {
  let resolved: string;
  try {
    resolved = new URL(location, from).toString();
  } catch {
    throw new MetadataError('metadata_fetch_failed', `${describe(from)} redirected to an invalid URL.`);
  }
  const next = parseMetadataUrl(resolved);
  if (from.protocol === 'https:' && next.protocol !== 'https:') {
    throw new MetadataError('metadata_url_forbidden', `The metadata URL redirected from https to ${describe(next)}, which is refused.`);
  }
  return next;
}

/** The URL without query and fragment, for messages (a query may carry a tenant-specific secret). */
function describe(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

const systemLookup: HostLookup = async (hostname) => {
  const addresses = await dnsLookup(hostname, { all: true, verbatim: true });
  return addresses.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

/** Resolves the URL's host and returns the address to connect to, refusing the host if any address is forbidden. */
async function resolveAndVet(url: URL, lookup: HostLookup, allowPrivateNetworks: boolean): Promise<ResolvedAddress> {
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1'); // IPv6 literals come bracketed
  let addresses: ResolvedAddress[];
  if (ipaddr.isValid(hostname)) {
    addresses = [{ address: hostname, family: ipaddr.parse(hostname).kind() === 'ipv6' ? 6 : 4 }];
  } else {
    try {
      addresses = await lookup(hostname);
    } catch {
      throw new MetadataError('metadata_fetch_failed', `The host name ${hostname} of the metadata URL cannot be resolved.`);
    }
  }
  if (addresses.length === 0) {
    throw new MetadataError('metadata_fetch_failed', `The host name ${hostname} of the metadata URL cannot be resolved.`);
  }
  if (!allowPrivateNetworks) {
    // Every address, not just the first: the pinned connection must not be the only thing standing in the way.
    for (const { address } of addresses) {
      const range = forbiddenRange(address);
      if (range) {
        throw new MetadataError(
          'metadata_url_forbidden',
          `The metadata URL's host ${hostname} resolves to ${address} (${range}), which Gatehouse does not fetch from. ` +
            'Use the IdP\'s public metadata URL, or upload the metadata XML instead.',
        );
      }
    }
  }
  return addresses[0] as ResolvedAddress;
}

/**
 * The name of the non-public range `address` belongs to, or null for a public unicast address. Allow-list logic:
 * only ipaddr.js's 'unicast' range is public; IPv6 forms embedding an IPv4 address (IPv4-mapped, NAT64) are judged by
 * the IPv4 address inside.
 */
export function forbiddenRange(address: string): string | null {
  let parsed: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    parsed = ipaddr.parse(address);
  } catch {
    return 'unparseable';
  }
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    const range = v6.range();
    if (range === 'ipv4Mapped' || range === 'rfc6052') {
      const [, , , , , , hi = 0, lo = 0] = v6.parts;
      const inner = forbiddenRange(`${hi >> 8}.${hi & 0xff}.${lo >> 8}.${lo & 0xff}`);
      return inner ? `${range} ${inner}` : null;
    }
    return range === 'unicast' ? null : range;
  }
  const range = (parsed as ipaddr.IPv4).range();
  return range === 'unicast' ? null : range;
}

function withDeadline<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Error('aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A lookup that only ever answers with the vetted address (both callback shapes Node uses). */
function pinnedLookup(vetted: ResolvedAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: vetted.address, family: vetted.family }]);
    else callback(null, vetted.address, vetted.family);
  };
}

function request(url: URL, vetted: ResolvedAddress, signal: AbortSignal): Promise<http.IncomingMessage> {
  const isHttps = url.protocol === 'https:';
  const requestOptions: https.RequestOptions = {
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port || (isHttps ? 443 : 80),
    path: `${url.pathname}${url.search}`,
    method: 'GET',
    headers: {
      Accept: 'application/samlmetadata+xml, application/xml;q=0.9, text/xml;q=0.8, */*;q=0.1',
      'Accept-Encoding': 'identity',
      'User-Agent': 'Gatehouse-metadata-fetch',
    },
    lookup: pinnedLookup(vetted),
    // A fresh socket per request: a pooled one could be connected somewhere this hop's vetting never saw.
    agent: false,
    signal,
  };
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = (isHttps ? https : http).request(requestOptions, resolve);
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (signal.aborted) {
        reject(error);
        return;
      }
      reject(new MetadataError('metadata_fetch_failed', `Cannot download the metadata from ${describe(url)}: ${error.code ?? error.message}.`));
    });
    req.end();
  });
}

async function readBody(response: http.IncomingMessage, maxBytes: number, url: URL): Promise<string> {
  const tooLarge = (): MetadataError =>
    new MetadataError('metadata_too_large', `The metadata at ${describe(url)} is larger than ${maxBytes} bytes, which Gatehouse does not accept.`);
  const declared = Number(response.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    response.destroy();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let received = 0;
  try {
    for await (const chunk of response as AsyncIterable<Buffer>) {
      received += chunk.length;
      if (received > maxBytes) {
        response.destroy();
        throw tooLarge();
      }
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof MetadataError) throw error;
    throw new MetadataError('metadata_fetch_failed', `The download of the metadata from ${describe(url)} was interrupted.`);
  }
  return decodeXmlBytes(Buffer.concat(chunks));
}

/** Metadata is UTF-8 in practice; honour a UTF-16 byte-order mark, and drop a UTF-8 one. */
function decodeXmlBytes(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  return new TextDecoder('utf-8').decode(bytes);
}
