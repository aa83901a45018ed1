/**
 * `npm run bench`: every benchmark, one after the other, each in its own process so one's heap and open files never
 * colour the next one's figures. Extra arguments are not passed on; run `npm run bench:acs -- --n 5000` for options.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const BENCHMARKS = ['acs.js', 'scim.js'];

let failed = 0;
for (const file of BENCHMARKS) {
  process.stdout.write(`\n=== ${file.replace(/\.js$/, '')} ===\n`);
  const result = spawnSync(process.execPath, [path.join(__dirname, file)], { stdio: 'inherit' });
  if (result.status !== 0) {
    failed++;
    process.stderr.write(`bench: ${file} failed (${result.signal ?? `exit ${result.status}`})\n`);
  }
}
process.exitCode = failed > 0 ? 1 : 0;
