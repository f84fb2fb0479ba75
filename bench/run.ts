/**
 * `npm run bench`: mixprof against its budget and its peers on this machine,
 * in one go, written to bench/RESULTS.md. `--pairs N` sets the interleaved
 * pairs per slowdown configuration (default 8); `--only-3.15` measures and
 * prints only the comparison with CPython 3.15's own sampler, `--only-attach
 * [--runs N]` only the attach latencies, `--only-unwinders` only the DWARF
 * sampler's unwinders side by side, `--only-cost` only the default sampler's
 * steady-state cost, `--only-slowdown` only the target's slowdown under it
 * and perf at 99 and 999 Hz (with the noise floor), `--only-trace` only
 * trace's cost, `--only-timeline` only what --timeline adds to sampling.
 */
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO } from '../test/helpers/paths.js';
import { debianPython, pyenvPython } from '../test/helpers/pythons.js';
import { austinAccuracy, mixprofAccuracy, type AccuracyResult } from './accuracy.js';
import { measureAttach } from './attach.js';
import { SETTLE_SECONDS, measureCost, type CostResult } from './cost.js';
import { measureUnwinders, unwindersSection } from './unwinders.js';
import { measurePostprocessing, measureSvg } from './postprocess.js';
import { enableBpfStats } from './processes.js';
import { austin, mixprof, none, perf, type Profiler, type Unwind } from './profilers.js';
import { measureSlowdown, type SlowdownResult } from './slowdown.js';
import { measureStore, storeSection } from './store.js';
import { measureTraceCost, traceSection, type TraceCostResult } from './trace.js';
import { cpython315Budget, cpython315Section, measureCpython315 } from './cpython315.js';
import { median, noiseFloor, notSlower, pct, quantile } from './stats.js';

