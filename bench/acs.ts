/**
 * `npm run bench:acs`: sign-in throughput through the real HTTP ACS (pre-flight checks, node-saml, replay cache,
 * JIT provisioning, session creation, SQLite file store) against a bare node-saml validate loop on the same
 * responses. Prints logins/s, p50/p99 and the ratio, for a first-login run and a repeat-login run.
 *
 * Options: --n 2000 --concurrency 16 --groups 20 --json
 * The HTTP client runs in a worker thread so the server keeps the main thread to itself, as in production.
 * Gatehouse validates signatures on SAML_WORKERS worker threads, as src/server.ts does (default: one per CPU; 0 =
 * on the main thread). The bare node-saml loop always runs on the main thread.
 */
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { SAML, ValidateInResponseTo } from '@node-saml/node-saml';
import { parseEnv } from '../src/config/env';
import { createTestGateway } from '../test/helpers/gateway';
import { TestIdp, testCertPem, type SpTarget } from '../test/helpers/test-idp';
import { parseArgs, summarise, type RunSummary } from './stats';
import type { LoadRequest, LoadResult } from './http-load-worker';

const args = parseArgs(process.argv.slice(2), { n: 2000, concurrency: 16, groups: 20 });
const BASE_URL = 'http://127.0.0.1';

function groupIds(count: number, seed: number): string[] {
  return Array.from({ length: count }, (_, i) => `${(seed % 0xffffffff).toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`);
}

function buildResponses(idp: TestIdp, sp: SpTarget, n: number, groups: number): string[] {
  const bodies: string[] = [];
  for (let i = 0; i < n; i++) {
    const upn = `user${i}@contoso.example`;
    bodies.push(
      idp.buildResponse(sp, {
        user: {
          upn,
          email: upn,
          givenName: `Given${i}`,
          surname: `Family${i}`,
          displayName: `User ${i}`,
          objectId: `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`,
          // A tenant-wide pool of groups, 20 per user, overlapping between users as in real directories.
          groups: groupIds(groups, i % 50),
        },
      }).samlResponse,
    );
  }
  return bodies;
}

async function bareNodeSaml(sp: SpTarget, bodies: string[], concurrency: number): Promise<RunSummary> {
  // The same options Gatehouse gives node-saml for an IdP-initiated-capable connection (src/saml/service.ts).
  const saml = new SAML({
    callbackUrl: sp.acsUrl,
    issuer: sp.entityId,
    audience: sp.entityId,
    idpCert: [testCertPem('idp-signing-1')],
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    acceptedClockSkewMs: 180_000,
    maxAssertionAgeMs: 300_000,
    validateInResponseTo: ValidateInResponseTo.ifPresent,
    disableRequestedAuthnContext: true,
    identifierFormat: null,
  });
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++]!;
        const t0 = performance.now();
        await saml.validatePostResponseAsync({ SAMLResponse: body });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return summarise(latencies, performance.now() - started, 0);
}

interface MainThreadStats {
  /** Event-loop delay (ms): how long a concurrent request such as /auth/check waits before it is even looked at. */
  loopDelay: { p50: number; p99: number; max: number };
  /** Time the server's main thread was busy (not waiting for I/O or workers), in ms. */
  busyMs: number;
}

/** What the server's main thread went through while fn ran. */
async function onMainThread<T>(fn: () => Promise<T>): Promise<{ result: T; main: MainThreadStats }> {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 5 });
  const before = performance.eventLoopUtilization();
  histogram.enable();
  const result = await fn();
  histogram.disable();
  const { active } = performance.eventLoopUtilization(before);
  const ms = (ns: number) => +(ns / 1e6).toFixed(2);
  return {
    result,
    main: { loopDelay: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) }, busyMs: Math.round(active) },
  };
}

