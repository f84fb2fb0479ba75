/**
 * Collects the sampler's records while it runs and turns them into merged
 * stacks at the end. Names come from the resolver (src/symbolize/): Python
 * chains as soon as they arrive, while the target still holds their code
 * objects; kernel frames as samples arrive; native addresses in one batch
 * at the end (the symbolizer works from a maps snapshot and the files).
 */
import { threadLabel, type GilState, type RawSample, type SamplerEvent, type ThreadInfo, type TimedSample } from '../sampler/sampler.js';
import type { Frame } from '../symbolize/frame.js';
import { kernelSymbols, type KernelSymbols } from '../symbolize/kernel.js';
import type { NativeFrames } from '../symbolize/native.js';
import { PythonNames, type PythonSource } from '../symbolize/python-names.js';
import { CanonicalAddresses } from './canonical-addresses.js';
import { countGil, gilFrame, type GilCounts } from './gil-markers.js';
import { mergeStacks, trustedNativeFrames } from './merge.js';
import type { MergedStack, NativeUnwind } from './merge.js';
import { RUNNABLE_FRAME, runnableKernelFrames } from './runnable.js';
import { ThreadIds } from './thread-ids.js';
import { TimelineLog, type ProcessSpan, type Timeline, type TimelineStack } from './timeline.js';
import { kernelStackKey, SampleCounts, userStackKey, type CountedSample, type OffCpu } from './sample-counts.js';

export interface ProfileOptions {
  readonly hidePlumbing: boolean;
  /** The depth at which user stacks were cut when captured. */
  readonly maxNativeDepth: number;
  /** How user stacks were unwound: by frame pointers in the kernel, or with CFI in user space. */
  readonly nativeUnwind: NativeUnwind;
  /** A root frame per thread: "comm (tid)". */
  readonly threadRoots: boolean;
  /** A root frame per GIL state (--gil), inside the thread's: see gil-markers.ts. */
  readonly gilRoots?: boolean;
  /** A root frame per process: "comm (pid)". */
  readonly processRoot?: boolean;
  /** Python frames name their source by its full path, not a short one. */
  readonly fullPaths?: boolean;
  /** Keep every sample's time and thread ('timeline' events) for timeline(). */
  readonly timeline?: boolean;
}

/** Whether threads are shown by name (thread roots, timelines' tracks): their names are then kept and read from Python. */
export function showsThreadNames(options: ProfileOptions): boolean {
  return options.threadRoots || options.timeline === true;
}

export interface ProfileStats extends GilCounts {
  samples: number;
  threads: number;
  withPython: number;
  nativeComplete: number;
  truncated: number;
  mismatched: number;
  /** CFI-unwound samples whose eval-loop frames have no name (see MergedStack). */
  evalUnknown: number;
  /** CFI-unwound samples with Python frames whose unwind stopped before the interpreter, and where most of them stopped. */
  unwindStopped: number;
  unwindStoppedAt: string | null;
  /** CFI-unwound samples that stopped in code mapped after the maps they were unwound with were read (see NativeFrames.unwoundBeforeMapped). */
  unwoundBeforeMapped: number;
  /** CFI-unwound samples that stopped after reading their stack beyond the copy (RawSample.userBeyondCopy). */
  unwoundBeyondCopy: number;
  /** Samples sent with the kernel's unwind as far as it went, the ring being over 7/8 full (UnwindEnd 'short'). */
  unwoundShort: number;
  /** Samples naming a chain whose frames never arrived. */
  missingChains: number;
  unknownPythonFrames: number;
  lostEvents: number;
  malformedRecords: number;
}

/** Identity of a merged stack: equal frames, equal key. */
export function stackKey(frames: readonly Frame[]): string {
  return frames.map((f) => `${f.kind}:${f.name}`).join('\u0000');
}

export function emptyStats(): ProfileStats {
  return {
    samples: 0,
    threads: 0,
    withPython: 0,
    nativeComplete: 0,
    truncated: 0,
    mismatched: 0,
    evalUnknown: 0,
    unwindStopped: 0,
    unwindStoppedAt: null,
    unwoundBeforeMapped: 0,
    unwoundBeyondCopy: 0,
    unwoundShort: 0,
    missingChains: 0,
    unknownPythonFrames: 0,
    lostEvents: 0,
    malformedRecords: 0,
    gilHeld: 0,
    gilReleased: 0,
    noPythonThread: 0,
  };
}

