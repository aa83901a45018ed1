/**
 * A pool of worker threads for the CPU-heavy stage of the ACS pipeline: node-saml's signature verification,
 * canonicalisation, time conditions and audience (validation-core.ts), about 7 ms per response. Running it off the
 * main thread keeps the event loop free for HTTP, sessions, provisioning and, above all, /auth/check, which answers
 * every proxied application request; and it lets several logins validate in parallel.
 *
 * Only that stage moves. The pre-flight checks and every post-check (issuer, assertion age, the atomic replay
 * claim, the atomic take of the login state, returnTo) stay on the main thread in SamlService, next to the store.
 *
 * Scheduling: one FIFO queue (bounded: beyond `maxQueue` waiting jobs validate() fails fast with a 503), dispatched
 * to the least busy worker. A worker is handed up to `maxInFlightPerWorker` jobs and runs them one at a time in
 * order, so the next job is already waiting when one finishes. Failure handling:
 *   - a worker that exits unexpectedly (crash, out of memory) fails the job it was running with a
 *     ValidationWorkerError (a 500, never a refusal) and is replaced; the jobs queued behind it had not started,
 *     and validation has no side effects, so they go back to the head of the queue;
 *   - a job running longer than `taskTimeoutMs` terminates its worker, with the same handling (a worker that is
 *     still loading gets 30 s more);
 *   - a worker that fails while starting fails its jobs and is started again on demand only, so a broken
 *     installation cannot spin in a restart loop.
 * Workers start on first use (or all at once with `prewarm`), and hold the process open only while they have work.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { AppError } from '../common/errors';
import type { Logger } from '../common/log';
import type { ValidationJob, ValidationOutcome } from './validation-core';
import type { WorkerReply, WorkerRequest } from './validation-worker';

const STARTUP_ALLOWANCE_MS = 30_000;

/** An infrastructure failure of the pool (a crashed or hung worker, or a closed pool): answered as a 500. */
export class ValidationWorkerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ValidationWorkerError';
  }
}

/** Every worker is busy and the queue is full: answered 503, the browser can simply post again. */
export class ValidationPoolBusyError extends AppError {
  constructor() {
    super(503, 'sign_in_busy', 'Gatehouse is checking too many sign-ins right now. Try again in a moment.');
  }
}

export interface ValidationPoolOptions {
  /** Number of worker threads (at least 1). */
  size: number;
  /** Jobs that may wait for a worker; more are refused with ValidationPoolBusyError. Default 256 per worker. */
  maxQueue?: number;
  /** Jobs handed to one worker at a time (it runs them in order). Default 2. */
  maxInFlightPerWorker?: number;
  /** A job running this long terminates its worker (the job fails, the worker is replaced). Default 30 000 ms. */
  taskTimeoutMs?: number;
  /** Start every worker now instead of on first use. Default false. */
  prewarm?: boolean;
  logger?: Logger;
  /** The worker script. Default: defaultWorkerFile(). */
  workerFile?: string;
}

/**
 * The worker script: the compiled validation-worker.js next to this module when running from dist/, else (running
 * the TypeScript sources under jest or a TS loader) the checked-in plain-JS bootstrap that compiles the .ts sources
 * with @swc/core.
 */
export function defaultWorkerFile(): string {
  const compiled = path.join(__dirname, 'validation-worker.js');
  return existsSync(compiled) ? compiled : path.join(__dirname, 'validation-worker-entry.js');
}

interface Job {
  id: number;
  job: ValidationJob;
  resolve(outcome: ValidationOutcome): void;
  reject(error: Error): void;
}

interface Slot {
  index: number;
  worker: Worker | null;
  ready: boolean;
  /** Handed to the worker, oldest (running) first. */
  inFlight: Job[];
  timer: NodeJS.Timeout | null;
  /** Why the pool itself is ending this worker (timeout, close), to tell it from a crash. */
  endedBy: Error | null;
  lastError: Error | null;
}

export interface ValidationPoolStats {
  size: number;
  queued: number;
  workers: Array<{ threadId: number | null; ready: boolean; inFlight: number }>;
  /** Workers that exited unexpectedly or were terminated for a timeout. */
  replaced: number;
}

