/** Small helpers shared by the benchmarks: argument parsing and latency summaries. */
export interface RunSummary {
  count: number;
  failures: number;
  perSecond: number;
  p50: number;
  p99: number;
  elapsedMs: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

export function summarise(latenciesMs: number[], elapsedMs: number, failures: number): RunSummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  return {
    count: sorted.length,
    failures,
    perSecond: elapsedMs > 0 ? (sorted.length / elapsedMs) * 1000 : 0,
    p50: +percentile(sorted, 50).toFixed(3),
    p99: +percentile(sorted, 99).toFixed(3),
    elapsedMs: Math.round(elapsedMs),
  };
}

/** Parses `--name value` pairs over numeric defaults, plus the `--json` flag. */
export function parseArgs<T extends Record<string, number>>(argv: string[], defaults: T): T & { json: boolean } {
  const result: Record<string, number | boolean> = { ...defaults, json: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--json') result.json = true;
    else if (arg.startsWith('--') && arg.slice(2) in defaults) {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value <= 0) throw new Error(`${arg} needs a positive number`);
      result[arg.slice(2)] = value;
    } else throw new Error(`unknown option ${arg}; options: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')} --json`);
  }
  return result as T & { json: boolean };
}