export interface StackCount {
  readonly frames: readonly Frame[];
  count: number;
  /** With thread roots: the thread, and how its first sample counted here found it (a dump reads these, not the root frames). */
  readonly origin?: StackOrigin;
}

export interface StackOrigin {
  readonly tid: number;
  readonly gil?: GilState;
  /** Off CPU (wall-clock mode); on a CPU when not set. */
  readonly offCpu?: OffCpu;
}

export interface Profile {
  readonly stacks: StackCount[];
  readonly stats: ProfileStats;
  readonly threads: ReadonlyMap<number, ThreadInfo>;
}

/** Distinct frame-pointer stacks kept before the first compaction. */
const COMPACT_MIN = 5_000;
/** Thread names are kept this many drains after the thread was last sampled. */
const KEEP_THREAD_NAMES = 60;
/** Numbered records remembered (the DWARF sampler keeps 2,048 numbered before it forgets them: numbers are not reused, so twice that bounds this map). */
const MAX_NUMBERED = 4_096;
/** Where a compacted stack was cut: an address in no mapping, so never trusted. */
const CUT_MARK = 0n;

function memo<K, V>(cache: Map<K, V>, key: K, compute: (key: K) => V): V {
  let value = cache.get(key);
  if (value === undefined) {
    value = compute(key);
    cache.set(key, value);
  }
  return value;
}

/** A sample whose user stack could not be read and that had no Python frames. */
const NO_STACK: Frame = { kind: 'marker', name: '[unknown]' };

export class ProfileBuilder {
  private readonly threads = new Map<number, ThreadInfo>();
  private readonly python: PythonNames | null;
  private readonly counts: SampleCounts;
  private readonly tids = new ThreadIds();
  /** Distinct raw stacks at which the frame-pointer stacks are compacted next. */
  private compactAt = COMPACT_MIN;
  /** User stacks' frames by key, held until finish() (the frame-pointer compaction cuts them). */
  private readonly userStacks = new Map<string, readonly bigint[]>();
  /** CFI-unwound stacks: the maps snapshot each first arrived under (see NativeFrames.unwoundBeforeMapped). */
  private stackSnapshots = new Map<string, number>();
  /** Addresses standing for others that name the same frame, learnt at each compaction. */
  private readonly canonical: CanonicalAddresses;
  /** Records the sampler numbered (RawSample.id), as counted. */
  private readonly numbered = new Map<number, { readonly sample: CountedSample; readonly key: string }>();
  lostEvents = 0;
  malformedRecords = 0;
  private drains = 0;
  /** The last drain each thread was sampled in. */
  private readonly drainedAt = new Map<number, number>();
  /** --async: stacks of suspended tasks, counted by the task sampler, not the sampler (by thread and stack). */
  private taskStacks = new Map<string, { readonly tid: number | null; readonly frames: readonly Frame[]; count: number }>();
  /** --async: puts a running task's frames under the tasks awaiting it (null: the stack runs no task). */
  private taskRoots: ((frames: readonly Frame[]) => Frame[] | null) | null = null;
  /** --timeline: every sample as counted, naming its record as first made into a counted sample. */
  private readonly timelineLog: TimelineLog<CountedSample> | null;
  private readonly mergeOptions: ProfileOptions & { readonly pythonLookedFor: boolean };

  constructor(
    python: PythonSource | null,
    private readonly native: NativeFrames,
    private readonly options: ProfileOptions,
    private readonly kernel: KernelSymbols = kernelSymbols(),
  ) {
    this.python = python ? new PythonNames(python, options.fullPaths === true) : null;
    this.counts = new SampleCounts(options.threadRoots);
    this.canonical = new CanonicalAddresses(options.nativeUnwind);
    this.timelineLog = options.timeline ? new TimelineLog() : null;
    this.mergeOptions = { ...options, pythonLookedFor: this.python !== null };
  }

