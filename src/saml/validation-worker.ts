/**
 * A validation worker thread (started by validation-pool.ts): runs stage 2 of the ACS pipeline
 * (validation-core.ts) for the jobs the main thread posts, one at a time and in arrival order, and posts back a
 * plain result. The pool relies on that order: the oldest job it has handed to a worker is the one running.
 *
 * Protocol: the worker posts { type: 'ready' } once loaded; then for each { id, job } it posts { id, outcome }
 * (accepted or refused) or { id, error } (an unexpected failure, which the main thread turns into a 500).
 */
import { parentPort } from 'node:worker_threads';
import { ResponseValidator, type ValidationJob, type ValidationOutcome } from './validation-core';

export interface WorkerRequest {
  id: number;
  job: ValidationJob;
}

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'result'; id: number; outcome: ValidationOutcome }
  | { type: 'error'; id: number; name: string; message: string };

function serve(port: NonNullable<typeof parentPort>): void {
  const validator = new ResponseValidator();
  const pending: WorkerRequest[] = [];
  let running = false;

  const drain = async (): Promise<void> => {
    running = true;
    for (let request = pending.shift(); request; request = pending.shift()) {
      let reply: WorkerReply;
      try {
        reply = { type: 'result', id: request.id, outcome: await validator.validate(request.job) };
      } catch (error) {
        const e = error instanceof Error ? error : new Error(String(error));
        reply = { type: 'error', id: request.id, name: e.name, message: e.message.slice(0, 500) };
      }
      try {
        port.postMessage(reply);
      } catch (error) {
        // Not cloneable (cannot happen with the plain outcome, but a lost reply would hang the request).
        port.postMessage({ type: 'error', id: request.id, name: 'DataCloneError', message: String(error).slice(0, 500) } satisfies WorkerReply);
      }
    }
    running = false;
  };

  port.on('message', (request: WorkerRequest) => {
    pending.push(request);
    if (!running) void drain();
  });
  port.postMessage({ type: 'ready' } satisfies WorkerReply);
}

if (parentPort) serve(parentPort);
