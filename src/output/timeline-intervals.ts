/**
 * What the timeline writers share: the samples of each thread in time
 * order, where a thread's run of samples breaks (it was off CPU, or the
 * sampling paused), and the intervals a thread spent in a state worth a
 * marker: collecting garbage, waiting for the GIL.
 */
import type { Frame } from '../symbolize/frame.js';
import type { Timeline, TimelineSample, TimelineStack } from '../profile/timeline.js';
import type { OutputProfile } from './output-profile.js';

/**
 * The collector's functions across CPython versions (3.8-3.10
 * collect_with_callback, 3.11-3.12 gc_collect_with_callback and
 * gc_collect_main, 3.13+ gc_collect_region and its callers, free-threaded
 * gc_collect_internal): a sample in any of them is inside a collection.
 * They are static: named only where the interpreter has its symbols (pyenv
 * and python.org builds; Debian's with its -dbg debug file).
 */
const GC_FUNCTIONS = new Set([
  'collect_with_callback',
  'gc_collect_with_callback',
  'gc_collect_main',
  'gc_collect_region',
  'gc_collect_full',
  'gc_collect_young',
  'gc_collect_increment',
  'gc_collect_internal',
  '_PyGC_Collect',
]);

/** Where a thread that wants the GIL waits for it (Python/ceval_gil.c, every version). */
const GIL_WAIT_FUNCTIONS = new Set(['take_gil']);

/** A profile's timeline (empty when it kept none), what one sample stands for, and the time (ms since the epoch) the writers count from. */
export function timelineOf(profile: OutputProfile): { readonly timeline: Timeline; readonly periodMs: number; readonly start: number } {
  const timeline = profile.timeline ?? { stacks: [], samples: [], threads: [] };
  return { timeline, periodMs: 1000 / profile.hz, start: profile.startTime ?? timeline.samples[0]?.time ?? 0 };
}

export type IntervalKind = 'gc' | 'gil-wait';

export const INTERVAL_NAMES: Readonly<Record<IntervalKind, string>> = { gc: 'GC Collecting', 'gil-wait': 'Waiting for GIL' };

export interface Interval {
  readonly kind: IntervalKind;
  readonly tid: number;
  /** ms since the epoch. */
  readonly start: number;
  readonly end: number;
}

/** A C function's name without the compiler's suffixes for its copies (gc_collect_main.lto_priv.0, take_gil.isra.0). */
function baseName(name: string): string {
  const dot = name.indexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

function nativeNamed(frames: readonly Frame[], names: ReadonlySet<string>): boolean {
  return frames.some((f) => f.kind === 'native' && names.has(baseName(f.name)));
}

/** The states of a stack that make intervals. */
export function stackStates(stack: TimelineStack): IntervalKind[] {
  const states: IntervalKind[] = [];
  if (nativeNamed(stack.frames, GC_FUNCTIONS)) states.push('gc');
  if (nativeNamed(stack.frames, GIL_WAIT_FUNCTIONS)) states.push('gil-wait');
  return states;
}

/** Each thread's samples, in time order, threads in the timeline's order. */
export function samplesByThread(timeline: Timeline): Map<number, TimelineSample[]> {
  const byThread = new Map<number, TimelineSample[]>();
  for (const t of timeline.threads) byThread.set(t.tid, []);
  for (const s of timeline.samples) {
    let list = byThread.get(s.tid);
    if (!list) byThread.set(s.tid, (list = []));
    list.push(s);
  }
  return byThread;
}

/**
 * Samples of one thread further apart than this many periods are not one
 * stretch: the thread was off CPU between them (CPU mode samples a thread
 * only while it runs). Within a stretch a sample stands until the next.
 */
const GAP_PERIODS = 2.5;

/** When the sample after `sample` (or none) ends what `sample` shows: the next sample, or one period on across a gap. */
export function sampleEnd(sample: TimelineSample, next: TimelineSample | undefined, periodMs: number): number {
  const own = sample.time + periodMs * Math.max(1, sample.weight);
  if (next === undefined || next.time - sample.time > GAP_PERIODS * periodMs * Math.max(1, sample.weight)) return own;
  return next.time;
}

/** The intervals each thread spent collecting garbage or waiting for the GIL, by its samples. */
export function stateIntervals(timeline: Timeline, periodMs: number): Interval[] {
  const intervals: Interval[] = [];
  const states = timeline.stacks.map(stackStates);
  for (const [tid, samples] of samplesByThread(timeline)) {
    const open = new Map<IntervalKind, number>();
    samples.forEach((sample, i) => {
      const end = sampleEnd(sample, samples[i + 1], periodMs);
      const now = states[sample.stack]!;
      for (const [kind, start] of open) {
        if (now.includes(kind)) continue;
        intervals.push({ kind, tid, start, end: sample.time });
        open.delete(kind);
      }
      for (const kind of now) if (!open.has(kind)) open.set(kind, sample.time);
      // A gap ends every interval open (the thread was not seen meanwhile).
      const next = samples[i + 1];
      if (next === undefined || end < next.time) {
        for (const [kind, start] of open) intervals.push({ kind, tid, start, end });
        open.clear();
      }
    });
  }
  return intervals.sort((a, b) => a.start - b.start);
}