  /** Takes one record of the sampler's stream. */
  apply(event: SamplerEvent): void {
    switch (event.type) {
      case 'thread':
        this.addThread(event.thread);
        break;
      case 'chain':
        this.python?.add(event.chain);
        break;
      case 'samples':
        this.malformedRecords += event.malformed;
        this.addSamples(event.samples, event.byThread);
        break;
      case 'timeline':
        this.addTimeline(event.samples);
        break;
      case 'lost':
        this.lostEvents += event.events;
        break;
      default:
        break;
    }
  }

  addThread(thread: ThreadInfo): void {
    // Kept only where shown: for every thread they would grow with thread churn.
    if (!showsThreadNames(this.options)) return;
    const named = this.threads.get(thread.tid)?.name;
    this.threads.set(thread.tid, named !== undefined && thread.name === undefined ? { ...thread, name: named } : thread);
    this.drainedAt.set(thread.tid, this.drains);
  }

  /** Python's names for threads (by kernel thread id): shown instead of the kernel's on thread roots. */
  nameThreads(names: ReadonlyMap<number, string>): void {
    for (const [tid, name] of names) {
      const thread = this.threads.get(tid);
      if (thread && thread.name !== name) this.threads.set(tid, { ...thread, name });
    }
  }

  /** The innermost Python function of a named chain (for live counts). */
  leafFunction(hash: bigint): string | null {
    return this.python?.leafFunction(hash) ?? null;
  }

  /** byThread: the samples each thread got, when the samples' own tid does not say (see SamplerEvent). */
  addSamples(samples: readonly RawSample[], byThread?: ReadonlyMap<number, number>): void {
    // A batch was unwound before any of it is looked at here, where a new snapshot may be taken.
    const snapshot = this.native.snapshot;
    if (byThread) for (const tid of byThread.keys()) this.tids.add(tid);
    for (const received of samples) {
      if (!byThread) this.tids.add(received.tid);
      // A record the sampler numbered and this builder has counted before.
      const known = received.id === undefined ? undefined : this.numbered.get(received.id);
      if (known) {
        this.counts.addKeyed(known.key, known.sample, received.count);
        continue;
      }
      const sample = this.countedOf(received, snapshot);
      const key = this.counts.keyOf(sample);
      const held = this.counts.addKeyed(key, sample, received.count);
      if (received.id !== undefined) {
        if (this.numbered.size >= MAX_NUMBERED) this.numbered.clear();
        this.numbered.set(received.id, { sample: held, key });
      }
    }
    if (this.counts.size >= this.compactAt) this.compact();
  }

  /** A record as the counts hold it: its stacks kept once, its kernel frames named. snapshot: the maps snapshot its batch was unwound with. */
  private countedOf(received: RawSample, snapshot: number): CountedSample {
    const user = this.canonicalizable(received.userEnd) ? this.canonical.known(received.user) : received.user;
    const userKey = userStackKey(user, received.userEnd);
    // New libraries show up as addresses outside the maps snapshot: look at
    // each new user stack now, while the target is alive.
    if (!this.userStacks.has(userKey)) {
      if (this.options.nativeUnwind === 'dwarf') this.stackSnapshots.set(userKey, snapshot);
      this.userStacks.set(userKey, user);
      this.native.noteAddresses(user);
    }
    const named = this.kernel.names(received.kernel);
    const kernel = received.runnable ? runnableKernelFrames(named) : named;
    const offCpu: OffCpu | undefined = received.runnable ? 'runnable' : received.waiting ? 'waiting' : undefined;
    const counted: CountedSample = {
      tid: received.tid,
      chain: received.chain,
      ...(received.gil ? { gil: received.gil } : {}),
      user: this.userStacks.get(userKey)!,
      userKey,
      ...(received.userEnd ? { userEnd: received.userEnd } : {}),
      kernel,
      kernelKey: kernelStackKey(kernel, offCpu),
      ...(offCpu ? { offCpu } : {}),
    };
    return this.withLeafCaller(counted, received.stackWords);
  }

