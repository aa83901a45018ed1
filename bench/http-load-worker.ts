/**
 * The benchmark's HTTP client, run in a worker thread: POSTs each SAMLResponse to the ACS over keep-alive
 * connections with a fixed concurrency and reports per-request latencies. A request counts as a success only when
 * the ACS answers 303 (signed in and redirected).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

export interface LoadRequest {
  url: string;
  bodies: string[];
  concurrency: number;
}

export interface LoadResult {
  latencies: number[];
  failures: number;
  elapsedMs: number;
  firstFailure: string | null;
}

function post(agent: http.Agent, url: URL, samlResponse: string): Promise<{ status: number; body: string }> {
  const payload = `SAMLResponse=${encodeURIComponent(samlResponse)}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(payload), Accept: 'text/html' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function run(request: LoadRequest): Promise<LoadResult> {
  const url = new URL(request.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: request.concurrency });
  const latencies: number[] = [];
  let failures = 0;
  let firstFailure: string | null = null;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: request.concurrency }, async () => {
      while (next < request.bodies.length) {
        const body = request.bodies[next++]!;
        const t0 = performance.now();
        const res = await post(agent, url, body);
        const elapsed = performance.now() - t0;
        if (res.status === 303) latencies.push(elapsed);
        else {
          failures += 1;
          firstFailure ??= `${res.status} ${res.body.slice(0, 300)}`;
        }
      }
    }),
  );
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { latencies, failures, elapsedMs, firstFailure };
}

if (parentPort) {
  run(workerData as LoadRequest).then((result) => parentPort!.postMessage(result));
}