export class ValidationPool {
  readonly size: number;
  private readonly maxQueue: number;
  private readonly maxInFlightPerWorker: number;
  private readonly taskTimeoutMs: number;
  private readonly workerFile: string;
  private readonly logger: Logger | undefined;
  private readonly slots: Slot[];
  private readonly queue: Job[] = [];
  private nextJobId = 1;
  private nextSlot = 0;
  private replaced = 0;
  private closing: Promise<void> | null = null;

  constructor(options: ValidationPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError('ValidationPool size must be a whole number >= 1');
    this.size = options.size;
    this.maxQueue = Math.max(0, options.maxQueue ?? 256 * options.size);
    this.maxInFlightPerWorker = Math.max(1, options.maxInFlightPerWorker ?? 2);
    this.taskTimeoutMs = Math.max(1, options.taskTimeoutMs ?? 30_000);
    this.workerFile = options.workerFile ?? defaultWorkerFile();
    this.logger = options.logger;
    this.slots = Array.from({ length: options.size }, (_, index) => ({
      index,
      worker: null,
      ready: false,
      inFlight: [],
      timer: null,
      endedBy: null,
      lastError: null,
    }));
    if (options.prewarm) for (const slot of this.slots) this.start(slot);
  }

  /** Validates one response on a worker. Rejects only for pool failures (never for a refused response). */
  validate(job: ValidationJob): Promise<ValidationOutcome> {
    if (this.closing) return Promise.reject(new ValidationWorkerError('The SAML validation pool is closed.'));
    if (this.queue.length >= this.maxQueue && !this.hasCapacity()) return Promise.reject(new ValidationPoolBusyError());
    return new Promise<ValidationOutcome>((resolve, reject) => {
      this.queue.push({ id: this.nextJobId++, job, resolve, reject });
      this.dispatch();
    });
  }

  /** Fails queued and running jobs with ValidationWorkerError and terminates every worker. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new ValidationWorkerError('The SAML validation pool is closed.');
      for (const job of this.queue.splice(0)) job.reject(closed);
      await Promise.all(
        this.slots.map(async (slot) => {
          const worker = slot.worker;
          if (!worker) return;
          slot.endedBy = closed;
          await worker.terminate();
          // 'exit' has run (it fails the in-flight jobs); this covers a worker that never emitted it.
          this.release(slot, worker, closed);
        }),
      );
    })();
    return this.closing;
  }

  stats(): ValidationPoolStats {
    return {
      size: this.size,
      queued: this.queue.length,
      workers: this.slots.map((slot) => ({ threadId: slot.worker?.threadId ?? null, ready: slot.ready, inFlight: slot.inFlight.length })),
      replaced: this.replaced,
    };
  }

  private hasCapacity(): boolean {
    return this.slots.some((slot) => slot.inFlight.length < this.maxInFlightPerWorker);
  }

  /** Hands queued jobs to the least busy workers, starting workers as needed. */
  private dispatch(): void {
    while (this.queue.length > 0 && !this.closing) {
      const slot = this.leastBusy();
      if (!slot) return;
      if (!slot.worker) {
        try {
          this.start(slot);
        } catch (error) {
          // Worker threads cannot be created at all (resource limits): nothing queued can run.
          const failure = new ValidationWorkerError(`Cannot start a SAML validation worker: ${String(error)}`, { cause: error });
          for (const job of this.queue.splice(0)) job.reject(failure);
          return;
        }
      }
      const job = this.queue.shift()!;
      this.send(slot, job);
    }
  }

  /**
   * The slot with the fewest jobs in flight (below the per-worker limit). An empty slot counts as idle, but a
   * running idle worker is preferred to starting one. Ties rotate, so equal workers share the load.
   */
  private leastBusy(): Slot | null {
    let best: Slot | null = null;
    for (let i = 0; i < this.slots.length; i++) {
      const slot = this.slots[(this.nextSlot + i) % this.slots.length]!;
      if (slot.inFlight.length >= this.maxInFlightPerWorker) continue;
      if (
        best === null ||
        slot.inFlight.length < best.inFlight.length ||
        (slot.inFlight.length === best.inFlight.length && slot.worker !== null && best.worker === null)
      ) {
        best = slot;
      }
    }
    if (best) this.nextSlot = (best.index + 1) % this.slots.length;
    return best;
  }

