/**
 * Runs the DWARF sampler (bpf/dwarf-sampler.bpf.c, loaded by the addon)
 * against the target and turns what each poll drains into the same records
 * the bpftrace sampler streams, so everything downstream is shared.
 *
 * The program lives in this process (libbpf, perf event and ring buffer file
 * descriptors): it ends with it, whatever the way mixprof exits.
 */
import { cpus } from 'node:os';
import { MixprofError } from '../errors.js';
import { injectedFault } from '../fault-injection.js';
import { dwarfSamplerObject, type DwarfPoll, type DwarfStack, type FollowedProcessEvent, type NativeAddon, type NativeDwarfSampler, type NativeSymbolizer, type UnwindCounts } from '../native.js';
import { epochMs } from './kernel-clock.js';
import { packWalkConfig, type WalkConstants } from './walk-fields.js';
import { gilStateFromCode } from './gil-codes.js';
import { DrainSchedule, FIRST_DRAIN_MS, ringMiB } from './drain-schedule.js';
import { ALIVE_CHECK_MS, type RawSample, type RunningSampler, type SamplerEvent, type TimedSample, type SamplerResult, type StopReason } from './sampler.js';

export interface DwarfRunOptions {
  readonly addon: NativeAddon;
  readonly symbolizer: NativeSymbolizer;
  readonly pid: number;
  readonly hz: number;
  /** Seconds of sampling after the start; null runs until stopped. */
  readonly durationSeconds: number | null;
  /** null samples native and kernel stacks only. */
  readonly python: WalkConstants | null;
  readonly maxFrames: number;
  readonly stackBytes: number;
  readonly onEvent: (event: SamplerEvent) => void;
  readonly onAttached?: () => void;
  readonly isTargetAlive: () => boolean;
  readonly pollIntervalMs?: number;
  /** Wall-clock mode: also sample threads off CPU. */
  readonly wall?: boolean;
  /** Wall-clock mode: the first pass's weight (a dump tells that pass's samples by it). */
  readonly firstPassWeight?: number;
  /**
   * Records keyed by thread (RawSample.tid), as thread roots need. Without,
   * threads share their records (tid 0) and each 'samples' event says what
   * each thread got (byThread): a pool starting hundreds of threads a second
   * made as many new records each second otherwise, numbered, handed over
   * and dropped, and mixprof's memory grew with them (soak: 71 to 84 MiB
   * over 150 s at 999 Hz, against 61-64 flat).
   */
  readonly perThread?: boolean;
  /** Every sample's time and thread too ('timeline' events). */
  readonly timeline?: boolean;
  /** Threads the target has (wall-clock mode sizes its ring buffer by them). */
  readonly threads?: number;
  /** The rows in user space only, or libdwfl alone, instead of the kernel first (references to measure and compare against). */
  readonly unwinder?: 'kernel' | 'tables' | 'libdwfl';
  /** Every stack the rows unwind is unwound by libdwfl too and compared (SamplerResult.unwinds). */
  readonly checkUnwind?: boolean;
  /**
   * Fork-following: the processes the target forks (and theirs) are sampled
   * too, from their first instruction; their records go to onFollowed, and
   * their forks, exits and execs to onProcess, before their records.
   */
  readonly follow?: {
    readonly onProcess: (event: FollowedProcessEvent) => void;
    readonly onFollowed: (pid: number, event: SamplerEvent) => void;
  };
}

/** How often counts are handed to JavaScript (the ring may be drained more often). */
const DELIVER_MS = 1000;

