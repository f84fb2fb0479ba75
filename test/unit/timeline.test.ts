import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { formatChrometrace, type TraceEvent } from '../../src/output/chrometrace.js';
import { chooseFormat } from '../../src/output/formats.js';
import { formatGecko, GECKO_CATEGORIES } from '../../src/output/gecko.js';
import { AGGREGATE_FORMATS, type OutputProfile } from '../../src/output/output-profile.js';
import { formatSpeedscope, type SpeedscopeFile } from '../../src/output/speedscope.js';
import { stateIntervals } from '../../src/output/timeline-intervals.js';
import { combineTimelines, TimelineLog, type Timeline, type TimelineStack } from '../../src/profile/timeline.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { REPO } from '../helpers/paths.js';

const py = (func: string, line: number): Frame => ({ kind: 'python', name: `${func} (app.py:${line})`, func, file: '/srv/app.py', line });
const native = (name: string): Frame => ({ kind: 'native', name, file: '/usr/bin/python3.11' });
const kernel = (name: string): Frame => ({ kind: 'kernel', name });

const HZ = 100;
const PERIOD = 10;
const START = 1_000_000;
const PID = 40;

/** A timeline from (time offset in ms, thread, stack index) triples. */
function timeline(stacks: TimelineStack[], samples: [number, number, number][], threads: number[] = [PID, PID + 1]): Timeline {
  return {
    stacks,
    samples: samples.map(([t, tid, stack]) => ({ time: START + t, pid: PID, tid, stack, weight: 1 })),
    threads: threads.map((tid) => ({ tid, comm: 'python3', ...(tid === PID + 1 ? { name: 'worker' } : {}), pid: PID, process: 'python3' })),
  };
}

const profileOf = (t: Timeline): OutputProfile => ({ stacks: [], hz: HZ, startTime: START, durationSeconds: 1, title: 'python3 (40)', timeline: t });

const MAIN = py('main', 3);
const A = py('phase_a', 10);
const A2 = py('phase_a', 11);
const B = py('phase_b', 20);
const GC = native('gc_collect_main.lto_priv.0');
const WAIT = native('take_gil');

describe('timeline log', () => {
  test('numbers each item once, keeps every sample, sorts by time and keeps the order of equal times', () => {
    const log = new TimelineLog<string>();
    const keyA = {};
    const keyB = {};
    const number = (key: object, item: string): number => log.numberOf(key) ?? log.addItem(key, item);
    log.add(30, 1, number(keyA, 'a'), 1);
    log.add(10, 2, number(keyB, 'b'), 2);
    log.add(10, 1, number(keyA, 'a again'), 1);
    log.add(20, 1, number(keyA, 'a again'), 1);
    assert.deepEqual(log.items, ['a', 'b']);
    assert.deepEqual(
      log.sorted(7).map((s) => [s.time, s.tid, s.stack, s.weight, s.pid]),
      [
        [10, 2, 1, 2, 7],
        [10, 1, 0, 1, 7],
        [20, 1, 0, 1, 7],
        [30, 1, 0, 1, 7],
      ],
    );
  });

  test('grows past its first columns', () => {
    const log = new TimelineLog<number>();
    for (let i = 0; i < 5000; i++) log.add(5000 - i, i, log.numberOf(i % 3) ?? log.addItem(i % 3, i), 1);
    const sorted = log.sorted(1);
    assert.equal(sorted.length, 5000);
    assert.equal(sorted[0]!.time, 1);
    assert.equal(sorted[4999]!.time, 5000);
    assert.equal(log.items.length, 3);
  });

  test("several processes' timelines as one: stacks renumbered, samples in time order", () => {
    const one = timeline([{ frames: [A] }], [[0, PID, 0], [20, PID, 0]], [PID]);
    const other: Timeline = { stacks: [{ frames: [B] }], samples: [{ time: START + 10, pid: 50, tid: 50, stack: 0, weight: 1 }], threads: [{ tid: 50, comm: 'w', pid: 50, process: 'w' }] };
    const both = combineTimelines([one, other]);
    assert.deepEqual(both.samples.map((s) => [s.time - START, s.tid, both.stacks[s.stack]!.frames[0]!.func]), [
      [0, PID, 'phase_a'],
      [10, 50, 'phase_b'],
      [20, PID, 'phase_a'],
    ]);
    assert.deepEqual(both.threads.map((t) => t.tid), [PID, 50]);
  });
});

