/**
 * The DWARF sampler's two user-space unwinders side by side on the
 * known-chain workload: the compiled rows (the default) and libdwfl alone
 * (MIXPROF_UNWINDER=libdwfl, the reference). Runs alternate, so that a
 * machine's load falls on both alike; mixprof's own CPU is compared, the BPF
 * program being the same.
 */
import { measureCost, type CostResult } from './cost.js';
import { median, pct } from './stats.js';

export const UNWINDER_RATES = [999, 4999];
const ROUNDS = 2;
const SECONDS = 8;

export interface UnwinderResult {
  readonly hz: number;
  readonly tables: readonly CostResult[];
  readonly libdwfl: readonly CostResult[];
}

async function withUnwinder<T>(unwinder: 'tables' | 'libdwfl', run: () => Promise<T>): Promise<T> {
  const before = process.env['MIXPROF_UNWINDER'];
  if (unwinder === 'libdwfl') process.env['MIXPROF_UNWINDER'] = 'libdwfl';
  else delete process.env['MIXPROF_UNWINDER'];
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env['MIXPROF_UNWINDER'];
    else process.env['MIXPROF_UNWINDER'] = before;
  }
}

export async function measureUnwinders(python: string, log: (line: string) => void): Promise<UnwinderResult[]> {
  const results: UnwinderResult[] = [];
  for (const hz of UNWINDER_RATES) {
    const tables: CostResult[] = [];
    const libdwfl: CostResult[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      tables.push(await withUnwinder('tables', () => measureCost('chains', python, 'chains.py', [], hz, SECONDS, 'dwarf')));
      libdwfl.push(await withUnwinder('libdwfl', () => measureCost('chains', python, 'chains.py', [], hz, SECONDS, 'dwarf')));
    }
    log(`unwinders at ${hz} Hz: rows ${pct(median(tables.map((c) => c.mixprofCpu)), 2)}, libdwfl ${pct(median(libdwfl.map((c) => c.mixprofCpu)), 2)}`);
    results.push({ hz, tables, libdwfl });
  }
  return results;
}

export function unwindersSection(results: readonly UnwinderResult[]): string[] {
  const cpu = (runs: readonly CostResult[]): number => median(runs.map((c) => c.mixprofCpu));
  const samples = (runs: readonly CostResult[]): number => Math.round(median(runs.map((c) => c.samples)));
  return [
    '## Unwinding in user space: compiled rows and libdwfl',
    '',
    `mixprof's own CPU on the known-chain workload (DWARF sampler, ${ROUNDS} alternating runs of ${SECONDS} s each, median):`,
    "the modules' .eh_frame compiled into rows (the default) against libdwfl's unwinder alone (MIXPROF_UNWINDER=libdwfl).",
    '',
    '| Hz | samples | rows | libdwfl | rows / libdwfl |',
    '| --- | --- | --- | --- | --- |',
    ...results.map((r) => `| ${r.hz} | ${samples(r.tables)} | ${pct(cpu(r.tables), 2)} | ${pct(cpu(r.libdwfl), 2)} | ${(cpu(r.tables) / cpu(r.libdwfl)).toFixed(2)} |`),
    '',
  ];
}