const RATES = [99, 999, 4999];
/** The default sampler's cost is measured up to 9999 Hz, where its budget ends. */
const COST_RATES = [...RATES, 9999];
/** The whole profiler's budget: its share of one core at each rate. */
const WHOLE_BUDGET = new Map([
  [99, 0.005],
  [999, 0.02],
  [9999, 0.1],
]);
const WHOLE_RATES = [...WHOLE_BUDGET.keys()];
const CHAINS = 'chains (10 threads)';
/** The same workload on an interpreter built with frame pointers (Debian sid's 3.15), still unwound with DWARF by default. */
const CHAINS_FP = 'chains on 3.15 (frame pointers)';
const SLEEPERS = 'sleepers (51 threads, 1 on CPU)';
const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function versions(): Promise<string> {
  const out = async (cmd: string, args: string[]): Promise<string> => (await execa(cmd, args, { reject: false })).stdout.split('\n')[0]!.trim();
  return [
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}`,
    `Node ${process.version}, ${await out('bpftrace', ['--version'])}, ${await out('perf', ['--version'])}`,
  ].join('; ');
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

const costTotal = (c: CostResult): number => c.mixprofCpu + c.bpftraceCpu + c.kernelCpu;

function costTable(costs: readonly CostResult[]): string[] {
  return [
    '| workload | unwind | Hz | samples | lost | native complete | mixprof | bpftrace | BPF programs | total | µs in kernel per sample | mixprof peak memory | mixprof resident in the window | CPU to start | total while settling |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...costs.map(
      (c) =>
        `| ${c.label} | ${c.unwind}${c.wall ? ', wall' : ''}${c.timeline ? ', --timeline' : ''} | ${c.hz} | ${c.samples} | ${c.lostEvents} | ${pct(c.nativeComplete)} | ${pct(c.mixprofCpu, 2)} | ${c.unwind === 'fp' ? pct(c.bpftraceCpu, 2) : ''} | ${pct(c.kernelCpu, 2)} | ${pct(costTotal(c), 2)} | ${c.kernelUsPerSample.toFixed(1)} | ${(c.peakMemory / 2 ** 20).toFixed(0)} MiB | ${(c.windowMemory / 2 ** 20).toFixed(0)} MiB | ${c.startCpuSeconds.toFixed(2)} s | ${pct(c.settlingCpu, 2)} |`,
    ),
  ];
}

/** Sampling rates of the --timeline comparison. */
const TIMELINE_RATES = [99, 999, 4999];

/** The default sampler at each rate, without and with --timeline, back to back. */
async function measureTimeline(python: string, log: (line: string) => void): Promise<CostResult[]> {
  const costs: CostResult[] = [];
  for (const hz of TIMELINE_RATES) {
    costs.push(await measureCost(CHAINS, python, 'chains.py', [], hz, 10, 'dwarf'));
    costs.push(await measureCost(CHAINS, python, 'chains.py', [], hz, 10, 'dwarf', ['--timeline']));
    log(`timeline ${hz} Hz measured`);
  }
  return costs;
}

/** --timeline's cost: each pair of rows one rate, without and with; the ratios within the pair. */
function timelineSection(costs: readonly CostResult[]): string[] {
  const rows: string[] = [];
  for (let i = 0; i + 1 < costs.length; i += 2) {
    const [plain, kept] = [costs[i]!, costs[i + 1]!];
    rows.push(
      `| ${plain.hz} | ${pct(costTotal(plain), 2)} | ${pct(costTotal(kept), 2)} | ${(costTotal(kept) / costTotal(plain)).toFixed(2)}x | ${(plain.peakMemory / 2 ** 20).toFixed(0)} MiB | ${(kept.peakMemory / 2 ** 20).toFixed(0)} MiB | ${plain.writeSeconds.toFixed(2)} s | ${kept.writeSeconds.toFixed(2)} s | ${(kept.outputBytes / 2 ** 20).toFixed(1)} MiB |`,
    );
  }
  return [
    '## Timelines: what --timeline costs',
    '',
    'chains (10 threads), the default sampler, 10 s measured after 10 s of settling (as in the cost table), without',
    'and with `--timeline` (written as a gecko file), back to back at each rate. Total: mixprof and the BPF programs,',
    'shares of one core in the window; writing: from the end of sampling (-t) to mixprof gone (a run of 22 s in all).',
    '',
    '| Hz | total | total, --timeline | ratio | peak memory | peak memory, --timeline | writing | writing, --timeline | gecko file |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    ...costTable(costs),
    '',
  ];
}

/** trace's cost on the interpreters with call probes: the fastest calls (the highest rate), and calls of some work. */
async function measureTrace(pairs: number, log: (line: string) => void): Promise<TraceCostResult[]> {
  const results: TraceCostResult[] = [];
  const interpreters: [string, string][] = [
    ["Debian's 3.11", '/usr/bin/python3.11'],
    ["sid's 3.15", (await debianPython('sid-3.15')).executable],
  ];
  for (const [label, executable] of interpreters) {
    for (const [rounds, work] of [
      [100_000, 1],
      [5_000, 2_000],
    ] as const) {
      results.push(await measureTraceCost(label, executable, rounds, work, pairs, log));
      log(`trace ${label}, work ${work}: measured`);
    }
  }
  return results;
}

async function main(): Promise<void> {
  const pairs = argValue('--pairs', 8);
  await enableBpfStats();
  if (process.argv.includes('--only-3.15')) {
    // Just the 3.15 comparison, printed (RESULTS.md is written by whole runs only).
    const r = await measureCpython315(pairs, log);
    const budget = cpython315Budget(r);
    process.stdout.write([...cpython315Section(r), `ahead of the 3.15 sampler: ${budget.measured} (${budget.met ? 'met' : 'missed'})`, ''].join('\n'));
    return;
  }
  if (process.argv.includes('--only-trace')) {
    process.stdout.write(traceSection(await measureTrace(pairs, log)).join('\n'));
    return;
  }
  const python = pyenvPython('3.11.7').executable;
  if (process.argv.includes('--only-timeline')) {
    process.stdout.write(timelineSection(await measureTimeline(python, log)).join('\n'));
    return;
  }
  if (process.argv.includes('--only-unwinders')) {
    process.stdout.write(unwindersSection(await measureUnwinders(python, log)).join('\n'));
    return;
  }
  if (process.argv.includes('--only-cost')) {
    // The steady-state cost of the default (DWARF) sampler alone, printed.
    const costs: CostResult[] = [];
    for (const hz of COST_RATES) costs.push(await measureCost(CHAINS, python, 'chains.py', [], hz, 10, 'dwarf'));
    const python315 = (await debianPython('sid-3.15')).executable;
    for (const hz of WHOLE_RATES) costs.push(await measureCost(CHAINS_FP, python315, 'chains.py', [], hz, 10, 'dwarf'));
    process.stdout.write([...costTable(costs), ''].join('\n'));
    return;
  }
  if (process.argv.includes('--only-slowdown')) {
    // The target's slowdown under the default sampler and perf at 99 and 999 Hz, against the noise floor, printed.
    const rows: string[] = ['| profiler | Hz | median slowdown | middle half of the pairs | per CPU second |', '| --- | --- | --- | --- | --- |'];
    for (const profiler of [none(), ...RATES.slice(0, 2).flatMap((hz) => [mixprof(hz, 'dwarf'), perf(hz)])]) {
      const s = await measureSlowdown(python, profiler, pairs);
      rows.push(`| ${s.profiler} | ${s.hz || ''} | ${pct(median(s.slowdowns))} | ${pct(quantile(s.slowdowns, 0.25))}..${pct(quantile(s.slowdowns, 0.75))} | ${pct(median(s.cpuSlowdowns))} |`);
    }
    process.stdout.write([...rows, ''].join('\n'));
    return;
  }
  if (process.argv.includes('--only-attach')) {
    const r = await measureAttach(python, argValue('--runs', 5), log);
    process.stdout.write(`${JSON.stringify(r, null, 1)}\n`);
    return;
  }
  const austinExe = (await debianPython('austin')).executable;

  const slowdowns: SlowdownResult[] = [];
  const profilers: Profiler[] = [none(), ...RATES.flatMap((hz) => [mixprof(hz, 'fp'), mixprof(hz, 'dwarf'), austin(austinExe, hz), perf(hz)])];
  for (const profiler of profilers) {
    const r = await measureSlowdown(python, profiler, pairs);
    slowdowns.push(r);
    log(`slowdown ${profiler.name} ${profiler.hz} Hz: median ${pct(median(r.slowdowns))}`);
  }

  const costs: CostResult[] = [];
  for (const hz of RATES) costs.push(await measureCost(CHAINS, python, 'chains.py', [], hz, 10, 'fp'));
  for (const hz of COST_RATES) costs.push(await measureCost(CHAINS, python, 'chains.py', [], hz, 10, 'dwarf'));
  const python315 = (await debianPython('sid-3.15')).executable;
  for (const hz of WHOLE_RATES) costs.push(await measureCost(CHAINS_FP, python315, 'chains.py', [], hz, 10, 'dwarf'));
  for (const depth of [8, 32, 64, 128]) costs.push(await measureCost(`${depth} Python frames`, python, 'deep.py', [String(depth)], 999, 5, 'dwarf'));
  costs.push(await measureCost('64 Python frames', python, 'deep.py', ['64'], 999, 5, 'fp'));
  // Wall-clock mode: 25 threads waking every 10 ms, 25 asleep for good, one spinning.
  const sleepers = path.join(REPO, 'bench', 'sleepers.py');
  costs.push(await measureCost(SLEEPERS, python, sleepers, ['25'], 99, 10, 'dwarf'));
  costs.push(await measureCost(SLEEPERS, python, sleepers, ['25'], 99, 10, 'dwarf', ['--mode', 'wall']));
  log('cost measured');
  const unwinders = await measureUnwinders(python, log);

  const accuracy: AccuracyResult[] = [
    await mixprofAccuracy(python, 999, 10, 'fp'),
    await mixprofAccuracy(python, 999, 10, 'dwarf'),
    await mixprofAccuracy(python, 99, 10, 'dwarf'),
    await austinAccuracy(austinExe, python, 999, 10),
  ];
  log('accuracy measured');
  const post = await measurePostprocessing(python, 10, 6);
  const svgSeconds = measureSvg(100_000, 3);
  log('post-processing measured');
  const storeBench = await measureStore();
  log('profile store measured');
  const cpython315 = await measureCpython315(pairs, log);
  const tracing = await measureTrace(Math.min(pairs, 4), log);
  log('trace measured');
  const timelines = await measureTimeline(python, log);
  const attaching = await measureAttach(python, 5, log);
  const attachMedian = (state: 'idle' | 'loaded', unwind: Unwind): number => median(attaching.sample[state][unwind]);
  const recordMedian = (state: 'idle' | 'loaded'): number => median(attaching.record[state]);
  const seconds = (x: number): string => `${x.toFixed(2)} s`;

  const slowdownOf = (name: string, hz: number): SlowdownResult => slowdowns.find((s) => s.profiler === name && s.hz === hz)!;
  const cpuOf = (name: string, hz: number): number => median(slowdownOf(name, hz).windows.map((w) => w.profilerCpu + w.kernelCpu));
  // The default unwinder (auto) is DWARF; --unwind fp is bpftrace's frame-pointer walk.
  const costAt = (hz: number, unwind: Unwind = 'dwarf', label = CHAINS): CostResult => costs.find((c) => c.label === label && c.hz === hz && c.unwind === unwind)!;
  const fpAcc = accuracy.find((a) => a.profiler === 'mixprof fp' && a.hz === 999)!;
  const dwarfAcc = accuracy.find((a) => a.profiler === 'mixprof dwarf' && a.hz === 999)!;
  const austinAcc = accuracy.find((a) => a.profiler === 'austin')!;
  const attach = median(slowdowns.filter((s) => s.profiler.startsWith('mixprof')).flatMap((s) => s.windows.map((w) => w.attachSeconds)));
  const samplesPerMinute = (post.samples / post.coldSeconds) * 60;
  const startCpu = median(COST_RATES.map((hz) => costAt(hz).startCpuSeconds));
  const deep64 = costs.find((c) => c.label === '64 Python frames' && c.unwind === 'dwarf')!;
  const met = (ok: boolean): string => (ok ? 'met' : '**missed**');
  // How far from zero the median of unprofiled pairs lands, or half their spread.
  const noise = noiseFloor(slowdownOf('none (noise)', 0).slowdowns);
  const slow = (name: string, hz: number): number => median(slowdownOf(name, hz).slowdowns);
  const rowNotSlower = (a: string, b: string, hz: number): boolean => notSlower(slowdownOf(a, hz).slowdowns, slowdownOf(b, hz).slowdowns, noise);

  const lines = [
    '# mixprof benchmark results',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${await versions()}.`,
    'Targets run pyenv CPython 3.11.7 (no frame pointers). These machines are shared virtual machines:',
    'compare ratios within one run, and read the spread.',
    '',
    '## Budget',
    '',
    '| budget | measured | |',
    '| --- | --- | --- |',
    `| 99 Hz: target slowdown <= 1% (within noise) | median ${pct(slow('mixprof dwarf', 99))} (noise ±${pct(noise)}; --unwind fp ${pct(slow('mixprof fp', 99))}) | ${met(slow('mixprof dwarf', 99) <= Math.max(0.01, noise))} |`,
    `| 99 Hz: profiler CPU <= 1% of one core | ${pct(costTotal(costAt(99)), 2)} (--unwind fp ${pct(costTotal(costAt(99, 'fp')), 2)}) | ${met(costTotal(costAt(99)) <= 0.01)} |`,
    `| 999 Hz: target slowdown <= 3% | median ${pct(slow('mixprof dwarf', 999))} (noise ±${pct(noise)}; --unwind fp ${pct(slow('mixprof fp', 999))}) | ${met(slow('mixprof dwarf', 999) <= Math.max(0.03, noise))} |`,
    `| 999 Hz: profiler CPU <= 5% of one core, no lost samples | ${pct(costTotal(costAt(999)), 2)}, ${costAt(999).lostEvents} lost (--unwind fp ${pct(costTotal(costAt(999, 'fp')), 2)}, ${costAt(999, 'fp').lostEvents} lost) | ${met(costTotal(costAt(999)) <= 0.05 && costAt(999).lostEvents === 0)} |`,
    `| whole profiler (its processes and BPF programs) <= 0.5% of one core at 99 Hz, <= 2% at 999 Hz, <= 10% at 9999 Hz, on interpreters without and with frame pointers | without: ${WHOLE_RATES.map((hz) => `${pct(costTotal(costAt(hz)), 2)} at ${hz} Hz`).join(', ')}; with (3.15): ${WHOLE_RATES.map((hz) => `${pct(costTotal(costAt(hz, 'dwarf', CHAINS_FP)), 2)}`).join(', ')} | ${met([CHAINS, CHAINS_FP].every((label) => WHOLE_RATES.every((hz) => costTotal(costAt(hz, 'dwarf', label)) <= WHOLE_BUDGET.get(hz)!)))} |`,
    `| resident memory <= 64 MiB while sampling | ${COST_RATES.map((hz) => `${mib(costAt(hz).windowMemory)} at ${hz} Hz`).join(', ')} (peak, start-up included: ${COST_RATES.map((hz) => mib(costAt(hz).peakMemory)).join(', ')}); on 3.15 ${WHOLE_RATES.map((hz) => mib(costAt(hz, 'dwarf', CHAINS_FP).windowMemory)).join(', ')} | ${met(COST_RATES.every((hz) => costAt(hz).windowMemory <= 64 * 2 ** 20) && WHOLE_RATES.every((hz) => costAt(hz, 'dwarf', CHAINS_FP).windowMemory <= 64 * 2 ** 20))} |`,
    `| CPU to start (until sampling) <= 0.3 s | median ${startCpu.toFixed(2)} s | ${met(startCpu <= 0.3)} |`,
    `| native stacks complete (reach the thread's first function) on an interpreter without frame pointers | ${pct(costAt(999).nativeComplete)} of samples at 999 Hz (--unwind fp: ${pct(costAt(999, 'fp').nativeComplete)}) | ${met(costAt(999).nativeComplete >= 0.95)} |`,
    `| in-kernel cost per sample <= 10 µs at 64 Python frames | ${deep64.kernelUsPerSample.toFixed(1)} µs (--unwind fp: ${costs.find((c) => c.label === '64 Python frames' && c.unwind === 'fp')!.kernelUsPerSample.toFixed(1)} µs) | ${met(deep64.kernelUsPerSample <= 10)} |`,
    `| attach latency (sample started to sampling) idle <= 0.5 s, ${attaching.busyTasks} busy tasks on ${os.cpus().length} CPUs <= 1 s | ${seconds(attachMedian('idle', 'dwarf'))} and ${seconds(attachMedian('loaded', 'dwarf'))} (--unwind fp, bpftrace: ${seconds(attachMedian('idle', 'fp'))} and ${seconds(attachMedian('loaded', 'fp'))}) | ${met(attachMedian('idle', 'dwarf') <= 0.5 && attachMedian('loaded', 'dwarf') <= 1)} |`,
    `| record: started to the command's first line, sampled from there, idle <= 0.5 s, loaded <= 1 s | ${seconds(recordMedian('idle'))} and ${seconds(recordMedian('loaded'))} | ${met(recordMedian('idle') <= 0.5 && recordMedian('loaded') <= 1)} |`,
    `| post-processing >= 1 million samples per minute | ${(samplesPerMinute / 1e6).toFixed(1)} million per minute | ${met(samplesPerMinute >= 1e6)} |`,
    `| SVG flame graph of 100,000 distinct stacks <= 5 s | ${svgSeconds.toFixed(2)} s | ${met(svgSeconds <= 5)} |`,
    `| accuracy >= 99% exact chains | ${pct(dwarfAcc.exact / dwarfAcc.samples, 2)} of ${dwarfAcc.samples} samples at 999 Hz (--unwind fp: ${pct(fpAcc.exact / fpAcc.samples, 2)}) | ${met(Math.min(fpAcc.exact / fpAcc.samples, dwarfAcc.exact / dwarfAcc.samples) >= 0.99)} |`,
    ...(['fp', 'dwarf'] as const).map((u) => {
      const name = `mixprof ${u}`;
      const ahead = RATES.every((hz) => rowNotSlower(name, 'austin', hz) && cpuOf(name, hz) <= cpuOf('austin', hz));
      return `| ahead of austin in overhead at equal rate (${u === 'fp' ? '--unwind fp' : 'default, DWARF'}) | slowdown ${RATES.map((hz) => `${hz} Hz ${pct(slow(name, hz))} vs ${pct(slow('austin', hz))}`).join(', ')}; profiler CPU ${RATES.map((hz) => `${pct(cpuOf(name, hz))} vs ${pct(cpuOf('austin', hz))}`).join(', ')} | ${met(ahead)} |`;
    }),
    `| ahead of CPython 3.15's own sampler on a 3.15 target at equal rate (slowdown, CPU, exact chains) | ${cpython315Budget(cpython315).measured} | ${met(cpython315Budget(cpython315).met)} |`,
    `| not behind austin in accuracy | mixprof ${pct(dwarfAcc.exact / dwarfAcc.samples, 2)} (--unwind fp ${pct(fpAcc.exact / fpAcc.samples, 2)}), austin ${pct(austinAcc.exact / austinAcc.samples, 2)} | ${met(Math.min(fpAcc.exact / fpAcc.samples, dwarfAcc.exact / dwarfAcc.samples) >= austinAcc.exact / austinAcc.samples)} |`,
    '',
    '## Target slowdown',
    '',
    'CPU-bound Python threads in known chains (bench/workload.py) on CPU 0 report the work they finish; their speed is',
    `measured in ${pairs} pairs of 3 s windows without and with the profiler attached (its processes on CPU 1), in the`,
    'same process, the order alternating (A B, B A, ...). Slowdown = speed alone / speed profiled - 1, per wall-clock second and per second of the',
    "target's own CPU time. The first row pairs two unprofiled windows: the noise floor. Profiler CPU is what its",
    'processes (and, for mixprof, the BPF programs) used during the profiled windows, which start right after attach.',
    "In the budget table two profilers' slowdowns count as different only by more than the noise floor and more than",
    'half the middle spread of either row.',
    '',
    '| profiler | Hz | median slowdown | middle half of the pairs | per CPU second | profiler CPU |',
    '| --- | --- | --- | --- | --- | --- |',
    ...slowdowns.map(
      (s) =>
        `| ${s.profiler} | ${s.hz || ''} | ${pct(median(s.slowdowns))} | ${pct(quantile(s.slowdowns, 0.25))}..${pct(quantile(s.slowdowns, 0.75))} | ${pct(median(s.cpuSlowdowns))} | ${s.hz ? pct(cpuOf(s.profiler, s.hz)) : ''} |`,
    ),
    '| py-spy | | not measured: py-spy cannot be installed here (no PyPI, no crates) | | | |',
    '',
    '## mixprof cost in steady state',
    '',
    `Sampling a running workload; CPU shares of one core over a 10 s (5 s for the depth rows) window after ${SETTLE_SECONDS} s of`,
    'settling (the last column: the whole profiler while settling, when node compiles its hot code and the sampler the',
    "modules' unwind rows). Kernel: the BPF programs' run time (kernel.bpf_stats_enabled); per sample: that time / the samples in the window",
    '(it includes the cheap runs that find another process on the CPU and, with frame pointers, the once-a-second print of',
    "the sample map). With DWARF there is no bpftrace: the addon's BPF program unwinds the user stack in the kernel with",
    "the modules' compiled rows (copying 8 KiB of stack for mixprof to unwind only where it cannot), so the unwinding is",
    'in the BPF column.',
    '',
    'The sleepers rows run the same workload in CPU mode and in wall-clock mode (`--mode wall`: every thread sampled,',
    'the off-CPU ones by the task iterator; the 25 threads asleep for good cost a repeat record each per tick).',
    '',
    ...costTable(costs),
    '',
    '## Accuracy',
    '',
    "Samples of the known-chain workload's 10 chain threads whose Python frames are exactly the chain the interpreter",
    'reported (test/workloads/chains.py), over 10 s. austin 3.7.0 (Debian sid) in CPU mode (-s).',
    '',
    '| profiler | Hz | samples | exact | lost events |',
    '| --- | --- | --- | --- | --- |',
    ...accuracy.map((a) => `| ${a.profiler} | ${a.hz} | ${a.samples} | ${pct(a.exact / a.samples, 2)} | ${a.lostEvents ?? 'n/a'} |`),
    '',
    '## Attach latency and post-processing',
    '',
    `- Attach latency (mixprof started to probes attached, median over the slowdown pairs): ${attach.toFixed(2)} s.`,
    `- Attach latency by sampler, ${attaching.sample.idle.dwarf.length} runs each (sample started to "sampling process" on a running pyenv 3.11; idle, then with ${attaching.busyTasks} spinning tasks): DWARF ${attaching.sample.idle.dwarf.map(seconds).join(', ')} / ${attaching.sample.loaded.dwarf.map(seconds).join(', ')}; frame pointers ${attaching.sample.idle.fp.map(seconds).join(', ')} / ${attaching.sample.loaded.fp.map(seconds).join(', ')}.`,
    `- record started to its command's first line (held there until the sampler runs): ${attaching.record.idle.map(seconds).join(', ')} / ${attaching.record.loaded.map(seconds).join(', ')}.`,
    `- Post-processing of a recorded 10 s run at 999 Hz (${post.records} records, ${post.samples} samples) replayed through`,
    `  parsing, naming, symbolization, merging and folded output: ${(post.coldSeconds * 1000).toFixed(0)} ms cold`,
    `  (${(samplesPerMinute / 1e6).toFixed(1)} million samples per minute), ${(post.warmSeconds * 1000).toFixed(0)} ms with warm caches.`,
    `- The SVG flame graph of 100,000 distinct synthetic stacks (test/helpers/synthetic-stacks.ts), median of 3: ${(svgSeconds * 1000).toFixed(0)} ms.`,
    '',
    ...unwindersSection(unwinders),
    ...cpython315Section(cpython315),
    ...storeSection(storeBench),
    ...traceSection(tracing),
    ...timelineSection(timelines),
  ];
  await writeFile(path.join(REPO, 'bench', 'RESULTS.md'), lines.join('\n'));
  process.stdout.write(lines.join('\n'));
}

await main();
