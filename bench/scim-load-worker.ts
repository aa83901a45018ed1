/**
 * The SCIM benchmark's HTTP client: Entra-shaped requests over keep-alive connections at a fixed concurrency, with
 * per-request latencies. Runs in a child process (so the server's RSS is measured alone) or a worker thread.
 *
 * Phases: `users` POSTs N users (expects 201, returns their ids); `groups` creates G groups, each a POST (empty, as
 * Entra does) then PATCHes adding its members in batches (a group counts once all its requests are done);
 * `lookups` runs `userName eq` filters for random users (expects exactly one result), after an untimed warm-up of
 * its own: the client is a fresh process, and its first requests (connection setup, its own JIT) are not the
 * server's latency.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

export type ScimLoadRequest =
  | {
      phase: 'users';
      url: string;
      token: string;
      concurrency: number;
      n: number;
      prefix: string;
      /** Untimed creates first (in another tenant, by its token): the client is a fresh process, and its own JIT and
       * connection setup are not the server's throughput. */
      warmup?: { token: string; prefix: string; n: number };
    }
  | { phase: 'groups'; url: string; token: string; concurrency: number; groups: number; userIds: string[]; membersPerGroup: number; batch: number; prefix: string }
  | { phase: 'lookups'; url: string; token: string; concurrency: number; lookups: number; n: number; prefix: string };

export interface ScimLoadResult {
  /** Per HTTP request. */
  latencies: number[];
  /** Units of work completed (users, groups, lookups). */
  units: number;
  failures: number;
  elapsedMs: number;
  firstFailure: string | null;
  /** users phase: the created ids, in index order. */
  ids?: string[];
}

const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** Untimed lookups the client makes before it starts timing. */
const LOOKUP_WARMUP = 200;

function lookupPath(userName: string): string {
  return `/scim/v2/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`;
}

/** A user as Entra's provisioning service POSTs it. */
function entraUser(prefix: string, i: number) {
  const userName = userNameOf(prefix, i);
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User'],
    externalId: `${prefix}user${i}`,
    userName,
    active: true,
    displayName: `User ${i}`,
    emails: [{ primary: true, type: 'work', value: userName }],
    name: { formatted: `Given${i} Family${i}`, familyName: `Family${i}`, givenName: `Given${i}` },
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { employeeNumber: String(i), department: `Dept ${i % 20}` },
    roles: [],
  };
}

export function userNameOf(prefix: string, i: number): string {
  return `${prefix}user${i}@contoso.example`;
}

function send(agent: http.Agent, base: URL, token: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      new URL(path, base),
      {
        method,
        agent,
        headers: {
          Authorization: `Bearer ${token}`,
          Accept: 'application/scim+json',
          ...(payload !== undefined ? { 'Content-Type': 'application/scim+json', 'Content-Length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function run(request: ScimLoadRequest, timingStarts: () => void): Promise<ScimLoadResult> {
  const base = new URL(request.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: request.concurrency });
  const latencies: number[] = [];
  let failures = 0;
  let units = 0;
  let firstFailure: string | null = null;
  const timed = async (method: string, path: string, expected: number, body?: unknown) => {
    const t0 = performance.now();
    const res = await send(agent, base, request.token, method, path, body);
    const elapsed = performance.now() - t0;
    if (res.status === expected) latencies.push(elapsed);
    else {
      failures += 1;
      firstFailure ??= `${method} ${path} -> ${res.status} ${res.body.slice(0, 300)}`;
    }
    return res;
  };

  /** Runs each(0..count-1) on `concurrency` request loops. */
  const pool = (count: number, each: (i: number) => Promise<void>): Promise<unknown> => {
    let next = 0;
    return Promise.all(
      Array.from({ length: request.concurrency }, async () => {
        while (next < count) await each(next++);
      }),
    );
  };

  if (request.phase === 'users' && request.warmup) {
    const { token, prefix, n } = request.warmup;
    await pool(n, async (i) => {
      await send(agent, base, token, 'POST', '/scim/v2/Users', entraUser(prefix, i));
    });
  }
  if (request.phase === 'lookups') {
    for (let i = 0; i < LOOKUP_WARMUP; i++) {
      await send(agent, base, request.token, 'GET', lookupPath(userNameOf(request.prefix, i % request.n)));
    }
  }
  const total = request.phase === 'users' ? request.n : request.phase === 'groups' ? request.groups : request.lookups;
  const ids: string[] = request.phase === 'users' ? new Array<string>(request.n) : [];
  timingStarts();
  const started = performance.now();
  await pool(total, async (i) => {
    if (request.phase === 'users') {
      const res = await timed('POST', '/scim/v2/Users', 201, entraUser(request.prefix, i));
      if (res.status === 201) ids[i] = (JSON.parse(res.body) as { id: string }).id;
    } else if (request.phase === 'groups') {
      const res = await timed('POST', '/scim/v2/Groups', 201, {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
        externalId: `${request.prefix}${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`,
        displayName: `Group ${i}`,
      });
      if (res.status !== 201) return;
      const id = (JSON.parse(res.body) as { id: string }).id;
      const n = request.userIds.length;
      // Each user lands in two groups: a block of its own, and one half the directory away.
      const half = request.membersPerGroup / 2;
      const members = [
        ...Array.from({ length: half }, (_, k) => request.userIds[(i * half + k) % n]!),
        ...Array.from({ length: half }, (_, k) => request.userIds[(i * half + k + Math.floor(n / 2)) % n]!),
      ];
      for (let from = 0; from < members.length; from += request.batch) {
        await timed('PATCH', `/scim/v2/Groups/${id}`, 204, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'Add', path: 'members', value: members.slice(from, from + request.batch).map((value) => ({ value })) }],
        });
      }
    } else {
      const userName = userNameOf(request.prefix, Math.floor(Math.random() * request.n));
      const res = await timed('GET', lookupPath(userName), 200);
      if (res.status === 200 && (JSON.parse(res.body) as { totalResults: number }).totalResults !== 1) {
        failures += 1;
        firstFailure ??= `lookup of ${userName} found ${res.body.slice(0, 200)}`;
      }
    }
    units += 1;
  });
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { latencies, units, failures, elapsedMs, firstFailure, ...(request.phase === 'users' ? { ids } : {}) };
}

/** What the client tells the benchmark: when its timed phase starts (after any warm-up), then the result. */
export type ScimLoadMessage = { kind: 'timing' } | ({ kind: 'result' } & ScimLoadResult);

if (parentPort) {
  const post = (message: ScimLoadMessage) => parentPort!.postMessage(message);
  run(workerData as ScimLoadRequest, () => post({ kind: 'timing' })).then((result) => post({ kind: 'result', ...result }));
} else if (process.send) {
  process.once('message', (request: ScimLoadRequest) => {
    void run(request, () => process.send!({ kind: 'timing' } satisfies ScimLoadMessage)).then((result) =>
      process.send!({ kind: 'result', ...result } satisfies ScimLoadMessage, () => process.exit(0)),
    );
  });
}