  /** --timeline: samples one by one (counted by their 'samples' events). */
  private addTimeline(samples: readonly TimedSample[]): void {
    const log = this.timelineLog;
    if (!log) return;
    const snapshot = this.native.snapshot;
    for (const s of samples) log.add(s.time, s.tid, log.numberOf(s.sample) ?? log.addItem(s.sample, this.countedOf(s.sample, snapshot)), s.weight);
  }

  /**
   * Whether a stack's addresses may stand for one another (CanonicalAddresses):
   * a frame-pointer walk's, and a CFI unwind's that reached the thread's
   * first function. An unwind that stopped is kept as it came: where it
   * stopped, against which maps, is what the report looks at.
   */
  private canonicalizable(end: RawSample['userEnd']): boolean {
    return this.options.nativeUnwind === 'fp' || end === 'complete';
  }

  /**
   * A frame-pointer walk starts from the caller's frame when the leaf has not
   * set up its own (caught in its prologue, or in a function that sets up
   * none on its fast path): the leaf's caller is missing and nothing above
   * the leaf could be trusted. Where the leaf's call frame information says
   * which word at the stack pointer holds its return address, and that %rbp
   * is untouched, that word is the missing caller: put in place, the walk
   * above it holds. The words are dropped after this, so stacks that differ
   * only in them count as one.
   */
  private withLeafCaller(sample: CountedSample, words: readonly bigint[] | undefined): CountedSample {
    if (!words) return sample;
    const frames = sample.user;
    const leaf = frames.length > 0 ? this.native.frames([frames[0]!])[0] : undefined;
    const slot = leaf && leaf.mapped && leaf.frameReady !== true ? leaf.returnSlot : null;
    const caller = slot === null || slot === undefined ? undefined : words[slot];
    if (!caller) return sample;
    const spliced = [frames[0]!, caller, ...frames.slice(1)];
    const userKey = userStackKey(spliced, sample.userEnd, true);
    const user = memo(this.userStacks, userKey, () => spliced);
    return { ...sample, user, userKey, leafCallerFromStack: true };
  }

  /** Distinct stacks held until finish(): what the builder's memory follows. */
  get heldStacks(): number {
    return this.counts.size;
  }

  /** Distinct user stacks remembered (as they came, and held). */
  get userStacksKept(): number {
    return this.userStacks.size;
  }

  /**
   * Run when the distinct stacks double: memory follows the stacks that can
   * be shown. Two things make stacks that show the same differ:
   * - A frame-pointer walk through code built without them goes on through
   *   whatever the stack holds: addresses in the thread's own stack and
   *   stale return addresses, different for every thread. Only the trusted
   *   part of a stack is ever shown (up to the first frame whose caller
   *   cannot be trusted, see trustedNativeFrames), so stacks are cut after
   *   it, with the target's current maps. The cut is marked by an address
   *   no mapping holds (0), so that the merge still sees a stack that went
   *   on (not a complete one).
   * - Addresses in the same functions (CanonicalAddresses): each stands for
   *   the others from here on.
   * Counts of stacks left equal are added up.
   */
  private compact(): void {
    this.native.refreshMaps();
    this.numbered.clear();
    const counted = this.counts.take();
    const snapshots = this.stackSnapshots;
    this.userStacks.clear();
    this.stackSnapshots = new Map();
    this.canonical.reset();
    for (const { sample, count } of counted) {
      let frames = sample.user;
      let named = this.native.frames(frames);
      if (this.options.nativeUnwind === 'fp') {
        const trusted = trustedNativeFrames(named, 'fp', sample.leafCallerFromStack).length;
        if (trusted < frames.length) {
          frames = [...frames.slice(0, trusted), CUT_MARK];
          named = this.native.frames(frames);
        }
      }
      const canonical = this.canonicalizable(sample.userEnd) ? this.canonical.canonical(frames, named) : frames;
      const userKey = canonical === sample.user ? sample.userKey : userStackKey(canonical, sample.userEnd, sample.leafCallerFromStack);
      const user = memo(this.userStacks, userKey, () => canonical);
      const snapshot = snapshots.get(sample.userKey);
      if (snapshot !== undefined && !this.stackSnapshots.has(userKey)) this.stackSnapshots.set(userKey, snapshot);
      this.counts.add(user === sample.user ? sample : { ...sample, user, userKey }, count);
    }
    this.native.forgetUnused();
    this.compactAt = Math.max(COMPACT_MIN, 2 * this.counts.size);
  }

