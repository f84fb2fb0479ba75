/**
 * The DWARF sampler's unwinders side by side on the known-chain workload:
 * the compiled rows in the kernel (the default), the same rows in user space
 * on a copy of the stack (MIXPROF_UNWINDER=tables) and libdwfl alone on the
 * copy (MIXPROF_UNWINDER=libdwfl, the reference). Runs alternate, so that a
 * machine's load falls on all alike. Unwinding in the kernel moves work
 * from mixprof into the BPF program: both are compared.
 */
import { measureCost, type CostResult } from './cost.js';
import { median, pct } from './stats.js';

export const UNWINDER_RATES = [999, 4999];
const ROUNDS = 2;
const SECONDS = 8;

const UNWINDERS = ['kernel', 'tables', 'libdwfl'] as const;
type UnwinderName = (typeof UNWINDERS)[number];

export interface UnwinderResult {
  readonly hz: number;
  readonly runs: Readonly<Record<UnwinderName, readonly CostResult[]>>;
}

async function withUnwinder<T>(unwinder: UnwinderName, run: () => Promise<T>): Promise<T> {
  const before = process.env['MIXPROF_UNWINDER'];
  if (unwinder === 'kernel') delete process.env['MIXPROF_UNWINDER'];
  else process.env['MIXPROF_UNWINDER'] = unwinder;
  try {
    return await run();
  } finally {
    if (before === undefined) delete process.env['MIXPROF_UNWINDER'];
    else process.env['MIXPROF_UNWINDER'] = before;
  }
}

const mixprofCpu = (runs: readonly CostResult[]): number => median(runs.map((c) => c.mixprofCpu));
const kernelCpu = (runs: readonly CostResult[]): number => median(runs.map((c) => c.kernelCpu));
const wholeCpu = (runs: readonly CostResult[]): number => median(runs.map((c) => c.mixprofCpu + c.kernelCpu));
const peak = (runs: readonly CostResult[]): number => median(runs.map((c) => c.peakMemory));

export async function measureUnwinders(python: string, log: (line: string) => void): Promise<UnwinderResult[]> {
  const results: UnwinderResult[] = [];
  for (const hz of UNWINDER_RATES) {
    const runs: Record<UnwinderName, CostResult[]> = { kernel: [], tables: [], libdwfl: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const unwinder of UNWINDERS) runs[unwinder].push(await withUnwinder(unwinder, () => measureCost('chains', python, 'chains.py', [], hz, SECONDS, 'dwarf')));
    }
    log(`unwinders at ${hz} Hz: ${UNWINDERS.map((u) => `${u} ${pct(wholeCpu(runs[u]), 2)}`).join(', ')}`);
    results.push({ hz, runs });
  }
  return results;
}

export function unwindersSection(results: readonly UnwinderResult[]): string[] {
  const samples = (runs: readonly CostResult[]): number => Math.round(median(runs.map((c) => c.samples)));
  const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;
  return [
    '## Unwinders: the kernel, the rows in user space, libdwfl',
    '',
    `The known-chain workload (DWARF sampler, ${ROUNDS} alternating runs of ${SECONDS} s each, median): the modules' .eh_frame compiled into rows`,
    'and unwound in the kernel (the default), the same rows unwinding an 8 KiB copy of the stack in mixprof (MIXPROF_UNWINDER=tables),',
    "and libdwfl's unwinder alone on the copy (MIXPROF_UNWINDER=libdwfl). CPU is mixprof's process + its BPF programs; memory is mixprof's peak RSS",
    '(the ring buffer it reads is smaller when the kernel unwinds: its records hold addresses, not stacks).',
    '',
    '| Hz | unwinder | samples | mixprof | BPF | whole | peak RSS |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...results.flatMap((r) =>
      UNWINDERS.map((u) => `| ${r.hz} | ${u === 'kernel' ? 'kernel (default)' : u === 'tables' ? 'rows in user space' : 'libdwfl'} | ${samples(r.runs[u])} | ${pct(mixprofCpu(r.runs[u]), 2)} | ${pct(kernelCpu(r.runs[u]), 2)} | ${pct(wholeCpu(r.runs[u]), 2)} | ${mib(peak(r.runs[u]))} |`),
    ),
    '',
  ];
}