describe('state intervals', () => {
  const stacks: TimelineStack[] = [{ frames: [MAIN, A] }, { frames: [MAIN, A, GC] }, { frames: [MAIN, A, WAIT] }];

  test('a collection runs from its first sample to the first sample out of it (the collector named with its compiler suffix)', () => {
    const t = timeline(stacks, [[0, PID, 0], [10, PID, 1], [20, PID, 1], [30, PID, 0]]);
    assert.deepEqual(stateIntervals(t, PERIOD).map((i) => [i.kind, i.tid, i.start - START, i.end - START]), [['gc', PID, 10, 30]]);
  });

  test('a gap in the samples (off CPU) ends it one period after its last sample; so does the end', () => {
    const t = timeline(stacks, [[0, PID, 1], [10, PID, 1], [200, PID, 1], [210, PID, 0], [300, PID + 1, 2]]);
    assert.deepEqual(stateIntervals(t, PERIOD).map((i) => [i.kind, i.tid, i.start - START, i.end - START]), [
      ['gc', PID, 0, 20],
      ['gc', PID, 200, 210],
      ['gil-wait', PID + 1, 300, 310],
    ]);
  });

  test('threads apart: one thread collecting does not end when another samples', () => {
    const t = timeline(stacks, [[0, PID, 1], [5, PID + 1, 0], [10, PID, 1], [15, PID + 1, 0], [20, PID, 0]]);
    assert.deepEqual(stateIntervals(t, PERIOD).map((i) => [i.kind, i.tid, i.start - START, i.end - START]), [['gc', PID, 0, 20]]);
  });
});

describe('chrometrace', () => {
  const events = (t: Timeline): TraceEvent[] => (JSON.parse(formatChrometrace(profileOf(t))) as { traceEvents: TraceEvent[] }).traceEvents;
  const bars = (evs: TraceEvent[], tid: number): [string, number, number][] => {
    // Each bar with the position of its B: callers begin before their callees.
    const open: [TraceEvent, number][] = [];
    const out: [string, number, number, number][] = [];
    evs.filter((x) => x.tid === tid && x.ph !== 'M').forEach((e, i) => {
      if (e.ph === 'B') open.push([e, i]);
      else {
        const [b, at] = open.pop() ?? assert.fail(`an E without its B: ${JSON.stringify(e)}`);
        assert.equal(b.name, e.name);
        out.push([e.name, b.ts / 1000, e.ts / 1000, at]);
      }
    });
    assert.equal(open.length, 0, 'every B is ended');
    return out.sort((x, y) => x[3] - y[3]).map(([name, start, end]) => [name, start, end]);
  };

  test('a function is one bar while it stays on the stack, whatever line runs; callers enclose it', () => {
    const t = timeline([{ frames: [MAIN, A] }, { frames: [MAIN, A2] }, { frames: [MAIN, B] }], [[0, PID, 0], [10, PID, 1], [20, PID, 0], [30, PID, 2], [40, PID, 2]]);
    assert.deepEqual(bars(events(t), PID), [
      ['main', 0, 50],
      ['phase_a', 0, 30],
      ['phase_b', 30, 50],
    ]);
  });

  test("a gap (the thread off CPU) ends the thread's bars one period after its last sample", () => {
    const t = timeline([{ frames: [MAIN, A] }], [[0, PID, 0], [10, PID, 0], [500, PID, 0]]);
    assert.deepEqual(bars(events(t), PID), [
      ['main', 0, 20],
      ['phase_a', 0, 20],
      ['main', 500, 510],
      ['phase_a', 500, 510],
    ]);
  });

  test('a track per thread, named by thread_name metadata, in a process named by process_name', () => {
    const t = timeline([{ frames: [MAIN] }], [[0, PID, 0], [0, PID + 1, 0]]);
    const evs = events(t);
    const names = evs.filter((e) => e.name === 'thread_name').map((e) => [e.tid, e.args!['name']]);
    assert.deepEqual(names, [
      [PID, `python3 (${PID})`],
      [PID + 1, `worker (${PID + 1})`],
    ]);
    assert.deepEqual(evs.filter((e) => e.name === 'process_name').map((e) => [e.pid, e.args!['name']]), [[PID, `python3 (${PID})`]]);
    assert.equal(bars(evs, PID + 1).length, 1);
  });
});