  /** Counts a suspended task's stack (root first, without the thread's root) count times, for the thread whose loop runs it. */
  addTaskStack(tid: number | null, frames: readonly Frame[], count: number): void {
    const key = `${tid ?? ''}\n${stackKey(frames)}`;
    const entry = this.taskStacks.get(key);
    if (entry) entry.count += count;
    else this.taskStacks.set(key, { tid, frames, count });
  }

  /** How stacks that run a task are put under its awaiters, from now on (the task sampler's latest look). */
  setTaskRoots(reroot: ((frames: readonly Frame[]) => Frame[] | null) | null): void {
    this.taskRoots = reroot;
  }

  /** Names every native address held, in one batch (before the symbolizer goes: a followed process that ended). */
  nameNativeFrames(): void {
    const addresses = new Set<bigint>();
    for (const stack of this.userStacks.values()) for (const address of stack) addresses.add(address);
    this.native.frames([...addresses]);
  }

  finish(): Profile {
    const stats: ProfileStats = { ...emptyStats(), lostEvents: this.lostEvents, malformedRecords: this.malformedRecords };
    const samples = [...this.counts.entries()];
    this.nameNativeFrames();
    const stacks = new Map<string, StackCount>();
    const stops = new Map<string, number>();
    for (const { sample, count } of samples) {
      stats.samples += count;
      const { python, merged } = this.merged(sample);
      if (sample.chain !== 0n && !python) stats.missingChains += count;
      if (python && python.groups.length > 0) stats.withPython += count;
      if (python?.truncated) stats.truncated += count;
      if (python && python.unknownFrames > 0) stats.unknownPythonFrames += count;
      if (merged.nativeComplete) stats.nativeComplete += count;
      if (merged.mismatched) stats.mismatched += count;
      // A short unwind (the ring was full) ends where the kernel could go no
      // further: it says nothing about the build's eval loop or its CFI.
      if (sample.userEnd === 'short') stats.unwoundShort += count;
      else if (merged.evalUnknown) stats.evalUnknown += count;
      // An unwind that stopped: for want of the code's call frame information, unless it stopped for another reason.
      if (merged.unwindStoppedAt !== null && sample.userEnd !== 'short') {
        if (sample.userEnd === 'beyond-copy') stats.unwoundBeyondCopy += count;
        else if (this.native.unwoundBeforeMapped(sample.user, this.stackSnapshots.get(sample.userKey) ?? Infinity)) stats.unwoundBeforeMapped += count;
        else {
          stats.unwindStopped += count;
          stops.set(merged.unwindStoppedAt, (stops.get(merged.unwindStoppedAt) ?? 0) + count);
        }
      }
      countGil(stats, sample.gil, count);
      const stack = this.shownFrames(sample, merged.frames);
      // Root first: the thread (--threads), then the GIL state (--gil); process
      // roots (--pid-root) go above both when processes are combined.
      const gilRooted = this.options.gilRoots ? [gilFrame(sample.gil), ...stack] : stack;
      const frames = this.options.threadRoots ? [this.threadFrame(sample.tid), ...gilRooted] : gilRooted;
      const key = stackKey(frames);
      const entry = stacks.get(key);
      if (entry) entry.count += count;
      else if (this.options.threadRoots) stacks.set(key, { frames, count, origin: { tid: sample.tid, ...(sample.gil ? { gil: sample.gil } : {}), ...(sample.offCpu ? { offCpu: sample.offCpu } : {}) } });
      else stacks.set(key, { frames, count });
    }
    for (const task of this.taskStacks.values()) {
      // A suspended task's stack has no native part to be cut short.
      stats.samples += task.count;
      stats.withPython += task.count;
      stats.nativeComplete += task.count;
      const frames = this.options.threadRoots && task.tid !== null ? [this.threadFrame(task.tid), ...task.frames] : task.frames;
      const key = stackKey(frames);
      const entry = stacks.get(key);
      if (entry) entry.count += task.count;
      else stacks.set(key, { frames, count: task.count, ...(this.options.threadRoots && task.tid !== null ? { origin: { tid: task.tid, offCpu: 'waiting' as const } } : {}) });
    }
    stats.threads = this.tids.size;
    stats.unwindStoppedAt = [...stops].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
    return { stacks: [...stacks.values()], stats, threads: this.threads };
  }

