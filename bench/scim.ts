/**
 * `npm run bench:scim`: an initial SCIM sync as Entra's provisioning service does it, through the real HTTP app on a
 * SQLite file store: N users (POST /Users), then N/10 groups (POST, then PATCH member adds, 20 members each, so every
 * user is in two groups), at concurrency 8; then `userName eq` filter lookups at the end size. For each N: users/s,
 * groups/s, request p50/p99, peak RSS, lookup p50/p99 (sequential, and at concurrency 8).
 *
 * Options: --sizes 1000,10000,100000 --concurrency 8 --lookups 2000 --client process|thread --json
 * (through npm: `npm run bench:scim -- --sizes 1000`). SCIM_BENCH_SIZES=1000,10000 sets the sizes too; --sizes wins.
 * The load client runs in a child process by default, so "peak RSS" is the server process's alone. A fresh client
 * process warms up before it times anything (1000 creates in the warm-up tenant before the users phase, 200 lookups
 * before each lookup run), so its own JIT and connection setup are not counted as the server's.
 * Targets (sqlite): >= 1500 user creates/s at 10k; userName eq lookup p99 < 5 ms at 100k; users/s at 100k within 20%
 * of 1k; RSS < 300 MB.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { silentLogger } from '../src/common/log';
import { createApp } from '../src/http/app';
import { SamlService } from '../src/saml/service';
import { openStore } from '../src/store';
import { TestIdp } from '../test/helpers/test-idp';
import { readFixture } from './fixtures';
import type { ScimLoadMessage, ScimLoadRequest, ScimLoadResult } from './scim-load-worker';
import { summarise, type RunSummary } from './stats';

interface Options {
  sizes: number[];
  concurrency: number;
  lookups: number;
  json: boolean;
}

function parseSizes(text: string, from: string): number[] {
  const sizes = text.split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 20)) throw new Error(`${from} takes whole numbers >= 20, e.g. 1000,10000`);
  return sizes;
}

function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Options {
  const fromEnv = env.SCIM_BENCH_SIZES?.trim();
  const options: Options = {
    sizes: fromEnv ? parseSizes(fromEnv, 'SCIM_BENCH_SIZES') : [1000, 10_000, 100_000],
    concurrency: 8,
    lookups: 2000,
    json: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    if (arg === '--json') options.json = true;
    else if (arg === '--client') {
      const mode = value();
      if (mode !== 'process' && mode !== 'thread') throw new Error('--client is process or thread');
      clientMode = mode;
    }
    else if (arg === '--sizes') {
      options.sizes = parseSizes(value(), '--sizes');
    } else if (arg === '--concurrency' || arg === '--lookups') {
      const n = Number(value());
      if (!Number.isInteger(n) || n < 1) throw new Error(`${arg} needs a positive whole number`);
      options[arg.slice(2) as 'concurrency' | 'lookups'] = n;
    } else throw new Error(`unknown option ${arg}; options: --sizes 1000,10000,100000 --concurrency 8 --lookups 2000 --json`);
  }
  return options;
}

/**
 * Runs one load phase in a child process (like bench/acs.ts's worker-thread client, but out of process, so the
 * RSS sampled here is the server's alone); `--client thread` runs it on a worker thread instead.
 */
function load(request: ScimLoadRequest, onTimingStart?: () => void): Promise<ScimLoadResult> {
  const file = path.join(__dirname, 'scim-load-worker.js');
  return new Promise((resolve, reject) => {
    const receive = (message: ScimLoadMessage) => {
      if (message.kind === 'timing') onTimingStart?.();
      else resolve(message);
    };
    if (clientMode === 'thread') {
      const worker = new Worker(file, { workerData: request });
      worker.on('message', receive);
      worker.once('error', reject);
      return;
    }
    const child = fork(file, [], { serialization: 'advanced' });
    child.on('message', receive);
    child.once('error', reject);
    child.once('exit', (code) => code !== 0 && reject(new Error(`load client exited with ${code}`)));
    child.send(request);
  });
}

let clientMode: 'process' | 'thread' = 'process';

/** A full collection before each timed phase, so the warm-up's garbage is not collected on the clock. */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

interface SizeReport {
  n: number;
  groups: number;
  usersPerSecond: number;
  groupsPerSecond: number;
  userRequests: RunSummary;
  groupRequests: RunSummary;
  lookupSequential: RunSummary;
  lookupConcurrent: RunSummary;
  peakRssMb: number;
  /** Main-thread busy time per user create (event-loop utilisation x elapsed / N). */
  serverMsPerUser: number;
  failures: number;
}

