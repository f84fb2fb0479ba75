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
  /** Off CPU at the sample (wall-clock mode); on a CPU when not set. */
  readonly offCpu?: OffCpu;
}

/** How a thread off CPU was found: runnable (waiting for a CPU), or waiting (asleep or blocked in the kernel). */
export type OffCpu = 'runnable' | 'waiting';

/** How a CFI unwind ended is part of a user stack's identity: a complete unwind is not one that stopped at the same frames. */
const END_MARKS: Readonly<Record<UnwindEnd, string>> = { complete: '$', stopped: '', 'beyond-copy': '!', short: '~' };

// Keys are built with join(), which makes one flat string: built with +=,
// V8 keeps a key as a tree of its pieces, 5-10 times its length in memory,
// for as long as it is a map's key (a busy run holds tens of thousands).

/** A user stack's key: equal frames, equal ending and equal leaf-caller origin, equal key. */
export function userStackKey(frames: readonly bigint[], end: UnwindEnd | undefined, leafCallerFromStack = false): string {
  const parts: string[] = [leafCallerFromStack ? 'leaf:' : ''];
  for (const address of frames) parts.push(address.toString(16));
  parts.push(end === undefined ? '' : END_MARKS[end]);
  return parts.join(' ');
}

/** A kernel stack's key; a thread off CPU is told apart from a running one with the same frames. */
export function kernelStackKey(names: readonly string[], offCpu: OffCpu | undefined): string {
  return offCpu === undefined ? names.join(';') : [...names, `[${offCpu}]`].join(';');
}

/** One user or kernel stack as held once for all the samples counted with it. */
interface HeldStack<T> {
  readonly id: number;
  readonly key: string;
  readonly frames: T;
}

export class SampleCounts {
  private counts = new Map<string, { sample: CountedSample; count: number }>();
  // Distinct samples far outnumber distinct user and kernel stacks (a Python
  // line and a native stack met together for the first time is a new sample):
  // each stack is held once, and a sample's key names it by number.
  private userStacks = new Map<string, HeldStack<readonly bigint[]>>();
  private kernelStacks = new Map<string, HeldStack<readonly string[]>>();
  private nextId = 0;

  constructor(private readonly perThread: boolean) {}

  add(sample: CountedSample, count: number): void {
    this.addKeyed(this.keyOf(sample), sample, count);
  }

  /** What add() counts a sample under: made once, it can be handed to addKeyed() with later counts of the same sample. */
  keyOf(sample: CountedSample): string {
    const user = this.held(this.userStacks, sample.userKey, sample.user);
    const kernel = this.held(this.kernelStacks, sample.kernelKey, sample.kernel);
    return [this.perThread ? sample.tid : '', sample.chain, sample.gil ?? '', user.id, kernel.id].join('|');
  }

  /** Counts the sample under key; returns the sample as held (its stacks' one copy). */
  addKeyed(key: string, sample: CountedSample, count: number): CountedSample {
    const existing = this.counts.get(key);
    if (existing) {
      existing.count += count;
      return existing.sample;
    }
    // The stacks' one copy, not this sample's equal one.
    const user = this.held(this.userStacks, sample.userKey, sample.user);
    const kernel = this.held(this.kernelStacks, sample.kernelKey, sample.kernel);
    const held = { ...sample, user: user.frames, userKey: user.key, kernel: kernel.frames, kernelKey: kernel.key };
    this.counts.set(key, { sample: held, count });
    return held;
  }

  private held<T>(stacks: Map<string, HeldStack<T>>, key: string, frames: T): HeldStack<T> {
    let stack = stacks.get(key);
    if (stack === undefined) {
      stack = { id: this.nextId++, key, frames };
      stacks.set(key, stack);
    }
    return stack;
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
    this.userStacks = new Map();
    this.kernelStacks = new Map();
    return taken;
  }
}
