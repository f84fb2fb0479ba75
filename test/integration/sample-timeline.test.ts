/**
 * Timelines (--timeline; the gecko and chrometrace formats, speedscope in
 * time order) of a workload whose main thread runs three phases one after
 * another, each timed by the workload itself on the kernel's clock, beside a
 * worker thread that spins the whole while (test/workloads/phases.py). The
 * files are read by their viewers' own code (test/helpers/timeline-readers.ts):
 * one track per thread, each phase's samples inside the phase's own time,
 * the collections marked, the GIL waits marked.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { REPO, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, nextJsonLine, runMixprof, startSampling, startWorkload } from '../helpers/processes.js';
import { debianPython, type TestPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { loadWithFirefoxProfiler, readWithDevtools, type FirefoxSession } from '../helpers/timeline-readers.js';

const PHASES = ['phase_one', 'phase_two', 'phase_collect'] as const;
type Phase = (typeof PHASES)[number];
/** Each phase's [start, end], CLOCK_MONOTONIC ns, as the workload timed it. */
type Done = Record<Phase, [number, number]>;
interface Ready {
  main: number;
  worker: number;
}

/** Samples at a phase's edges may fall either side of its own clock readings: a sample period and a little. */
const EDGE_MS = 40;

/** CLOCK_MONOTONIC ns as ms since the epoch (the kernel's clock and this process's share the machine's). */
function epochMsOf(monotonicNs: number): number {
  return Date.now() - (Number(process.hrtime.bigint()) - monotonicNs) / 1e6;
}


interface TimelineRun {
  readonly ready: Ready;
  readonly done: Done;
  readonly file: string;
  readonly stderr: string;
}

/**
 * Samples the workload from before its phases start until it exits after
 * them (mixprof then writes the file and exits on its own).
 */
async function sampleThePhases(python: TestPython, dir: string, name: string, args: readonly string[]): Promise<TimelineRun> {
  const workload = await startWorkload<Ready>(python.executable, [path.join(WORKLOADS, 'phases.py'), '1'], 60_000, {}, 'pipe');
  try {
    const file = path.join(dir, name);
    const debug = python.debugFile ? ['-d', python.debugFile] : [];
    const run = await startSampling(['sample', '-x', String(workload.pid), '-t', '60', ...debug, ...args, '-o', file], 60_000);
    const finished = nextJsonLine<Done>(workload, 'DONE', 60_000);
    workload.child.stdin!.write('go\n');
    const done = await finished;
    // The target exits after DONE: mixprof writes what it has and ends.
    const result = await run.child;
    assert.equal(result.exitCode, 0, String(result.stderr));
    return { ready: workload.ready, done, file, stderr: String(result.stderr) };
  } finally {
    await workload.stop();
  }
}