  private send(slot: Slot, job: Job): void {
    const worker = slot.worker!;
    slot.inFlight.push(job);
    if (slot.inFlight.length === 1) {
      worker.ref();
      this.armTimer(slot);
    }
    worker.postMessage({ id: job.id, job: job.job } satisfies WorkerRequest);
  }

  private start(slot: Slot): void {
    const worker = new Worker(this.workerFile);
    slot.worker = worker;
    slot.ready = false;
    slot.endedBy = null;
    slot.lastError = null;
    worker.unref();
    worker.on('message', (reply: WorkerReply) => this.onReply(slot, worker, reply));
    worker.on('error', (error: Error) => {
      if (slot.worker === worker) slot.lastError = error;
    });
    worker.on('exit', (code: number) => this.onExit(slot, worker, code));
  }

  private onReply(slot: Slot, worker: Worker, reply: WorkerReply): void {
    if (slot.worker !== worker) return;
    if (reply.type === 'ready') {
      slot.ready = true;
      // The task timeout counts from here, not from the start of the thread.
      if (slot.inFlight.length > 0) this.armTimer(slot);
      return;
    }
    const index = slot.inFlight.findIndex((job) => job.id === reply.id);
    if (index < 0) return;
    const [job] = slot.inFlight.splice(index, 1);
    if (slot.inFlight.length === 0) {
      this.clearTimer(slot);
      worker.unref();
    } else {
      this.armTimer(slot);
    }
    if (reply.type === 'result') job!.resolve(reply.outcome);
    else job!.reject(new ValidationWorkerError(`SAML validation failed in a worker: ${reply.name}: ${reply.message}`));
    this.dispatch();
  }

  private onExit(slot: Slot, worker: Worker, code: number): void {
    if (slot.worker !== worker) return;
    const wasReady = slot.ready;
    const reason =
      slot.endedBy ??
      new ValidationWorkerError(
        `A SAML validation worker ${wasReady ? 'stopped' : 'failed to start'} (exit code ${code})${slot.lastError ? `: ${slot.lastError.message}` : ''}`,
        { cause: slot.lastError ?? undefined },
      );
    const jobs = this.release(slot, worker, null);
    if (this.closing) {
      for (const job of jobs) job.reject(reason);
      return;
    }
    this.replaced += 1;
    this.logger?.error({ err: reason, worker: slot.index, jobs: jobs.length }, 'SAML validation worker ended; replacing it');
    if (wasReady) {
      // The oldest job was running; the others had not started and go back first in line.
      const [running, ...waiting] = jobs;
      running?.reject(reason);
      this.queue.unshift(...waiting);
      this.start(slot);
    } else {
      // It never started: its jobs cannot be blamed on their content, but retrying them here could loop forever.
      for (const job of jobs) job.reject(reason);
    }
    this.dispatch();
  }

  /** Detaches a worker from its slot and returns the jobs it still held. */
  private release(slot: Slot, worker: Worker, rejectWith: Error | null): Job[] {
    if (slot.worker !== worker) return [];
    this.clearTimer(slot);
    slot.worker = null;
    slot.ready = false;
    const jobs = slot.inFlight.splice(0);
    if (rejectWith) for (const job of jobs) job.reject(rejectWith);
    return jobs;
  }

  private armTimer(slot: Slot): void {
    this.clearTimer(slot);
    const worker = slot.worker;
    if (!worker) return;
    // A worker still loading gets extra time (a cold start compiles node-saml and its dependencies).
    const timeoutMs = this.taskTimeoutMs + (slot.ready ? 0 : STARTUP_ALLOWANCE_MS);
    slot.timer = setTimeout(() => {
      if (slot.worker !== worker) return;
      slot.endedBy = new ValidationWorkerError(
        slot.ready
          ? `A SAML validation took longer than ${this.taskTimeoutMs} ms; its worker was stopped`
          : `A SAML validation worker did not start within ${timeoutMs} ms`,
      );
      void worker.terminate();
    }, timeoutMs);
    slot.timer.unref();
  }

  private clearTimer(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
  }
}

/** The pool Gatehouse runs with SAML_WORKERS workers, or null for 0 (validate on the main thread). */
export function createValidationPool(workers: number, logger?: Logger): ValidationPool | null {
  return workers > 0 ? new ValidationPool({ size: workers, prewarm: true, logger }) : null;
}