describe('gecko', () => {
  interface Thread {
    name: string;
    tid: number;
    pid: string;
    isMainThread: boolean;
    samples: { stack: number[]; time: number[]; length: number; weight: number[] | null };
    stackTable: { frame: number[]; prefix: (number | null)[]; category: number[]; length: number };
    frameTable: { func: number[]; category: number[]; line: (number | null)[]; length: number };
    funcTable: { name: number[]; fileName: (number | null)[]; isJS: boolean[]; length: number };
    markers: { name: number[]; startTime: number[]; endTime: number[]; phase: number[]; category: number[]; data: { type: string }[]; length: number };
  }
  interface Gecko {
    meta: { startTime: number; interval: number; version: number; preprocessedProfileVersion: number; categories: { name: string; color: string; subcategories: string[] }[] };
    threads: Thread[];
    shared: { stringArray: string[] };
  }
  const gecko = (t: Timeline): Gecko => JSON.parse(formatGecko(profileOf(t))) as Gecko;
  /** A sample's functions, root first, as a viewer reads them from the tables. */
  const stackNames = (g: Gecko, th: Thread, stack: number): string[] => {
    const names: string[] = [];
    for (let s: number | null = stack; s !== null; s = th.stackTable.prefix[s]!) names.unshift(g.shared.stringArray[th.funcTable.name[th.frameTable.func[th.stackTable.frame[s]!]!]!]!);
    return names;
  };

  test('each thread its tables: every index in range, prefixes before their stacks, the samples read back as given', () => {
    const t = timeline(
      [{ frames: [MAIN, A] }, { frames: [MAIN, A2] }, { frames: [MAIN, B, kernel('do_syscall_64')] }],
      [[0, PID, 0], [10, PID, 1], [12, PID + 1, 2], [20, PID, 2]],
    );
    const g = gecko(t);
    assert.equal(g.meta.version, 32);
    assert.equal(g.meta.preprocessedProfileVersion, 57);
    assert.equal(g.meta.startTime, START);
    assert.equal(g.meta.interval, PERIOD);
    assert.equal(g.meta.categories[0]!.color, 'grey');
    assert.deepEqual(g.threads.map((th) => [th.tid, th.name, th.isMainThread, th.pid]), [
      [PID, 'python3', true, String(PID)],
      [PID + 1, 'worker', false, String(PID)],
    ]);
    for (const th of g.threads) {
      th.stackTable.prefix.forEach((p, i) => assert.ok(p === null || p < i));
      th.stackTable.frame.forEach((f) => assert.ok(f < th.frameTable.length));
      th.frameTable.func.forEach((f) => assert.ok(f < th.funcTable.length));
      th.samples.stack.forEach((s) => assert.ok(s < th.stackTable.length));
      assert.equal(th.samples.length, th.samples.stack.length);
      assert.equal(th.samples.weight, null);
    }
    const main = g.threads[0]!;
    assert.deepEqual(main.samples.time, [0, 10, 20]);
    assert.deepEqual(main.samples.stack.map((s) => stackNames(g, main, s)), [
      ['main', 'phase_a'],
      ['main', 'phase_a'],
      ['main', 'phase_b', 'do_syscall_64'],
    ]);
    // One function at two lines: two frames of one function.
    const phaseA = main.funcTable.name.findIndex((n) => g.shared.stringArray[n] === 'phase_a');
    assert.deepEqual(main.frameTable.func.flatMap((f, i) => (f === phaseA ? [main.frameTable.line[i]] : [])), [10, 11]);
    assert.equal(g.shared.stringArray[main.funcTable.fileName[phaseA]!], '/srv/app.py');
    assert.equal(main.funcTable.isJS[phaseA], true);
    const categories = g.meta.categories.map((c) => c.name);
    const leafCategory = (th: Thread, sample: number): string => categories[th.stackTable.category[th.samples.stack[sample]!]!]!;
    assert.deepEqual([0, 2].map((i) => leafCategory(main, i)), ['Python', 'Kernel']);
  });

  test('collections and GIL waits are interval markers of their thread; waiting threads are idle', () => {
    const t = timeline(
      [{ frames: [MAIN, A] }, { frames: [MAIN, A, GC] }, { frames: [MAIN, A, WAIT, kernel('futex_wait')], offCpu: 'waiting' }],
      [[0, PID, 1], [10, PID, 1], [20, PID, 0], [0, PID + 1, 2], [10, PID + 1, 0]],
    );
    const g = gecko(t);
    const markers = g.threads.map((th) => th.markers.name.map((n, i) => [g.shared.stringArray[n], th.markers.startTime[i], th.markers.endTime[i], th.markers.phase[i], th.markers.data[i]!.type]));
    assert.deepEqual(markers, [[['GC Collecting', 0, 20, 1, 'GCCollecting']], [['Waiting for GIL', 0, 10, 1, 'WaitingForGIL']]]);
    const worker = g.threads[1]!;
    assert.equal(g.meta.categories[worker.stackTable.category[worker.samples.stack[0]!]!]!.name, 'Idle');
    assert.ok(GECKO_CATEGORIES.some((c) => c.name === 'Idle' && c.color === 'transparent'));
  });

  test('weights appear only when a sample stands for more than one period', () => {
    const t = timeline([{ frames: [MAIN] }], [[0, PID, 0]]);
    const weighted: Timeline = { ...t, samples: t.samples.map((s) => ({ ...s, weight: 3 })) };
    assert.deepEqual(gecko(weighted).threads[0]!.samples.weight, [3]);
  });
});

