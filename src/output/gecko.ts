/**
 * The Firefox Profiler's processed profile format (https://profiler.firefox.com
 * opens it; docs-developer/CHANGELOG-formats.md in its repository), at the
 * version CPython 3.15's own sampler writes (gecko_collector.py: format 32,
 * processed 57; the profiler upgrades older versions as it loads them).
 *
 * A track per thread, grouped by process: each sample at its time with its
 * stack, root first. Python, native and kernel frames each get a category
 * (the track's colours); collecting garbage and waiting for the GIL are
 * interval markers, as CPython's sampler marks them.
 */
import { cpus } from 'node:os';
import type { Frame } from '../symbolize/frame.js';
import type { TimelineStack } from '../profile/timeline.js';
import type { OutputProfile } from './output-profile.js';
import { INTERVAL_NAMES, stateIntervals, timelineOf, type Interval, type IntervalKind } from './timeline-intervals.js';

export const GECKO_FORMAT_VERSION = 32;
export const GECKO_PROCESSED_VERSION = 57;

/** The categories, by index; the first grey one is the default the format asks for. */
export const GECKO_CATEGORIES = [
  { name: 'Other', color: 'grey', subcategories: ['Other'] },
  { name: 'Python', color: 'yellow', subcategories: ['Other'] },
  { name: 'Native', color: 'blue', subcategories: ['Other'] },
  { name: 'Kernel', color: 'orange', subcategories: ['Other'] },
  { name: 'GC', color: 'red', subcategories: ['Other'] },
  { name: 'GIL', color: 'green', subcategories: ['Other'] },
  // The profiler leaves samples of this category out of its CPU graph and its "active" counts.
  { name: 'Idle', color: 'transparent', subcategories: ['Other'] },
] as const;
const IDLE = 6;

const CATEGORY_OF_KIND: Readonly<Record<Frame['kind'], number>> = { marker: 0, python: 1, native: 2, kernel: 3 };
const CATEGORY_OF_INTERVAL: Readonly<Record<IntervalKind, number>> = { gc: 4, 'gil-wait': 5 };
/** The marker data's type for each interval, and the schema that names it. */
const MARKER_TYPE: Readonly<Record<IntervalKind, string>> = { gc: 'GCCollecting', 'gil-wait': 'WaitingForGIL' };
/** A marker spanning time (phase INTERVAL of the format). */
const INTERVAL_PHASE = 1;
/** resourceTable.type: a library (of code), as CPython's sampler marks its files too. */
const RESOURCE_LIBRARY = 1;

class Strings {
  readonly array: string[] = [];
  private readonly index = new Map<string, number>();
  of(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.array.length;
      this.array.push(s);
      this.index.set(s, i);
    }
    return i;
  }
}

/** One thread's tables: its own functions, frames and stacks (the format's version keeps them per thread). */
class ThreadTables {
  readonly funcTable = { name: [] as number[], isJS: [] as boolean[], relevantForJS: [] as boolean[], resource: [] as number[], fileName: [] as (number | null)[], lineNumber: [] as (number | null)[], columnNumber: [] as (number | null)[], length: 0 };
  readonly frameTable = {
    address: [] as number[],
    category: [] as number[],
    subcategory: [] as number[],
    func: [] as number[],
    innerWindowID: [] as null[],
    implementation: [] as null[],
    optimizations: [] as null[],
    line: [] as (number | null)[],
    column: [] as null[],
    inlineDepth: [] as number[],
    nativeSymbol: [] as null[],
    length: 0,
  };
  readonly stackTable = { frame: [] as number[], category: [] as number[], subcategory: [] as number[], prefix: [] as (number | null)[], length: 0 };
  readonly resourceTable = { lib: [] as null[], name: [] as number[], host: [] as null[], type: [] as number[], length: 0 };
  private readonly funcs = new Map<string, number>();
  private readonly frames = new Map<string, number>();
  private readonly stacks = new Map<string, number>();
  private readonly resources = new Map<string, number>();
  /** The timeline's stacks made into this thread's, by index. */
  private readonly made = new Map<number, number>();

  constructor(private readonly strings: Strings) {}

  private resource(name: string): number {
    let i = this.resources.get(name);
    if (i === undefined) {
      const t = this.resourceTable;
      i = t.length++;
      t.lib.push(null);
      t.name.push(this.strings.of(name));
      t.host.push(null);
      t.type.push(RESOURCE_LIBRARY);
      this.resources.set(name, i);
    }
    return i;
  }

  private func(frame: Frame): number {
    const name = frame.func ?? frame.name;
    const file = frame.kind === 'kernel' ? '[kernel.kallsyms]' : (frame.file ?? null);
    const key = `${frame.kind}\u0000${name}\u0000${file ?? ''}`;
    let i = this.funcs.get(key);
    if (i === undefined) {
      const t = this.funcTable;
      i = t.length++;
      const python = frame.kind === 'python';
      t.name.push(this.strings.of(name));
      // The profiler's "JavaScript only" view shows the Python frames, as for CPython's own profiles.
      t.isJS.push(python);
      t.relevantForJS.push(python);
      t.resource.push(file === null ? -1 : this.resource(file.slice(file.lastIndexOf('/') + 1)));
      t.fileName.push(python && file !== null ? this.strings.of(file) : null);
      t.lineNumber.push(null);
      t.columnNumber.push(null);
      this.funcs.set(key, i);
    }
    return i;
  }