export function startDwarfSampler(options: DwarfRunOptions): RunningSampler {
  const failWallPasses = injectedFault('wall-pass');
  // In wall-clock mode every thread off CPU sends samples too (a thread still asleep only a few bytes).
  const senders = cpus().length + (options.wall ? Math.min(options.threads ?? 1, 64) : 0);
  // Checking, every sample is copied too.
  const kernelUnwind = (options.unwinder ?? 'kernel') === 'kernel' && !options.checkUnwind;
  const lateDrains = injectedFault('late-drains') !== null;
  const ring = lateDrains ? 1 : ringMiB(options.hz, senders, options.stackBytes, kernelUnwind, options.follow !== undefined);
  const pollIntervalMs = lateDrains ? 250 : options.pollIntervalMs;
  const perThread = options.perThread ?? true;
  let sampler: NativeDwarfSampler;
  try {
    sampler = new options.addon.DwarfSampler({
      object: dwarfSamplerObject(),
      pid: options.pid,
      hz: options.hz,
      maxFrames: options.maxFrames,
      stackBytes: options.stackBytes,
      ringMiB: ring,
      symbolizer: options.symbolizer,
      ...(options.python ? { python: packWalkConfig(options.python) } : {}),
      ...(options.wall ? { wall: true } : {}),
      ...(options.wall && failWallPasses !== null ? { failWallPasses } : {}),
      ...(options.wall && options.firstPassWeight ? { firstPassWeight: options.firstPassWeight } : {}),
      ...(options.follow ? { follow: true } : {}),
      perThread,
      ...(options.timeline ? { timeline: true } : {}),
      ...(options.unwinder ? { unwinder: options.unwinder } : {}),
      ...(options.checkUnwind ? { checkUnwind: true } : {}),
      ...(injectedFault('cfi-rows') !== null ? { skewCfiRows: true } : {}),
    });
    sampler.start();
  } catch (error) {
    const message = (error as Error).message.split('\n');
    const stale = (error as NodeJS.ErrnoException).code === 'EBPFOBJECT' || /cannot open /.test(message[0]!);
    throw new MixprofError(
      'SAMPLER_FAILED',
      `the DWARF sampler could not start: ${message[0]}`,
      stale
        ? 'rebuild the addon and its BPF object with `npm run setup`; or pass --unwind fp'
        : "check that this kernel allows BPF (root, lockdown); MIXPROF_DEBUG=1 shows libbpf's and the verifier's messages; or pass --unwind fp",
      { cause: error },
    );
  }
  options.onAttached?.();

  let reason: StopReason | null = null;
  let finish: (result: SamplerResult) => void = () => undefined;
  const done = new Promise<SamplerResult>((resolve) => (finish = resolve));
  let lastDropped = 0;
  let wallPassesFailed = 0;
  let unwinds: UnwindCounts | undefined;
  let lastMalformed = 0;
  let lastAliveCheck = Date.now();

  // Each record to its process: the target's to onEvent, a followed one's to onFollowed.
  const follow = options.follow;
  const emit = (pid: number, event: SamplerEvent): void => {
    if (pid === options.pid || !follow) options.onEvent(event);
    else follow.onFollowed(pid, event);
  };
  // When the kernel saw the target's last thread exit (Date.now() time): where its span ends.
  let targetExitedAt: number | null = null;
  const deliver = (poll: DwarfPoll): void => {
    // Forks first (a child's records may be in this poll); exits and execs after its records.
    const processes = poll.processes.filter((p) => {
      if (p.pid !== options.pid) return true;
      if (p.kind === 'exit') targetExitedAt ??= epochMs(p.timeMs);
      return false;
    });
    for (const p of processes) if (p.kind === 'fork') follow?.onProcess(p);
    for (const { pid, ...thread } of poll.threads) emit(pid, { type: 'thread', thread });
    for (const { pid, hash, truncated, frames: f } of poll.chains) {
      const frames = [];
      for (let i = 0; i < f.length / 4; i++) frames.push({ code: f[4 * i]!, instr: f[4 * i + 1]!, flags: f[4 * i + 2]!, firstLineNo: Number(f[4 * i + 3]!) });
      emit(pid, { type: 'chain', chain: { hash, depth: frames.length, truncated, frames } });
    }
    for (const s of poll.stacks) stacks.set(s.id, { pid: s.pid, sample: rawSample(s) });
    const byProcess = new Map<number, RawSample[]>();
    const counts = poll.counts;
    for (let i = 0; i + 1 < counts.length; i += 2) {
      const stack = stacks.get(counts[i]!);
      // Never so (a number comes with or after its record); counted as malformed if it were.
      if (!stack) {
        unknownNumbers++;
        continue;
      }
      const pid = follow ? stack.pid : options.pid;
      let list = byProcess.get(pid);
      if (!list) byProcess.set(pid, (list = []));
      list.push({ ...stack.sample, count: counts[i + 1]! });
    }
    const timeline = poll.timeline ? timedSamples(poll.timeline) : null;
    if (poll.forgetStacks) {
      stacks.clear();
      userStacks.clear();
      kernelStacks.clear();
    }
    // Records keyed without their thread: the samples each got come apart (none in a partial poll: they wait for the next full one).
    const threadsOf = perThread ? null : samplesByThread(poll.threadSamples ?? new Float64Array(0), follow ? null : options.pid);
    // The target's, even when empty: it carries the malformed count.
    const malformed = poll.malformed + unknownNumbers;
    const byThread = (pid: number): { byThread?: ReadonlyMap<number, number> } => (threadsOf ? { byThread: threadsOf.get(pid) ?? new Map() } : {});
    options.onEvent({ type: 'samples', samples: byProcess.get(options.pid) ?? [], malformed: malformed - lastMalformed, ...byThread(options.pid) });
    for (const [pid, samples] of byProcess) if (pid !== options.pid) emit(pid, { type: 'samples', samples, malformed: 0, ...byThread(pid) });
    if (timeline) for (const [pid, samples] of timeline) emit(pid, { type: 'timeline', samples });
    for (const p of processes) if (p.kind !== 'fork') follow?.onProcess(p);
    execd ||= poll.execd;
    lastMalformed = malformed;
    if (poll.dropped > lastDropped) options.onEvent({ type: 'lost', events: poll.dropped - lastDropped });
    lastDropped = poll.dropped;
    wallPassesFailed = poll.tickErrors;
    unwinds = poll.unwinds;
  };

  // A poll's timeline (DwarfPoll.timeline) by process, its times since the epoch.
  const timedSamples = (log: Float64Array): Map<number, TimedSample[]> => {
    const byProcess = new Map<number, TimedSample[]>();
    if (log.length === 0) return byProcess;
    const toEpoch = epochMs(0);
    for (let i = 0; i + 3 < log.length; i += 4) {
      const stack = stacks.get(log[i + 2]!);
      if (!stack) continue;
      const pid = follow ? stack.pid : options.pid;
      let list = byProcess.get(pid);
      if (!list) byProcess.set(pid, (list = []));
      list.push({ time: toEpoch + log[i]! / 1e6, tid: log[i + 1]!, sample: stack.sample, weight: log[i + 3]! });
    }
    return byProcess;
  };

  // The sampler's records by number, made once (see DwarfPoll.stacks).
  const stacks = new Map<number, { readonly pid: number; readonly sample: RawSample }>();
  // Records that differ only in their chain, kernel stack or thread share
  // the rest: each user and kernel stack is held once as an array of
  // BigInts, found by its bytes. A timer interrupt lands in many kernel
  // functions, so one user stack came in dozens of records, each with its
  // own copy (the soak's memory grew with them).
  const userStacks = new Map<string, readonly bigint[]>();
  const kernelStacks = new Map<string, readonly bigint[]>();
  const held = (arrays: Map<string, readonly bigint[]>, values: BigUint64Array): readonly bigint[] => {
    const key = Buffer.from(values.buffer, values.byteOffset, values.byteLength).toString('latin1');
    let array = arrays.get(key);
    if (array === undefined) {
      array = [...values];
      arrays.set(key, array);
    }
    return array;
  };
  let unknownNumbers = 0;
  const rawSample = (s: DwarfStack): RawSample => {
    const gil = gilStateFromCode(s.gil);
    return {
      id: s.id,
      tid: s.tid,
      chain: s.chain,
      ...(gil ? { gil } : {}),
      ...(s.runnable ? { runnable: true } : {}),
      ...(s.waiting ? { waiting: true } : {}),
      count: 0,
      user: held(userStacks, s.user),
      userEnd: s.complete ? 'complete' : s.beyondCopy ? 'beyond-copy' : s.short ? 'short' : 'stopped',
      kernel: held(kernelStacks, s.kernel),
    };
  };

  const errors: string[] = [];
  // Counted in samples, not polls: the fault comes after as many samples on a busy machine as on an idle one.
  const failAfterSamples = injectedFault('dwarf-poll');
  let delivered = 0;
  // A failing poll ends sampling; what was delivered before stays.
  // The bytes the poll drained from the ring, or null when it failed.
  const pollSafely = (full = true): number | null => {
    try {
      if (failAfterSamples !== null && delivered >= failAfterSamples) throw new Error('the ring buffer could not be read (injected fault)');
      const poll = sampler.poll(full);
      for (let i = 1; i < poll.counts.length; i += 2) delivered += poll.counts[i]!;
      deliver(poll);
      return poll.drainedBytes;
    } catch (error) {
      errors.push((error as Error).message.split('\n')[0]!);
      return null;
    }
  };

  const stop = (why: StopReason): void => {
    if (reason !== null) return;
    reason = why;
    clearTimeout(timer);
    clearTimeout(durationTimer);
    try {
      sampler.stop();
    } catch (error) {
      errors.push((error as Error).message.split('\n')[0]!);
    }
    // The samplers are detached: what the last poll reads was taken before now.
    const detachedAt = Date.now();
    if (why !== 'sampler-failed') pollSafely();
    sampler.close();
    const stoppedAt = targetExitedAt !== null ? Math.min(targetExitedAt, detachedAt) : detachedAt;
    finish({ attached: true, reason: why, exitCode: null, signal: null, errors, killed: false, stackErrors: 0, stoppedAt, wallPassesFailed, ...(unwinds ? { unwinds } : {}) });
  };

  let execd = false;
  const schedule = new DrainSchedule(ring * 2 ** 20, options.follow !== undefined);
  // Counts of records seen before reach JavaScript once a second (each
  // costs there, and most stacks recur); the rest (new chains, records,
  // threads, process events: read while the target lives) at every drain,
  // as often as the ring fills.
  const startedAt = Date.now();
  let lastDrain = startedAt;
  let lastPoll = lastDrain;
  const drain = (): void => {
    if (reason !== null) return;
    const now = Date.now();
    const full = now - lastPoll >= DELIVER_MS;
    if (full) lastPoll = now;
    const bytes = pollSafely(full);
    if (bytes === null) {
      stop('sampler-failed');
      return;
    }
    if (execd) {
      stop('target-execd');
      return;
    }
    if (targetExitedAt !== null) {
      stop('target-exited');
      return;
    }
    if (now - lastAliveCheck >= ALIVE_CHECK_MS) {
      lastAliveCheck = now;
      if (!options.isTargetAlive()) {
        stop('target-exited');
        return;
      }
    }
    timer = setTimeout(drain, pollIntervalMs ?? schedule.next(bytes, now - lastDrain, now - startedAt));
    lastDrain = now;
  };
  // Drained early: a drain compiles the rows of the modules its stacks are
  // in, and the kernel unwinds there from then on (until then every stack
  // is copied, 8 KiB each).
  let timer = setTimeout(drain, pollIntervalMs ?? FIRST_DRAIN_MS);
  const durationTimer = options.durationSeconds !== null ? setTimeout(() => stop('duration'), options.durationSeconds * 1000) : undefined;

  const follows = (pid: number): boolean => {
    if (reason !== null) return false;
    try {
      return sampler.follows(pid);
    } catch {
      return false;
    }
  };
  const adopt = (pid: number): boolean => {
    if (reason !== null || !options.follow) return false;
    try {
      return sampler.adopt(pid);
    } catch {
      return false;
    }
  };
  const unwindWith = (pid: number, symbolizer: NativeSymbolizer | null): void => {
    if (reason === null) sampler.unwindWith(pid, symbolizer);
  };
  return { done, stop, kill: () => stop('interrupted'), follows, adopt, unwindWith };
}

/** A full poll's samples per thread (DwarfPoll.threadSamples), per process; every process's under onlyPid when given (not following forks). */
export function samplesByThread(triples: Float64Array, onlyPid: number | null): Map<number, Map<number, number>> {
  const byProcess = new Map<number, Map<number, number>>();
  for (let i = 0; i + 2 < triples.length; i += 3) {
    const pid = onlyPid ?? triples[i]!;
    let threads = byProcess.get(pid);
    if (!threads) byProcess.set(pid, (threads = new Map()));
    const tid = triples[i + 1]!;
    threads.set(tid, (threads.get(tid) ?? 0) + triples[i + 2]!);
  }
  return byProcess;
}
