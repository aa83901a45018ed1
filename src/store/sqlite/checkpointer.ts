/**
 * Background WAL checkpoints for a SQLite file store. SQLite's automatic checkpoint runs inside the COMMIT of
 * whichever write crosses the threshold, on the main thread: it copies the WAL into the database file and fsyncs,
 * stalling that request and every one queued behind it. Here a second connection on a worker thread runs PASSIVE
 * checkpoints (they never block readers or writers) on a timer, so commits on the main thread only append to the WAL.
 * The main connection keeps a high automatic-checkpoint threshold as a safety net should the worker fall behind.
 *
 * The worker is plain CommonJS evaluated from a string, so it runs the same from ts (tests) and from dist.
 */
import { Worker } from 'node:worker_threads';
import type Database from 'better-sqlite3';

/** Pages (4 KiB) the WAL may reach before the main connection checkpoints by itself. */
export const SAFETY_AUTOCHECKPOINT_PAGES = 16_384;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const checkpoint = () => { try { db.pragma('wal_checkpoint(PASSIVE)'); } catch (error) { /* busy or closing: next tick */ } };
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.postMessage('closed');
});
`;

export class WalCheckpointer {
  private readonly worker: Worker;
  private closing: Promise<void> | null = null;

  constructor(db: Database.Database, path: string, intervalMs: number) {
    db.pragma(`wal_autocheckpoint = ${SAFETY_AUTOCHECKPOINT_PAGES}`);
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module: require.resolve('better-sqlite3'), path, intervalMs },
    });
    // A background helper must never keep the process alive, nor take it down.
    this.worker.unref();
    this.worker.on('error', () => undefined);
  }

  /** Runs a last checkpoint and stops the worker. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().finally(resolve), 2000);
      timer.unref();
      this.worker.once('message', () => {
        clearTimeout(timer);
        void this.worker.terminate().finally(resolve);
      });
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      this.worker.postMessage('close');
    });
    return this.closing;
  }
}
