/**
 * What `mixprof trace` costs the target, and whether its counts stay exact at
 * the fastest rate the probes deliver: the trace-calls workload (a caller
 * calling a callee twice a round) runs a fixed number of rounds at each "go",
 * timing itself, alternately untraced and traced (the same process, the
 * order alternating). Every traced batch must be counted exactly.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { MIXPROF, WORKLOADS } from '../test/helpers/paths.js';
import { startSampling, startWorkload, type Workload } from '../test/helpers/processes.js';
import { median } from './stats.js';

export interface TraceCostResult {
  readonly python: string;
  /** Work per callee call (sum(range(work))). */
  readonly work: number;
  /** Calls per batch (three a round). */
  readonly calls: number;
  /** Medians over the pairs: ns per call untraced and traced. */
  readonly nsPerCallAlone: number;
  readonly nsPerCallTraced: number;
  /** Calls a second the traced target made, each counted. */
  readonly tracedRate: number;
  /** Traced batches whose counts were exact, of all. */
  readonly exact: number;
  readonly batches: number;
}

interface Done {
  elapsed_ns: number;
}

function nextDone(workload: Workload<unknown>): Promise<Done> {
  return new Promise<Done>((resolve, reject) => {
    const lines = createInterface({ input: workload.child.stdout! });
    const timer = setTimeout(() => reject(new Error('trace-calls: no DONE line in 300 s')), 300_000);
    lines.on('line', (line) => {
      if (!line.startsWith('DONE ')) return;
      clearTimeout(timer);
      lines.close();
      resolve(JSON.parse(line.slice(5)) as Done);
    });
  });
}

async function batch(workload: Workload<unknown>): Promise<number> {
  const done = nextDone(workload);
  workload.child.stdin!.write('go\n');
  return (await done).elapsed_ns;
}

export async function measureTraceCost(label: string, executable: string, rounds: number, work: number, pairs: number, log: (line: string) => void): Promise<TraceCostResult> {
  const workload = await startWorkload<{ pid: number }>(executable, [path.join(WORKLOADS, 'trace-calls.py'), String(rounds), String(work)], 60_000, {}, 'pipe');
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-bench-trace-'));
  const alone: number[] = [];
  const traced: number[] = [];
  let exact = 0;
  try {
    // A first batch untimed: imports, caches.
    await batch(workload);
    for (let i = 0; i < pairs; i++) {
      const tracedFirst = i % 2 === 1;
      for (const tracing of tracedFirst ? [true, false] : [false, true]) {
        if (!tracing) {
          alone.push(await batch(workload));
          continue;
        }
        const out = path.join(dir, `trace-${i}.json`);
        const run = await startSampling(['trace', '-x', String(workload.pid), '-o', out], 60_000, {}, [MIXPROF], /tracing calls/);
        traced.push(await batch(workload));
        const result = await run.stop('SIGINT');
        if (result.exitCode !== 0) throw new Error(`mixprof trace failed: ${result.stderr}`);
        const report = JSON.parse(await readFile(out, 'utf8')) as { functions: { function: string; calls: number }[] };
        const calls = (name: string): number => report.functions.find((f) => f.function === `trace-calls.${name}`)?.calls ?? -1;
        if (calls('caller') === rounds && calls('callee') === 2 * rounds) exact++;
        else log(`trace ${label}: batch ${i} counted caller ${calls('caller')}, callee ${calls('callee')} of ${rounds} rounds`);
      }
    }
  } finally {
    await workload.stop();
    await rm(dir, { recursive: true, force: true });
  }
  const calls = 3 * rounds;
  const tracedNs = median(traced);
  return { python: label, work, calls, nsPerCallAlone: median(alone) / calls, nsPerCallTraced: tracedNs / calls, tracedRate: calls / (tracedNs / 1e9), exact, batches: traced.length };
}

export function traceSection(results: readonly TraceCostResult[]): string[] {
  return [
    '## trace: what the probes cost',
    '',
    '`mixprof trace` on test/workloads/trace-calls.py: batches of rounds (a caller calling a callee twice), alternately',
    'untraced and traced, in one process. Each call traps into the kernel at its entry and return (on 3.11 also at',
    'each line it runs: its entries are reported only on the line-tracing path). Counts are checked against the',
    'batch: every call counted, none twice.',
    '',
    '| interpreter | work per callee | calls per batch | ns per call untraced | traced | cost per call | calls/s traced (all counted) | exact batches |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.python} | sum(range(${r.work})) | ${r.calls} | ${r.nsPerCallAlone.toFixed(0)} | ${r.nsPerCallTraced.toFixed(0)} | ${((r.nsPerCallTraced - r.nsPerCallAlone) / 1000).toFixed(2)} µs (${(100 * (r.nsPerCallTraced / r.nsPerCallAlone - 1)).toFixed(0)}% slower) | ${Math.round(r.tracedRate).toLocaleString('en-US')} | ${r.exact} of ${r.batches} |`,
    ),
    '',
  ];
}