describe('timelines: --timeline, gecko, chrometrace, speedscope in time order', () => {
  let dir: string;
  let python: TestPython;

  before(async () => {
    assertRoot();
    // Debian's build with its debug file: the collector's and the GIL's static functions are named.
    python = await debianPython('debian-3.11');
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-timeline-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  describe('gecko (wall clock), read by the Firefox Profiler', () => {
    let run: TimelineRun;
    let session: FirefoxSession;
    let file: { meta: { startTime: number; preprocessedProfileVersion: number }; threads: { tid: number; samples: { time: number[] } }[] };
    let handles: Map<number, string>;

    before(async () => {
      run = await sampleThePhases(python, dir, 'phases.gecko.json', ['--mode', 'wall']);
      file = JSON.parse(await readFile(run.file, 'utf8')) as typeof file;
      session = await loadWithFirefoxProfiler(run.file);
      handles = new Map();
      for (const p of await session.processes()) for (const t of p.threads) handles.set(t.tid, t.threadHandle);
    });
    after(async () => {
      await session?.close();
    });

    test('one track per thread: the main thread and the worker, named', async () => {
      const processes = await session.processes();
      assert.equal(processes.length, 1);
      const threads = processes[0]!.threads;
      assert.deepEqual(threads.map((t) => t.tid).sort((a, b) => a - b), [run.ready.main, run.ready.worker].sort((a, b) => a - b));
      assert.equal(threads.find((t) => t.tid === run.ready.worker)!.name, 'worker');
      assert.equal(processes[0]!.pid, String(run.ready.main));
    });

    test("each thread's samples are in time order", () => {
      for (const t of file.threads) {
        const times = t.samples.time;
        assert.ok(times.length >= 100, `thread ${t.tid}: ${times.length} samples`);
        for (let i = 1; i < times.length; i++) assert.ok(times[i]! >= times[i - 1]!, `thread ${t.tid}: sample ${i} at ${times[i]} after ${times[i - 1]}`);
      }
    });

    test("each phase's samples lie in the phase's own time: within it, the main thread runs that phase alone", async () => {
      const main = handles.get(run.ready.main)!;
      for (const phase of PHASES) {
        const [start, end] = run.done[phase].map((ns) => epochMsOf(ns) - file.meta.startTime) as [number, number];
        const within = await session.functions(main, { startMs: start + EDGE_MS, endMs: end - EDGE_MS });
        assert.ok(within.totalSamples >= 50, `${phase}: ${within.totalSamples} samples in ${Math.round(start)}-${Math.round(end)} ms`);
        const share = (name: string): number => within.functions.find((f) => f.name.endsWith(`!${name}`) || f.name === name)?.totalSamples ?? 0;
        // The phase in nearly every sample of its time, not every one: once in seven runs (a loaded full suite) 4 of 91 samples
        // had spin_until without its caller, a stack matter noted on the issue, not one of time.
        assert.ok(share(phase) >= 0.9 * within.totalSamples, `${phase}: ${share(phase)} of ${within.totalSamples} samples in it: ${within.functions.slice(0, 12).map((f) => `${f.name} ${f.totalSamples}`).join(', ')}`);
        for (const other of PHASES) if (other !== phase) assert.equal(share(other), 0, `${other} inside ${phase}'s time`);
      }
    });

    test('collections are "GC Collecting" markers, on the main thread only', async () => {
      const main = await session.markers(handles.get(run.ready.main)!);
      const gc = main.find((m) => m.markerName === 'GC Collecting');
      assert.ok(gc && gc.count >= 1 && gc.isInterval, JSON.stringify(main));
      const worker = await session.markers(handles.get(run.ready.worker)!);
      assert.equal(worker.find((m) => m.markerName === 'GC Collecting'), undefined, JSON.stringify(worker));
    });

    test('two threads that both need the GIL wait for it: "Waiting for GIL" markers on each', async () => {
      for (const tid of [run.ready.main, run.ready.worker]) {
        const markers = await session.markers(handles.get(tid)!);
        const waits = markers.find((m) => m.markerName === 'Waiting for GIL');
        assert.ok(waits && waits.count >= 1 && waits.isInterval, `thread ${tid}: ${JSON.stringify(markers)}`);
      }
    });

    test('the file is at the processed version CPython 3.15 writes (the profiler upgraded it as it loaded)', () => {
      assert.equal(file.meta.preprocessedProfileVersion, 57);
    });
  });

  describe('chrometrace (CPU), read by Chrome DevTools', () => {
    let run: TimelineRun;
    let threads: Awaited<ReturnType<typeof readWithDevtools>>;
    let start: number;

    before(async () => {
      run = await sampleThePhases(python, dir, 'phases.trace.json', []);
      const file = JSON.parse(await readFile(run.file, 'utf8')) as { traceEvents: unknown[]; otherData: { startTime: string } };
      start = Date.parse(file.otherData.startTime);
      threads = await readWithDevtools(file.traceEvents);
    });

    test('one track per thread, named', () => {
      assert.deepEqual(threads.map((t) => t.tid).sort((a, b) => a - b), [run.ready.main, run.ready.worker].sort((a, b) => a - b));
      assert.ok(threads.every((t) => t.pid === run.ready.main));
      assert.match(threads.find((t) => t.tid === run.ready.worker)!.name ?? '', /^worker \(\d+\)$/);
    });

    test("each phase's bars lie in the phase's own time, in the phases' order", () => {
      const main = threads.find((t) => t.tid === run.ready.main)!;
      let previousEnd = -Infinity;
      for (const phase of PHASES) {
        const bars = main.entries.filter((e) => e.name === phase);
        assert.ok(bars.length >= 1, `no ${phase} bar among ${new Set(main.entries.map((e) => e.name)).size} names`);
        const [phaseStart, phaseEnd] = run.done[phase].map((ns) => epochMsOf(ns) - start) as [number, number];
        const first = Math.min(...bars.map((b) => b.ts / 1000));
        const last = Math.max(...bars.map((b) => (b.ts + b.dur) / 1000));
        assert.ok(first >= phaseStart - EDGE_MS && last <= phaseEnd + EDGE_MS, `${phase}: bars ${Math.round(first)}-${Math.round(last)} ms, the phase ${Math.round(phaseStart)}-${Math.round(phaseEnd)} ms`);
        assert.ok(first >= previousEnd - 1, `${phase} begins at ${first} before the phase before it ends (${previousEnd})`);
        // Held the GIL about half the time (the worker the rest): bars cover a good part of the phase.
        const covered = bars.reduce((n, b) => n + b.dur / 1000, 0);
        assert.ok(covered >= 0.15 * (phaseEnd - phaseStart), `${phase}: bars cover ${Math.round(covered)} ms of ${Math.round(phaseEnd - phaseStart)}`);
        previousEnd = last;
      }
    });

    test('callers enclose their callees: phase_one nested in main, main in <module>', () => {
      const main = threads.find((t) => t.tid === run.ready.main)!;
      const encloses = (outer: string, inner: string): boolean => {
        const outers = main.entries.filter((e) => e.name === outer);
        return main.entries.filter((e) => e.name === inner).every((i) => outers.some((o) => o.ts <= i.ts && i.ts + i.dur <= o.ts + o.dur));
      };
      assert.ok(encloses('main', 'phase_one'));
      assert.ok(encloses('<module>', 'main'));
    });
  });

  describe('speedscope with --timeline', () => {
    test("a profile per thread, its samples in the order taken: the phases' samples one after another", async () => {
      const run = await sampleThePhases(python, dir, 'phases.speedscope.json', ['--timeline']);
      const schema = JSON.parse(readFileSync(path.join(REPO, 'node_modules', 'speedscope', 'dist', 'release', 'file-format-schema.json'), 'utf8')) as object;
      const data = JSON.parse(await readFile(run.file, 'utf8')) as { shared: { frames: { name: string }[] }; profiles: { name: string; samples: number[][] }[] };
      const validate = new Ajv({ strict: false }).compile(schema);
      assert.ok(validate(data), JSON.stringify(validate.errors));
      assert.deepEqual(data.profiles.map((p) => Number(/\((\d+)\)$/.exec(p.name)![1])).sort((a, b) => a - b), [run.ready.main, run.ready.worker].sort((a, b) => a - b));
      const main = data.profiles.find((p) => p.name.endsWith(`(${run.ready.main})`))!;
      const phaseOf = (stack: number[]): Phase | null => PHASES.find((p) => stack.some((f) => data.shared.frames[f]!.name === p)) ?? null;
      const order = main.samples.map(phaseOf).filter((p): p is Phase => p !== null);
      // Runs of one phase, in order: never back to an earlier phase.
      const runs = order.filter((p, i) => i === 0 || p !== order[i - 1]);
      assert.deepEqual(runs, [...PHASES], `phase runs in the samples' order: ${runs.join(', ')}`);
    });
  });

  test('[B20] refused in one line each: --timeline with --unwind fp, with a format without time; a timeline format from convert', async () => {
    const fp = await runMixprof(['sample', '-x', String(process.pid), '--timeline', '--unwind', 'fp', '-t', '1', '-o', path.join(dir, 'x.gecko.json')]);
    assert.equal(fp.exitCode, 1);
    assert.match(String(fp.stderr).trim(), /^mixprof: error: --timeline cannot be used with --unwind fp/);
    assert.equal(String(fp.stderr).trim().split('\n').length, 1, String(fp.stderr));
    const svg = await runMixprof(['sample', '-x', String(process.pid), '--timeline', '-t', '1', '-o', path.join(dir, 'x.svg')]);
    assert.equal(svg.exitCode, 1);
    assert.match(String(svg.stderr).trim(), /^mixprof: error: --timeline keeps each sample's time, which the svg format does not show/);
    assert.equal(String(svg.stderr).trim().split('\n').length, 1, String(svg.stderr));
    const folded = path.join(dir, 'in.folded');
    await writeFile(folded, 'a;b 3\n');
    const convert = await runMixprof(['convert', folded, '-o', path.join(dir, 'x.gecko.json')]);
    assert.equal(convert.exitCode, 1);
    assert.match(String(convert.stderr).trim(), /the gecko format\): shows samples in time order, which folded stacks do not keep/);
    assert.equal(String(convert.stderr).trim().split('\n').length, 1, String(convert.stderr));
    assert.equal(await bpftraceCount(), 0);
  });
});