  /** A counted sample's Python chain (as named) and its native, Python and kernel frames merged. */
  private merged(sample: CountedSample): { python: ReturnType<PythonNames['get']>; merged: MergedStack } {
    const python = sample.chain === 0n ? null : (this.python?.get(sample.chain) ?? null);
    const native = this.native.frames(sample.user);
    const userComplete = sample.userEnd === undefined ? undefined : sample.userEnd === 'complete';
    return { python, merged: mergeStacks(native, python, sample.kernel, this.mergeOptions, userComplete, sample.leafCallerFromStack) };
  }

  /** A merged stack as shown, root first, without roots: under its tasks (--async), runnable's frame last, never empty. */
  private shownFrames(sample: CountedSample, merged: readonly Frame[]): readonly Frame[] {
    const inTasks = this.taskRoots?.(merged) ?? merged;
    const waiting = sample.offCpu === 'runnable' ? [...inTasks, RUNNABLE_FRAME] : inTasks;
    return waiting.length > 0 ? waiting : [NO_STACK];
  }

  /**
   * --timeline: the samples logged, in time order, with their merged stacks
   * (after finish(), which names the native frames held). pid and process:
   * the process they were taken in; span: its start and exit, where they
   * fell within the sampling.
   */
  timeline(pid: number, process: string, span: ProcessSpan = {}): Timeline | null {
    const log = this.timelineLog;
    if (!log) return null;
    const stacks: TimelineStack[] = log.items.map((sample) => {
      const { merged } = this.merged(sample);
      return { frames: this.shownFrames(sample, merged.frames), ...(sample.gil ? { gil: sample.gil } : {}), ...(sample.offCpu ? { offCpu: sample.offCpu } : {}) };
    });
    const samples = log.sorted(pid);
    const threads = new Map<number, Timeline['threads'][number]>();
    for (const s of samples) {
      if (threads.has(s.tid)) continue;
      const known = this.threads.get(s.tid);
      threads.set(s.tid, {
        tid: s.tid,
        comm: known?.comm ?? process,
        ...(known?.name !== undefined ? { name: known.name } : {}),
        pid,
        process,
        ...(span.start !== undefined ? { processStart: span.start } : {}),
        ...(span.end !== undefined ? { processEnd: span.end } : {}),
      });
    }
    return { stacks, samples, threads: [...threads.values()] };
  }

  /**
   * The profile so far, and counting starts again: a collector's period of
   * a session kept open. What was learnt (Python chains, symbols, thread
   * names) is kept; the names of threads not sampled for KEEP_THREAD_NAMES
   * drains are let go, so that thread churn does not grow the builder
   * without end (the sampler names a thread once).
   */
  drain(): Profile {
    const profile = this.finish();
    this.drains++;
    for (const tid of this.tids) this.drainedAt.set(tid, this.drains);
    for (const [tid, at] of this.drainedAt) {
      if (this.drains - at < KEEP_THREAD_NAMES) continue;
      this.drainedAt.delete(tid);
      this.threads.delete(tid);
    }
    this.counts.take();
    this.taskStacks = new Map();
    // A period's user stacks go with it; the maps snapshots only of records counted again by number.
    this.userStacks.clear();
    const snapshots = new Map<string, number>();
    for (const { sample } of this.numbered.values()) {
      const snapshot = this.stackSnapshots.get(sample.userKey);
      if (snapshot !== undefined) snapshots.set(sample.userKey, snapshot);
    }
    this.stackSnapshots = snapshots;
    this.tids.clear();
    this.lostEvents = 0;
    this.malformedRecords = 0;
    this.compactAt = COMPACT_MIN;
    return { ...profile, threads: new Map(profile.threads) };
  }

  private threadFrame(tid: number): Frame {
    const thread = this.threads.get(tid);
    return { kind: 'marker', name: threadLabel(thread, tid) };
  }
}