describe('speedscope in time order', () => {
  test('a profile per thread, its samples in the order taken, valid against speedscope\'s schema', () => {
    const t = timeline([{ frames: [MAIN, A] }, { frames: [MAIN, B] }], [[0, PID, 1], [10, PID, 0], [15, PID + 1, 0], [20, PID, 1], [30, PID, 0]]);
    const file = JSON.parse(formatSpeedscope(profileOf(t))) as SpeedscopeFile;
    const schema = JSON.parse(readFileSync(path.join(REPO, 'node_modules', 'speedscope', 'dist', 'release', 'file-format-schema.json'), 'utf8')) as object;
    const validate = new Ajv({ strict: false }).compile(schema);
    assert.ok(validate(file), JSON.stringify(validate.errors));
    assert.deepEqual(file.profiles.map((p) => p.name), [`python3 (${PID})`, `worker (${PID + 1})`]);
    const leaf = (stack: number[]): string => file.shared.frames[stack[stack.length - 1]!]!.name;
    assert.deepEqual(file.profiles[0]!.samples.map(leaf), ['phase_b', 'phase_a', 'phase_b', 'phase_a']);
    assert.deepEqual(file.profiles[0]!.weights, [0.01, 0.01, 0.01, 0.01]);
  });
});

describe('choosing a timeline format', () => {
  test('by the -o extension: .gecko.json, .trace.json', () => {
    assert.equal(chooseFormat(undefined, 'app.gecko.json'), 'gecko');
    assert.equal(chooseFormat(undefined, 'app.trace.json'), 'chrometrace');
    assert.equal(chooseFormat(undefined, 'app.json'), 'speedscope');
  });

  test('refused where only stacks and counts are kept (convert), in one line that says what to do', () => {
    assert.throws(() => chooseFormat(undefined, 'x.trace.json', AGGREGATE_FORMATS), /x\.trace\.json \(the chrometrace format\): shows samples in time order/);
    assert.throws(() => chooseFormat('gecko', null, AGGREGATE_FORMATS), /--format gecko: shows samples in time order/);
  });
});
