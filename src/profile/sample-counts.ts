/**
 * Samples counted per distinct stack until the profile is made, and per
 * thread only when threads are roots: a process that starts thousands of
 * threads would otherwise keep every stack once per thread. A stack's key
 * is made from its frames here, not by the sampler.
 */
import type { GilState, UnwindEnd } from '../sampler/sampler.js';

/** A sample as counted: its kernel frames named already, its user stack as addresses until the profile is made. */
export interface CountedSample {
  readonly tid: number;
  readonly chain: bigint;
  readonly gil?: GilState;
  /** User addresses, leaf first. */
  readonly user: readonly bigint[];
  readonly userKey: string;
  readonly userEnd?: UnwindEnd;
  /** user[1] was read from the leaf's stack slot: the leaf's caller is known without a frame pointer. */
  readonly leafCallerFromStack?: boolean;
  /** Kernel functions, leaf first. */
  readonly kernel: readonly string[];
  readonly kernelKey: string;
  readonly runnable?: boolean;
}

/** How a CFI unwind ended is part of a user stack's identity: a complete unwind is not one that stopped at the same frames. */
const END_MARKS: Readonly<Record<UnwindEnd, string>> = { complete: '$', stopped: '', 'beyond-copy': '!' };

/** A user stack's key: equal frames, equal ending and equal leaf-caller origin, equal key. */
export function userStackKey(frames: readonly bigint[], end: UnwindEnd | undefined, leafCallerFromStack = false): string {
  let key = leafCallerFromStack ? 'leaf:' : '';
  for (const address of frames) key += address.toString(16) + ' ';
  return end === undefined ? key : key + END_MARKS[end];
}

/** A kernel stack's key; a runnable thread's is told apart from a running one's with the same frames. */
export function kernelStackKey(names: readonly string[], runnable: boolean): string {
  const key = names.join(';');
  return runnable ? key + ';[runnable]' : key;
}

export class SampleCounts {
  private counts = new Map<string, { sample: CountedSample; count: number }>();

  constructor(private readonly perThread: boolean) {}

  add(sample: CountedSample, count: number): void {
    this.addKeyed(this.keyOf(sample), sample, count);
  }

  /** What add() counts a sample under: made once, it can be handed to addKeyed() with later counts of the same sample. */
  keyOf(sample: CountedSample): string {
    return `${this.perThread ? sample.tid : ''}|${sample.chain}|${sample.gil ?? ''}|${sample.userKey}|${sample.kernelKey}`;
  }

  addKeyed(key: string, sample: CountedSample, count: number): void {
    const existing = this.counts.get(key);
    if (existing) existing.count += count;
    else this.counts.set(key, { sample, count });
  }

  /** Distinct stacks held. */
  get size(): number {
    return this.counts.size;
  }

  entries(): IterableIterator<{ readonly sample: CountedSample; readonly count: number }> {
    return this.counts.values();
  }

  /** Everything counted so far, and counting starts again. */
  take(): { readonly sample: CountedSample; readonly count: number }[] {
    const taken = [...this.counts.values()];
    this.counts = new Map();
    return taken;
  }
}
