/**
 * End-to-end helpers: a running Gatehouse (real config, SQLite file store, HTTP server), a small test IdP served
 * over HTTP that signs Entra-shaped responses and auto-posts them to the ACS like a real IdP page, and Debian's
 * Chromium driven by playwright-core.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { chromium, type Browser } from 'playwright-core';
import { loadConfig } from '../../src/config';
import { silentLogger } from '../../src/common/log';
import { startGateway, type RunningGateway } from '../../src/server';
import { escapeXml, TestIdp, type ResponseOptions, type SpTarget } from '../helpers/test-idp';

export const FIXTURES = path.resolve(__dirname, '../fixtures');
/** The README's screenshots are refreshed only on request; a normal run writes them to a temp dir (still rendered). */
export const SCREENSHOTS =
  process.env.GATEHOUSE_SCREENSHOTS === '1'
    ? path.resolve(__dirname, '../../docs/screenshots')
    : path.join(tmpdir(), 'gatehouse-e2e-screenshots');

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Playwright gives every launch a fresh, empty user-data dir of its own (and removes it on close). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

export interface E2eGateway {
  gateway: RunningGateway;
  /** Gatehouse's public origin: http://localhost:<port> (the IdP lives on 127.0.0.1, another site). */
  baseUrl: string;
  adminApiKey: string;
  dataDir: string;
  admin(method: string, pathname: string, body?: unknown): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startE2eGateway(): Promise<E2eGateway> {
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'gatehouse-e2e-'));
  const baseUrl = `http://localhost:${port}`;
  const config = await loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    BASE_URL: baseUrl,
    DATABASE_URL: `sqlite:${path.join(dataDir, 'gatehouse.db')}`,
    DATA_DIR: dataDir,
    SP_KEY_FILE: path.join(FIXTURES, 'sp-signing.key'),
    SP_CERT_FILE: path.join(FIXTURES, 'sp-signing.crt'),
    LOG_LEVEL: 'silent',
  });
  const gateway = await startGateway(config, silentLogger());
  const admin = async (method: string, pathname: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${port}${pathname}`, {
      method,
      headers: { Authorization: `Bearer ${config.adminApiKey}`, 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  return {
    gateway,
    baseUrl,
    adminApiKey: config.adminApiKey,
    dataDir,
    admin,
    stop: async () => {
      await gateway.stop(1000);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A test IdP on http://127.0.0.1:<port>: `/saml2` answers an AuthnRequest (HTTP-Redirect binding) with a signed
 * response auto-posted to the ACS; `/launch` is the "My Apps tile" (IdP-initiated). `nextResponse` lets a test
 * shape the next answer (e.g. an expired assertion).
 */
export class HttpTestIdp {
  readonly idp = new TestIdp();
  server: Server | null = null;
  origin = '';
  sp: SpTarget | null = null;
  nextResponse: ResponseOptions = {};

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', this.origin);
      if (url.pathname === '/saml2' || url.pathname === '/launch') {
        const options: ResponseOptions = { ...this.nextResponse };
        this.nextResponse = {};
        let relayState = url.searchParams.get('RelayState') ?? url.searchParams.get('relayState') ?? undefined;
        if (url.pathname === '/saml2') {
          const xml = inflateRawSync(Buffer.from(url.searchParams.get('SAMLRequest') ?? '', 'base64')).toString('utf8');
          options.inResponseTo = /\sID="([^"]+)"/.exec(xml)?.[1] ?? null;
        } else {
          relayState = url.searchParams.get('relayState') ?? undefined;
        }
        const body = this.idp.postBody(this.sp!, { ...options, relayState });
        res.setHeader('Content-Type', 'text/html; charset=utf-8');
        res.end(`<!doctype html><html><body><p>Signing you in…</p>
<form id="f" method="post" action="${escapeXml(this.sp!.acsUrl)}">
<input type="hidden" name="SAMLResponse" value="${escapeXml(body.SAMLResponse)}">
${body.RelayState !== undefined ? `<input type="hidden" name="RelayState" value="${escapeXml(body.RelayState)}">` : ''}
</form><script>document.getElementById('f').submit()</script></body></html>`);
        return;
      }
      res.statusCode = 404;
      res.end();
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.origin = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Entra-shaped federation metadata whose SSO endpoint is this HTTP server. */
  metadataXml(): string {
    return this.idp.metadataXml({ certs: ['idp-signing-1', 'idp-signing-2'] }).split(this.idp.ssoUrl).join(`${this.origin}/saml2`);
  }

  async stop(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

export function ensureScreenshotsDir(): string {
  mkdirSync(SCREENSHOTS, { recursive: true });
  return SCREENSHOTS;
}