function httpLoad(request: LoadRequest): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(path.join(__dirname, 'http-load-worker.js'), { workerData: request });
    worker.once('message', (m: LoadResult) => resolve(m));
    worker.once('error', reject);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-'));
  const { samlWorkers } = parseEnv({ SAML_WORKERS: process.env.SAML_WORKERS });
  // The same app the HTTP tests build, on a file database and with production's worker count.
  const { app, admin, store, close } = await createTestGateway({
    baseUrl: BASE_URL,
    databaseUrl: `sqlite:${path.join(dir, 'bench.db')}`,
    samlWorkers,
    acsRateLimitPerMinute: 1_000_000_000,
  });
  const idp = new TestIdp();
  await admin.createTenant({ slug: 'contoso', name: 'Contoso' });
  const conn = await admin.createConnection('contoso', { slug: 'bench', metadataXml: idp.metadataXml() });
  const sp: SpTarget = { entityId: conn.spEntityId, acsUrl: conn.acsUrl };

  const server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = (server.address() as { port: number }).port;
  const target = `http://127.0.0.1:${port}/sso/bench/acs`;

  const log = (s: string) => process.stderr.write(`${s}\n`);
  log(`signing ${args.n} first-login and ${args.n} repeat-login responses (${args.groups} groups each)...`);
  const first = buildResponses(idp, sp, args.n, args.groups);
  const repeat = buildResponses(idp, sp, args.n, args.groups);
  const bareFirst = buildResponses(idp, sp, args.n, args.groups);

  // Warm-up: JIT, V8 and SQLite page cache, on users outside the measured set.
  await httpLoad({ url: target, bodies: Array.from({ length: 200 }, (_, i) => buildWarmup(idp, sp, i, args.groups)), concurrency: args.concurrency });
  await bareNodeSaml(sp, buildResponses(idp, sp, 200, args.groups), args.concurrency);

  log('measuring...');
  const bare = await bareNodeSaml(sp, bareFirst, args.concurrency);
  const { result: firstRun, main: firstMain } = await onMainThread(() => httpLoad({ url: target, bodies: first, concurrency: args.concurrency }));
  const { result: repeatRun, main: repeatMain } = await onMainThread(() => httpLoad({ url: target, bodies: repeat, concurrency: args.concurrency }));
  const users = await store.users.listByTenant(conn.tenantId, { offset: 0, limit: 1 });

  server.close();
  await close();
  rmSync(dir, { recursive: true, force: true });

  for (const [name, run] of [['first', firstRun], ['repeat', repeatRun]] as const) {
    if (run.firstFailure) process.stderr.write(`${name}-login run: ${run.failures} failures, first: ${run.firstFailure}\n`);
  }
  const gFirst = summarise(firstRun.latencies, firstRun.elapsedMs, firstRun.failures);
  const gRepeat = summarise(repeatRun.latencies, repeatRun.elapsedMs, repeatRun.failures);
  const report = {
    n: args.n,
    concurrency: args.concurrency,
    groupsPerUser: args.groups,
    usersInStore: users.total,
    samlWorkers,
    loadAverage: loadavg().map((l) => +l.toFixed(2)),
    bareNodeSaml: bare,
    gatehouseFirstLogin: gFirst,
    gatehouseRepeatLogin: gRepeat,
    serverMainThread: { firstLogin: firstMain, repeatLogin: repeatMain },
    ratioFirstLogin: +(gFirst.perSecond / bare.perSecond).toFixed(3),
    ratioRepeatLogin: +(gRepeat.perSecond / bare.perSecond).toFixed(3),
    node: process.version,
  };
  if (args.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } else {
    const row = (name: string, s: RunSummary) =>
      `${name.padEnd(28)} ${s.perSecond.toFixed(0).padStart(7)} logins/s   p50 ${s.p50.toFixed(2).padStart(6)} ms   p99 ${s.p99.toFixed(2).padStart(6)} ms   failures ${s.failures}`;
    process.stdout.write(
      [
        `ACS benchmark: n=${args.n}, concurrency=${args.concurrency}, ${args.groups} groups per user, sqlite file store, ${process.version}`,
        `SAML_WORKERS=${samlWorkers}, load average at the end ${report.loadAverage.join(' ')}`,
        row('bare node-saml validate', bare),
        row('Gatehouse ACS, first login', gFirst),
        row('Gatehouse ACS, repeat login', gRepeat),
        `ratio vs bare node-saml: first login ${report.ratioFirstLogin}x, repeat login ${report.ratioRepeatLogin}x (target >= 0.9x)`,
        `repeat/first throughput: ${(gRepeat.perSecond / gFirst.perSecond).toFixed(2)}x (target >= 1.0x)`,
        ...(
          [
            ['first login', firstMain, args.n],
            ['repeat login', repeatMain, args.n],
          ] as const
        ).map(
          ([name, m, n]) =>
            `server main thread, ${name}: busy ${(m.busyMs / n).toFixed(2)} ms per login; event-loop delay p50 ${m.loopDelay.p50} ms, p99 ${m.loopDelay.p99} ms, max ${m.loopDelay.max} ms`,
        ),
        '',
      ].join('\n'),
    );
  }
  if (gFirst.failures > 0 || gRepeat.failures > 0) process.exitCode = 1;
}

function buildWarmup(idp: TestIdp, sp: SpTarget, i: number, groups: number): string {
  const upn = `warmup${i}@contoso.example`;
  return idp.buildResponse(sp, {
    user: { upn, email: upn, givenName: 'W', surname: 'U', displayName: 'Warm Up', objectId: `11111111-0000-4000-8000-${i.toString(16).padStart(12, '0')}`, groups: groupIds(groups, 7) },
  }).samlResponse;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
