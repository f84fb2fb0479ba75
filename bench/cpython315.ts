/**
 * mixprof and CPython 3.15's own sampler (`python3.15 -m profiling.sampling`)
 * on the same 3.15 target: Debian sid's release build (frame pointers),
 * which mixprof samples with its default unwinder (DWARF). At
 * mixprof's default rate and at the sampler's (1 kHz): target slowdown,
 * profiler CPU and accuracy, side by side in one run.
 */
import { debianPython } from '../test/helpers/pythons.js';
import { mixprofAccuracy, tachyonAccuracy, type AccuracyResult } from './accuracy.js';
import { mixprof, none, perf, tachyon, TACHYON } from './profilers.js';
import { measureSlowdown, type SlowdownResult } from './slowdown.js';
import { median, noiseFloor, notSlower, pct, quantile } from './stats.js';

/** mixprof's default rate, and the 3.15 sampler's default (1 kHz). */
export const CPYTHON315_RATES = [99, 1000];
const ACCURACY_SECONDS = 10;

export interface Cpython315Result {
  readonly version: string;
  readonly slowdowns: readonly SlowdownResult[];
  readonly accuracy: readonly AccuracyResult[];
}

export async function measureCpython315(pairs: number, log: (line: string) => void): Promise<Cpython315Result> {
  const python = (await debianPython('sid-3.15')).executable;
  const slowdowns: SlowdownResult[] = [];
  // perf samples with the same timer interrupt on the target's CPU as mixprof: what that interrupt costs here.
  for (const profiler of [none(), ...CPYTHON315_RATES.flatMap((hz) => [mixprof(hz, 'dwarf'), tachyon(python, hz), perf(hz)])]) {
    const r = await measureSlowdown(python, profiler, pairs);
    slowdowns.push(r);
    log(`3.15 slowdown ${profiler.name} ${profiler.hz} Hz: median ${pct(median(r.slowdowns))}`);
  }
  const accuracy: AccuracyResult[] = [];
  for (const hz of CPYTHON315_RATES) {
    accuracy.push(await mixprofAccuracy(python, hz, ACCURACY_SECONDS, 'dwarf'));
    accuracy.push(await tachyonAccuracy(python, hz, ACCURACY_SECONDS));
  }
  log('3.15 comparison measured');
  return { version: 'Debian sid python3.15 (release build, frame pointers)', slowdowns, accuracy };
}

const cpu = (s: SlowdownResult): number => median(s.windows.map((w) => w.profilerCpu + w.kernelCpu));

export function cpython315Section(r: Cpython315Result): string[] {
  const row = (s: SlowdownResult): string => {
    const a = r.accuracy.find((x) => x.hz === s.hz && x.profiler === s.profiler);
    const accuracy = a ? `${pct(a.exact / a.samples, 2)} of ${a.samples}` : '';
    const slow = `${pct(median(s.slowdowns))} (${pct(quantile(s.slowdowns, 0.25))}..${pct(quantile(s.slowdowns, 0.75))})`;
    return `| ${s.profiler} | ${s.hz || ''} | ${slow} | ${pct(median(s.cpuSlowdowns))} | ${s.hz ? pct(cpu(s), 2) : ''} | ${accuracy} |`;
  };
  return [
    '## CPython 3.15: mixprof and the interpreter\'s own sampler',
    '',
    `The same target, ${r.version}: bench/workload.py for slowdown and profiler CPU (measured as above, in pairs of`,
    `windows), test/workloads/chains.py for accuracy (${ACCURACY_SECONDS} s each). The 3.15 sampler runs in CPU mode over all threads`,
    '(`python3.15 -m profiling.sampling attach -a --mode cpu --collapsed -r HZ`); it reads Python frames only, mixprof',
    'also the native and kernel frames. 1 kHz is the 3.15 sampler\'s default rate, 99 Hz mixprof\'s. The 3.15 sampler reads',
    "the target's memory from another CPU; mixprof and perf take each sample in a timer interrupt on the target's CPU,",
    'whose cost on these virtual machines shows in the perf row (perf record -g, cpu-clock).',
    '',
    '| profiler | Hz | median slowdown (middle half) | per CPU second | profiler CPU | exact chains |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.slowdowns.map(row),
    '',
  ];
}

/**
 * The budget row: at each rate mixprof slows the target no more than the 3.15
 * sampler (beyond the noise floor and half the spread of either row), uses no
 * more CPU, and gets no fewer chains exactly right.
 */
export function cpython315Budget(r: Cpython315Result): { readonly measured: string; readonly met: boolean } {
  const noise = noiseFloor(r.slowdowns.find((s) => s.hz === 0)!.slowdowns);
  const parts: string[] = [];
  let met = true;
  for (const hz of CPYTHON315_RATES) {
    const ours = r.slowdowns.find((s) => s.hz === hz && s.profiler.startsWith('mixprof'))!;
    const theirs = r.slowdowns.find((s) => s.hz === hz && s.profiler === TACHYON)!;
    const exact = (name: string): number => {
      const a = r.accuracy.find((x) => x.hz === hz && x.profiler === name)!;
      return a.exact / a.samples;
    };
    met &&=
      notSlower(ours.slowdowns, theirs.slowdowns, noise) &&
      cpu(ours) <= cpu(theirs) &&
      exact(ours.profiler) >= exact(theirs.profiler);
    parts.push(
      `${hz} Hz: slowdown ${pct(median(ours.slowdowns))} vs ${pct(median(theirs.slowdowns))}, CPU ${pct(cpu(ours), 2)} vs ${pct(cpu(theirs), 2)}, exact ${pct(exact(ours.profiler), 2)} vs ${pct(exact(theirs.profiler), 2)}`,
    );
  }
  return { measured: parts.join('; '), met };
}
