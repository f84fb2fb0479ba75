/**
 * Samples in time order (--timeline): what the timeline formats (gecko,
 * chrometrace, speedscope's time order) are written from. The builder logs
 * each sample as it is counted (TimelineLog) and turns the log into a
 * Timeline with the merged stacks at the end.
 */
import type { GilState, ThreadInfo } from '../sampler/sampler.js';
import type { Frame } from '../symbolize/frame.js';
import type { OffCpu } from './sample-counts.js';

/** A distinct merged stack of a timeline: frames root first, without the thread's root (the thread is the track). */
export interface TimelineStack {
  readonly frames: readonly Frame[];
  readonly gil?: GilState;
  readonly offCpu?: OffCpu;
}

/** One sample: when (ms since the epoch), which thread and process, which stack (an index into Timeline.stacks), and the clock periods it stands for. */
export interface TimelineSample {
  readonly time: number;
  readonly pid: number;
  readonly tid: number;
  readonly stack: number;
  readonly weight: number;
}

export interface TimelineThread extends ThreadInfo {
  readonly pid: number;
  /** The process's command name. */
  readonly process: string;
  /** When its process started (a fork followed) and exited, in ms since the epoch, where that fell within the sampling. */
  readonly processStart?: number;
  readonly processEnd?: number;
}

/** A process's life within the sampling, where known (ms since the epoch). */
export interface ProcessSpan {
  readonly start?: number;
  readonly end?: number;
}

export interface Timeline {
  readonly stacks: readonly TimelineStack[];
  /** In time order (samples of one time keep the order they were counted in). */
  readonly samples: readonly TimelineSample[];
  /** Every thread with samples, in the order first sampled. */
  readonly threads: readonly TimelineThread[];
}

/** Grows by doubling: a long run at a high rate logs millions of samples (20 bytes each). */
class Column<A extends Float64Array | Uint32Array> {
  private array: A;
  length = 0;
  constructor(private readonly make: (n: number) => A) {
    this.array = make(1024);
  }
  push(value: number): void {
    if (this.length === this.array.length) {
      const grown = this.make(this.array.length * 2);
      grown.set(this.array);
      this.array = grown;
    }
    this.array[this.length++] = value;
  }
  at(i: number): number {
    return this.array[i]!;
  }
}

/**
 * The samples of one process as counted, each naming one of a set of
 * distinct things (the builder's counted samples), numbered in the order
 * first logged.
 */
export class TimelineLog<T> {
  private readonly times = new Column((n) => new Float64Array(n));
  private readonly tids = new Column((n) => new Uint32Array(n));
  private readonly refs = new Column((n) => new Uint32Array(n));
  private readonly weights = new Column((n) => new Uint32Array(n));
  private readonly numbers = new Map<unknown, number>();
  readonly items: T[] = [];

  /** The number of the thing key identifies, when it was added. */
  numberOf(key: unknown): number | undefined {
    return this.numbers.get(key);
  }

  /** Adds the thing key identifies (equal keys, one number); its number. */
  addItem(key: unknown, item: T): number {
    const n = this.items.length;
    this.items.push(item);
    this.numbers.set(key, n);
    return n;
  }

  /** A sample of thing number n. */
  add(time: number, tid: number, n: number, weight: number): void {
    this.times.push(time);
    this.tids.push(tid);
    this.refs.push(n);
    this.weights.push(weight);
  }

  get size(): number {
    return this.times.length;
  }

  /** The samples sorted by time, stable (records of several CPUs come interleaved), each naming its item's index. */
  sorted(pid: number): TimelineSample[] {
    const order = Array.from({ length: this.size }, (_, i) => i);
    order.sort((a, b) => this.times.at(a) - this.times.at(b) || a - b);
    return order.map((i) => ({ time: this.times.at(i), pid, tid: this.tids.at(i), stack: this.refs.at(i), weight: this.weights.at(i) }));
  }
}

/** Timelines of several processes (-x PID PID, --subprocesses, followed forks) as one: stacks renumbered, samples merged in time order. */
export function combineTimelines(timelines: readonly Timeline[]): Timeline {
  if (timelines.length === 1) return timelines[0]!;
  const stacks: TimelineStack[] = [];
  const samples: TimelineSample[] = [];
  const threads: TimelineThread[] = [];
  for (const t of timelines) {
    const base = stacks.length;
    stacks.push(...t.stacks);
    for (const s of t.samples) samples.push({ ...s, stack: s.stack + base });
    threads.push(...t.threads);
  }
  samples.sort((a, b) => a.time - b.time);
  return { stacks, samples, threads };
}