  /** idle: a kernel frame of a thread that waits (wall-clock mode), in the Idle category. */
  private frame(frame: Frame, idle: boolean): number {
    const func = this.func(frame);
    const line = frame.kind === 'python' ? (frame.line ?? null) : null;
    const category = idle && frame.kind === 'kernel' ? IDLE : CATEGORY_OF_KIND[frame.kind];
    const key = `${func}:${line ?? ''}:${category}`;
    let i = this.frames.get(key);
    if (i === undefined) {
      const t = this.frameTable;
      i = t.length++;
      t.address.push(-1);
      t.category.push(category);
      t.subcategory.push(0);
      t.func.push(func);
      t.innerWindowID.push(null);
      t.implementation.push(null);
      t.optimizations.push(null);
      t.line.push(line);
      t.column.push(null);
      t.inlineDepth.push(0);
      t.nativeSymbol.push(null);
      this.frames.set(key, i);
    }
    return i;
  }

  /** The index of the timeline's stack `index` in this thread's stack table. */
  stack(index: number, stack: TimelineStack): number | null {
    const known = this.made.get(index);
    if (known !== undefined) return known;
    let prefix: number | null = null;
    for (const f of stack.frames) {
      const frame = this.frame(f, stack.offCpu === 'waiting');
      const key: string = `${prefix ?? ''}:${frame}`;
      let i = this.stacks.get(key);
      if (i === undefined) {
        const t = this.stackTable;
        i = t.length++;
        t.frame.push(frame);
        t.category.push(this.frameTable.category[frame]!);
        t.subcategory.push(0);
        t.prefix.push(prefix);
        this.stacks.set(key, i);
      }
      prefix = i;
    }
    if (prefix !== null) this.made.set(index, prefix);
    return prefix;
  }
}

export function formatGecko(profile: OutputProfile): string {
  const { timeline, periodMs, start } = timelineOf(profile);
  const strings = new Strings();
  const intervals = new Map<number, Interval[]>();
  for (const interval of stateIntervals(timeline, periodMs)) {
    let list = intervals.get(interval.tid);
    if (!list) intervals.set(interval.tid, (list = []));
    list.push(interval);
  }
  const byThread = new Map<number, { tables: ThreadTables; stack: (number | null)[]; time: number[]; weight: number[] }>();
  for (const t of timeline.threads) byThread.set(t.tid, { tables: new ThreadTables(strings), stack: [], time: [], weight: [] });
  let weighted = false;
  for (const s of timeline.samples) {
    const thread = byThread.get(s.tid);
    if (!thread) continue;
    thread.stack.push(thread.tables.stack(s.stack, timeline.stacks[s.stack]!));
    thread.time.push(s.time - start);
    thread.weight.push(s.weight);
    weighted ||= s.weight !== 1;
  }
  const threads = timeline.threads.map((t) => {
    const { tables, stack, time, weight } = byThread.get(t.tid)!;
    const markers = intervals.get(t.tid) ?? [];
    return {
      // The profiler shows the tid beside it.
      name: t.name ?? t.comm,
      isMainThread: t.tid === t.pid,
      // A process forked and ended while sampled lives only in its part of the track.
      processStartupTime: t.processStart !== undefined ? t.processStart - start : 0,
      processShutdownTime: t.processEnd !== undefined ? t.processEnd - start : null,
      registerTime: t.processStart !== undefined ? t.processStart - start : 0,
      unregisterTime: t.processEnd !== undefined ? t.processEnd - start : null,
      pausedRanges: [],
      pid: String(t.pid),
      tid: t.tid,
      processType: 'default',
      processName: `${t.process} (${t.pid})`,
      samples: { stack, time, weight: weighted ? weight : null, weightType: 'samples', length: stack.length },
      stackTable: tables.stackTable,
      frameTable: tables.frameTable,
      funcTable: tables.funcTable,
      resourceTable: tables.resourceTable,
      nativeSymbols: { libIndex: [], address: [], name: [], functionSize: [], length: 0 },
      markers: {
        data: markers.map((m) => ({ type: MARKER_TYPE[m.kind] })),
        name: markers.map((m) => strings.of(INTERVAL_NAMES[m.kind])),
        startTime: markers.map((m) => m.start - start),
        endTime: markers.map((m) => m.end - start),
        phase: markers.map(() => INTERVAL_PHASE),
        category: markers.map((m) => CATEGORY_OF_INTERVAL[m.kind]),
        length: markers.length,
      },
    };
  });
  const cores = cpus().length;
  const file = {
    meta: {
      interval: periodMs,
      startTime: start,
      profilingStartTime: 0,
      ...(profile.durationSeconds === null ? {} : { profilingEndTime: profile.durationSeconds * 1000 }),
      abi: 'x86_64',
      misc: profile.title,
      oscpu: 'Linux x86_64',
      platform: 'Linux',
      processType: 0,
      categories: GECKO_CATEGORIES,
      // Native stacks were walked.
      stackwalk: 1,
      toolkit: '',
      version: GECKO_FORMAT_VERSION,
      preprocessedProfileVersion: GECKO_PROCESSED_VERSION,
      appBuildID: '',
      physicalCPUs: cores,
      logicalCPUs: cores,
      CPUName: '',
      product: profile.title,
      symbolicated: true,
      importedFrom: 'mixprof',
      markerSchema: (Object.keys(MARKER_TYPE) as IntervalKind[]).map((kind) => ({
        name: MARKER_TYPE[kind],
        display: ['marker-chart', 'marker-table', 'timeline-overview'],
        chartLabel: INTERVAL_NAMES[kind],
        tableLabel: INTERVAL_NAMES[kind],
        tooltipLabel: INTERVAL_NAMES[kind],
        fields: [],
      })),
      extensions: { id: [], name: [], baseURL: [], length: 0 },
    },
    libs: [],
    pages: [],
    threads,
    shared: { stringArray: strings.array },
  };
  return JSON.stringify(file) + '\n';
}
