#!/usr/bin/env node
/** Entry point of the `gatehouse` binary. */
import { runCli } from './program';

const interrupted = new AbortController();
process.once('SIGINT', () => interrupted.abort());

runCli(process.argv.slice(2), {
  env: process.env,
  isTTY: Boolean(process.stderr.isTTY),
  signal: interrupted.signal,
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`gatehouse: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
