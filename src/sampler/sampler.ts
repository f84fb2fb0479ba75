/**
 * What every sampler (bpftrace's, the DWARF one) gives the session that runs
 * it: typed records (SamplerEvent) through the onEvent callback each takes, a
 * way to stop it, and how and when its run ended. Stacks come as addresses;
 * naming them is the resolver's job (src/symbolize/). Nothing here knows how
 * a sampler gets its records (bpftrace's text is parsed in
 * bpftrace-records.ts).
 */
import type { NativeSymbolizer, UnwindCounts } from '../native.js';
import type { RawPythonChain } from '../python/captured.js';

export type SamplerEvent =
  /** Every probe is attached (bpftrace). */
  | { type: 'ready' }
  /** The target exec'd another program: what follows would not be its samples. */
  | { type: 'exec' }
  | { type: 'thread'; thread: ThreadInfo }
  /** A Python chain seen for the first time (samples name it by its hash). */
  | { type: 'chain'; chain: RawPythonChain }
  /**
   * byThread: the samples each thread got, when the records do not say
   * (their tid is 0: a sampler that keys records by thread only for thread
   * roots, so that a pool's churning threads share them).
   */
  | { type: 'samples'; samples: RawSample[]; malformed: number; byThread?: ReadonlyMap<number, number> }
  /** --timeline: samples one by one, in the order counted (their counts come in 'samples' events too). */
  | { type: 'timeline'; samples: readonly TimedSample[] }
  /** Records the kernel dropped (a full ring or perf buffer). */
  | { type: 'lost'; events: number }
  /** A line the sampler printed that is no record. */
  | { type: 'text'; text: string };

/**
 * The sampled thread and the GIL at the sample (--gil): it held the GIL; it
 * has a Python thread state but ran without the GIL (native code that
 * released it, I/O, or waiting to take it); or no Python thread state names
 * it (a thread that never takes the GIL, or one not yet or no longer
 * registered with the interpreter).
 */
export type GilState = 'held' | 'released' | 'no-thread';

/** A kernel frame: its address, or its function's name where the sampler has names only (bpftrace 0.17). */
export type KernelFrame = bigint | string;

/**
 * How a CFI unwind of a user stack ended: at the thread's first function;
 * short of it; or after reading the stack beyond the copy from the live
 * process, which may have moved on or ended; or where the kernel could go
 * no further without a stack copy, which it did not make because the ring
 * was over 7/8 full (short). Frame-pointer walks do not know.
 */
export type UnwindEnd = 'complete' | 'stopped' | 'beyond-copy' | 'short';

/** Samples sharing thread, Python chain, GIL state, user stack and kernel stack, counted. */
export interface RawSample {
  readonly tid: number;
  /** The Python chain's hash; 0n when no Python frame was found. */
  readonly chain: bigint;
  /** Set when the sampler read the GIL's state (--gil). */
  readonly gil?: GilState;
  readonly count: number;
  /** User addresses, leaf first. */
  readonly user: readonly bigint[];
  /** Set for CFI unwinds. */
  readonly userEnd?: UnwindEnd;
  /** Kernel frames, leaf first. */
  readonly kernel: readonly KernelFrame[];
  /**
   * Frame-pointer samples of user code: the words at the stack pointer, where
   * a leaf without its frame pointer in place keeps its return address.
   */
  readonly stackWords?: readonly bigint[];
  /** Off CPU and runnable (wall-clock mode): waiting for a CPU. */
  readonly runnable?: boolean;
  /** Off CPU and not runnable (wall-clock mode): asleep or blocked in the kernel. */
  readonly waiting?: boolean;
  /**
   * The sampler's number for this record, when it numbers them: equal
   * numbers from one sampler are equal records (every field but count), so
   * what was made of one can be used for the other.
   */
  readonly id?: number;
}

/** One count of a record, when and in which thread it was taken. */
export interface TimedSample {
  /** ms since the epoch. */
  readonly time: number;
  readonly tid: number;
  /** The record (its count field is not this sample's). */
  readonly sample: RawSample;
  /** The clock periods it stands for (wall-clock passes that came late stand for more). */
  readonly weight: number;
}

export interface ThreadInfo {
  readonly tid: number;
  readonly comm: string;
  /** Python's name for the thread (threading.Thread.name), when it was read. */
  readonly name?: string;
}

/** How a thread is shown where its id goes with it (thread roots, per-thread profiles and tracks): "name (tid)", Python's name first. */
export function threadLabel(thread: ThreadInfo | undefined, tid: number): string {
  return `${thread?.name ?? thread?.comm ?? 'thread'} (${tid})`;
}

export type StopReason = 'duration' | 'interrupted' | 'target-exited' | 'target-execd' | 'bpftrace-exited' | 'attach-timeout' | 'sampler-failed';

/**
 * How often the target is checked for having exited (a stat of /proc/PID):
 * a run that ends with its target reports a span up to this much longer
 * than the target lived.
 */
export const ALIVE_CHECK_MS = 100;

export interface SamplerResult {
  readonly attached: boolean;
  readonly reason: StopReason;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Its error lines: bpftrace's stderr less the lines it prints on every run, or the DWARF sampler's failures. */
  readonly errors: string[];
  readonly killed: boolean;
  /** Stacks bpftrace could not look up (a full or colliding stack map): those samples lose native or kernel frames. */
  readonly stackErrors: number;
  /**
   * When sampling stopped (Date.now()): the end of the span the samples cover.
   * Reading what was collected comes after, and on a busy machine takes a
   * good part of a second that no sample stands for.
   */
  readonly stoppedAt: number;
  /** Wall-clock passes over the threads that could not run (the DWARF sampler's --mode wall). */
  readonly wallPassesFailed?: number;
  /** How the DWARF sampler unwound the target's stacks. */
  readonly unwinds?: UnwindCounts;
}

export interface RunningSampler {
  readonly done: Promise<SamplerResult>;
  /** Asks it to deliver what it holds and end. */
  stop(reason: StopReason): void;
  /** Ends it at once (bpftrace's last second of samples is lost). */
  kill(): void;
  /** Whether pid is sampled as a process followed from the target (the DWARF sampler's fork-following). */
  follows?(pid: number): boolean;
  /** Follows a process forked from the target before sampling started; false when it cannot be. */
  adopt?(pid: number): boolean;
  /** Unwinds a followed process with a symbolizer over its own maps (null: the target's again). */
  unwindWith?(pid: number, symbolizer: NativeSymbolizer | null): void;
}

/** The samples each thread got in a 'samples' event: from byThread when the records do not carry their thread. */
export function samplesPerThread(event: { readonly samples: readonly RawSample[]; readonly byThread?: ReadonlyMap<number, number> }): ReadonlyMap<number, number> {
  if (event.byThread) return event.byThread;
  const byThread = new Map<number, number>();
  for (const s of event.samples) byThread.set(s.tid, (byThread.get(s.tid) ?? 0) + s.count);
  return byThread;
}