async function runSize(n: number, options: Options, log: (s: string) => void): Promise<SizeReport> {
  const dir = mkdtempSync(path.join(tmpdir(), 'gatehouse-bench-scim-'));
  const logger = silentLogger();
  const store = await openStore(`sqlite:${path.join(dir, 'bench.db')}`, { logger });
  const baseUrl = 'http://127.0.0.1';
  const saml = new SamlService({
    baseUrl,
    spPrivateKeyPem: readFixture('sp-signing.key'),
    spCertPem: readFixture('sp-signing.crt'),
    replayCache: store.replayCache,
    requestCache: store.requestCache,
    logger,
  });
  const { app, admin } = createApp({
    store,
    saml,
    logger,
    baseUrl,
    sessionSecret: 'bench-session-secret-0123456789abcdefghijklmnop',
    adminApiKey: 'bench-admin-key-0123456789abcdefghijklmnop',
    sessionIdleMs: 3_600_000,
    sessionAbsoluteMs: 12 * 3_600_000,
    trustProxy: false,
    allowPrivateMetadataUrls: false,
    acsRateLimitPerMinute: 1_000_000,
    scimRateLimitPerMinute: 1_000_000_000,
  });
  const idp = new TestIdp();
  const setUp = async (slug: string) => {
    await admin.createTenant({ slug, name: slug });
    await admin.createConnection(slug, { slug: `${slug}-entra`, metadataXml: idp.metadataXml() });
    return (await admin.createScimToken(`${slug}-entra`, {})).token;
  };
  const warmToken = await setUp('warmup');
  const token = await setUp('contoso');

  const server = createServer(app).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 100);
  const c = options.concurrency;
  const groups = Math.max(1, Math.floor(n / 10));
  try {
    // Warm-up (JIT, statement caches) in another tenant, outside the measured data.
    const warm = await load({ phase: 'users', url, token: warmToken, concurrency: c, n: 4000, prefix: 'w' });
    await load({ phase: 'groups', url, token: warmToken, concurrency: c, groups: 200, userIds: warm.ids!, membersPerGroup: 20, batch: 10, prefix: 'w' });
    await load({ phase: 'lookups', url, token: warmToken, concurrency: 1, lookups: 1000, n: 4000, prefix: 'w' });

    log(`N=${n}: creating ${n} users...`);
    collectGarbage();
    let elu0 = performance.eventLoopUtilization();
    const users = await load({ phase: 'users', url, token, concurrency: c, n, prefix: '', warmup: { token: warmToken, prefix: 'v', n: 1000 } }, () => {
      elu0 = performance.eventLoopUtilization();
    });
    // Busy time of the server's (main) thread per user create: what the server costs, whatever else runs.
    const userBusyMs = performance.eventLoopUtilization(elu0).active / n;
    log(`N=${n}: creating ${groups} groups with memberships...`);
    collectGarbage();
    const groupRun = await load({ phase: 'groups', url, token, concurrency: c, groups, userIds: users.ids!, membersPerGroup: 20, batch: 10, prefix: '' });
    log(`N=${n}: ${options.lookups} userName lookups...`);
    collectGarbage();
    const sequential = await load({ phase: 'lookups', url, token, concurrency: 1, lookups: options.lookups, n, prefix: '' });
    const concurrent = await load({ phase: 'lookups', url, token, concurrency: c, lookups: options.lookups, n, prefix: '' });
    for (const [name, r] of [['users', users], ['groups', groupRun], ['lookups', sequential], ['lookups c8', concurrent]] as const) {
      if (r.firstFailure) log(`N=${n} ${name}: ${r.failures} failures, first: ${r.firstFailure}`);
    }
    return {
      n,
      groups,
      usersPerSecond: +((users.units / users.elapsedMs) * 1000).toFixed(1),
      groupsPerSecond: +((groupRun.units / groupRun.elapsedMs) * 1000).toFixed(1),
      userRequests: summarise(users.latencies, users.elapsedMs, users.failures),
      groupRequests: summarise(groupRun.latencies, groupRun.elapsedMs, groupRun.failures),
      lookupSequential: summarise(sequential.latencies, sequential.elapsedMs, sequential.failures),
      lookupConcurrent: summarise(concurrent.latencies, concurrent.elapsedMs, concurrent.failures),
      peakRssMb: Math.round(peakRss / 1024 / 1024),
      serverMsPerUser: +userBusyMs.toFixed(3),
      failures: users.failures + groupRun.failures + sequential.failures + concurrent.failures,
    };
  } finally {
    clearInterval(sampler);
    server.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const reports: SizeReport[] = [];
  for (const n of options.sizes) {
    reports.push(await runSize(n, options, log));
  }
  const first = reports[0]!;
  const last = reports[reports.length - 1]!;
  const machine = { node: process.version, cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown' };
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ concurrency: options.concurrency, machine, reports }, null, 2)}\n`);
  } else {
    const lines = [
      `SCIM initial-sync benchmark: concurrency ${options.concurrency}, sqlite file store, ${machine.node}, ${machine.cpus} x ${machine.cpu}`,
      `${'N'.padStart(7)} ${'users/s'.padStart(8)} ${'user p50/p99 ms'.padStart(16)} ${'groups/s'.padStart(9)} ${'group req p50/p99 ms'.padStart(21)} ${'lookup p50/p99 ms (c=1)'.padStart(24)} ${'(c=8)'.padStart(14)} ${'peak RSS'.padStart(9)} ${'srv/user'.padStart(9)}`,
      ...reports.map(
        (r) =>
          `${String(r.n).padStart(7)} ${r.usersPerSecond.toFixed(0).padStart(8)} ${`${r.userRequests.p50.toFixed(2)}/${r.userRequests.p99.toFixed(2)}`.padStart(16)} ${r.groupsPerSecond
            .toFixed(0)
            .padStart(9)} ${`${r.groupRequests.p50.toFixed(2)}/${r.groupRequests.p99.toFixed(2)}`.padStart(21)} ${`${r.lookupSequential.p50.toFixed(2)}/${r.lookupSequential.p99.toFixed(
            2,
          )}`.padStart(24)} ${`${r.lookupConcurrent.p50.toFixed(2)}/${r.lookupConcurrent.p99.toFixed(2)}`.padStart(14)} ${`${r.peakRssMb} MB`.padStart(9)} ${`${r.serverMsPerUser.toFixed(2)} ms`.padStart(9)}${
            r.failures > 0 ? `  FAILURES ${r.failures}` : ''
          }`,
      ),
      `users/s at ${last.n} vs ${first.n}: ${((last.usersPerSecond / first.usersPerSecond) * 100).toFixed(0)}% (target >= 80%)`,
      `targets: >= 1500 user creates/s at 10k; userName eq p99 < 5 ms at 100k; RSS < 300 MB`,
      '',
    ];
    process.stdout.write(lines.join('\n'));
  }
  if (reports.some((r) => r.failures > 0)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
