/**
 * Profiling one process, stage by stage: target -> interpreter and offsets ->
 * sampler (its BPF program) -> raw records -> names (the resolver) -> merged
 * stacks (the profile). A ProcessSession is started once the target is
 * attached and ends with its Profile; a command's run drives one or more at
 * once (src/sample/run.ts, src/collect/, src/top/, src/serve/) and turns
 * their profiles into output.
 */
import { findBpftrace, stackFormatOf, type Bpftrace } from '../sampler/bpftrace.js';
import { ensureTracefs } from '../sampler/tracefs.js';
import { startDwarfSampler } from '../sampler/dwarf-runner.js';
import { FULL_USER_STACK_DEPTH, SHORT_USER_STACK_DEPTH, nativeProgram, pythonProgram, walkConstants } from '../sampler/program.js';
import { samplesPerThread, type SamplerEvent } from '../sampler/sampler.js';
import { startBpftraceSampler } from '../sampler/bpftrace-runner.js';
import type { RunningSampler, StopReason } from '../sampler/sampler.js';
import { ProcessTasks } from '../asyncio/process-tasks.js';
import { TaskSampler } from '../asyncio/task-sampler.js';
import { MixprofError } from '../errors.js';
import { nativeAddon, type FollowedProcessEvent, type NativeAddon, type UnwindCounts } from '../native.js';
import { showsThreadNames, type Profile, type ProfileBuilder } from '../profile/profile.js';
import type { ProcessSpan, Timeline } from '../profile/timeline.js';
import { shortenPath } from '../symbolize/short-paths.js';
import { gilProblem, requireGil } from '../python/gil-check.js';
import { versionString, type PythonLayout } from '../python/layout.js';
import { attachTarget, type Attachment } from './attach.js';
import { chooseUnwind } from './unwind.js';
import { checkSessionOptions, type SessionOptions } from './session-options.js';
import { failureOf, notAttachedError } from './sampler-outcome.js';
import { kernelSymbols } from '../symbolize/kernel.js';
import { openTarget, isAlive, readMapsText, threadCount } from '../target/process.js';
import { LiveCounts } from './live-counts.js';
import { FollowedProcesses } from './followed.js';
import { binaryMappings, type BinaryMapping } from '../target/maps.js';
import type { MissedThread } from '../output/report.js';
import { missedThreads, readThreadsCpu, type ThreadCpu } from './thread-cpu.js';
import { injectedFault } from '../fault-injection.js';
import { threadNamingFor } from '../symbolize/thread-naming.js';


/** What one process's sampling gave, and what the report says about it. */
export interface ProcessRun {
  readonly pid: number;
  readonly comm: string;
  readonly profile: Profile;
  readonly reason: StopReason;
  readonly killed: boolean;
  readonly stackErrors: number;
  /** When sampling started (ms since the epoch) and how long it ran. */
  readonly startedAt: number | null;
  readonly seconds: number;
  readonly python: boolean;
  /** "3.11.7" when the Python frames were read. */
  readonly pythonVersion: string | null;
  /** Whether each sample read the GIL's state (its stacks have GIL roots). */
  readonly gil: boolean;
  /** The interpreter as attached, when the Python frames were read: a dump reads the frames' variables with it. */
  readonly interpreter: { readonly layout: PythonLayout; readonly runtimeAddress: bigint; readonly path: string } | null;
  /** The interpreter's path when frame-pointer stacks stop at its eval loop. */
  readonly noFramePointers: string | null;
  /** Set when the sampler failed mid-run: the samples before it are kept. */
  readonly failure: string | null;
  /** Threads that ran a noticeable share of the run and got (almost) no samples. */
  readonly missedThreads: readonly MissedThread[];
  /** Wall-clock passes that could not run: threads off CPU went unsampled in them. */
  readonly wallPassesFailed: number;
  /** How the DWARF sampler unwound the target's user stacks. */
  readonly unwinds?: UnwindCounts;
  readonly unwind: 'fp' | 'dwarf';
  /** The processes followed from this one (forked from it), each a run of its own. */
  readonly followed?: readonly ProcessRun[];
  /** Where its program and libraries were mapped when sampling started, the program first. */
  readonly binaries: readonly BinaryMapping[];
  /** --timeline: its samples in time order. */
  readonly timeline?: Timeline;
}

/** A builder's profile, and its timeline when it kept one (span: the process's start and exit within the sampling). */
function finished(builder: ProfileBuilder, pid: number, comm: string, span: ProcessSpan): { profile: Profile; timeline?: Timeline } {
  const profile = builder.finish();
  const timeline = builder.timeline(pid, comm, span);
  return timeline ? { profile, timeline } : { profile };
}

export interface ProcessSession {
  readonly pid: number;
  readonly comm: string;
  /** Rejects when sampling never started. */
  readonly done: Promise<ProcessRun>;
  stop(reason: StopReason): void;
  /** Ends the sampler at once. */
  kill(): void;
  /** Counts so far, for the status line. */
  readonly live: LiveCounts;
  /** "3.11.7" when the Python frames are read. */
  readonly pythonVersion: string | null;
  /** The merged stacks since the last drain (or the start), and counting starts again (a live view's refresh, a collector's period). */
  drain(): Profile;
  /** Whether pid is sampled by this session as a process forked from the target (SessionOptions.follow). */
  follows(pid: number): boolean;
  /**
   * Follows pid, forked from the target or a process it follows before
   * sampling started, when it still runs the target's image (it has not
   * exec'd): true when it is sampled by this session from now on.
   */
  adopt(pid: number, parent: number): boolean;
}

/**
 * Thread states searched for a sampled thread's (once per thread, then
 * cached): the interpreter lists them newest first, so a thread started
 * before thousands of others is far down the list. The verifier accepts
 * bpftrace's loop up to about 2048; the C sampler's bpf_loop() goes further.
 */
const MAX_THREADS_SEARCHED = { fp: 2048, dwarf: 4096 } as const;
/** Native frames kept by a DWARF unwind. */
const DWARF_MAX_FRAMES = 1024;
/**
 * Stack copied per DWARF sample, perf's default: the frames of a thread's
 * leaf functions and eval loops fit; words deeper than that (outer frames,
 * which stay put while a thread runs below them) are read from the live process.
 */
const DWARF_STACK_BYTES = 8192;

export interface SessionHooks {
  /** Sampling has started (the probes are attached). */
  readonly onAttached?: (pid: number) => void;
}

/** Attaches to the process and starts sampling it; throws what makes that impossible. */
export async function startProcessSession(pid: number, options: SessionOptions, log: (line: string) => void, hooks: SessionHooks = {}): Promise<ProcessSession> {
  checkSessionOptions(options);
  const wall = options.mode === 'wall';
  const target = openTarget(pid);
  // The kernel's symbol table, read in the background while attaching.
  kernelSymbols();
  const say = options.quiet ? () => undefined : log;
  // bpftrace, and tracefs where it needs it.
  const readyBpftrace = async (): Promise<Bpftrace> => {
    const bpftrace = await findBpftrace();
    await ensureTracefs(bpftrace, say);
    return bpftrace;
  };
  // Needed only for --unwind fp, and known before anything else is done: fail first if it is missing.
  const found = options.unwind === 'fp' ? await readyBpftrace() : null;
  const addon = nativeAddon();
  const mapsText = readMapsText(target.pid);
  if (mapsText === null) throw new MixprofError('NO_SUCH_PROCESS', `process ${target.pid} exited`, 'start the target again and pass its new PID');

  const attached = attachTarget(addon, target, mapsText, { ...options, ...(options.gil === true ? { pythonRequiredBy: '--gil' } : {}) }, say);
  const { interpreter, layout, native, framePointers } = attached;
  const noFramePointers = framePointers === false;
  try {
    // A target without Python was refused by attachTarget already.
    if (options.gil === true && layout && interpreter) requireGil(attached.memory, layout, interpreter.runtimeAddress);
    const gil =
      options.gil === true ||
      (options.gil === 'when-readable' && layout !== null && interpreter !== null && layout.flavour !== 'free-threaded' && gilProblem(attached.memory, layout, interpreter.runtimeAddress) === null);
    const { unwind, why } = chooseUnwind(options.unwind ?? 'auto', options.mode ?? 'cpu');
    if (!options.quiet) log(`mixprof: native stacks unwound with ${unwind === 'dwarf' ? 'DWARF call frame information' : 'frame pointers'} (${why})`);
    const settings = {
      pid: target.pid,
      hz: options.hz,
      maxDepth: options.maxDepth,
      maxThreads: MAX_THREADS_SEARCHED[unwind],
      userDepth: unwind === 'dwarf' ? DWARF_MAX_FRAMES : noFramePointers ? SHORT_USER_STACK_DEPTH : FULL_USER_STACK_DEPTH,
      gil,
    };
    const checks = unwinderChecks();
    const profileOptions = {
      hidePlumbing: options.hidePlumbing,
      maxNativeDepth: settings.userDepth,
      nativeUnwind: unwind,
      threadRoots: options.threadRoots,
      gilRoots: gil,
      fullPaths: options.fullPaths,
      ...(options.timeline ? { timeline: true } : {}),
    };
    const builder = attached.newBuilder(profileOptions);
    const tasks = options.async ? taskSamplerFor(addon, attached, builder, options, wall, log) : null;
    const naming = showsThreadNames(profileOptions) ? threadNamingFor(attached, attached.memory, target.pid, builder) : null;
    // Forked processes are followed by the DWARF sampler (both modes); the bpftrace one leaves them to run.ts, which attaches to each.
    const followed = options.follow && unwind === 'dwarf' ? new FollowedProcesses(addon, attached, profileOptions) : null;
    const live = new LiveCounts();
    let startedAt: number | null = null;
    // What each thread ran and the samples it got over the whole session (drains or not): the missed-threads check.
    let threadsAtStart: Map<number, ThreadCpu> = new Map();
    const samplesByThread = new Map<number, number>();
    const missThreads = injectedFault('miss-threads') !== null;
    const common = {
      pid: target.pid,
      durationSeconds: options.durationSeconds,
      onEvent: (received: SamplerEvent) => {
        // A sampler that sees only the main thread, as a bpftrace whose filter missed the others did (records keyed by thread for it).
        const event = missThreads && received.type === 'samples' ? { ...received, samples: received.samples.filter((s) => s.tid === target.pid) } : received;
        // Only threads there at the start are judged (missedThreads): a pool's churning threads are not kept.
        if (event.type === 'samples') {
          for (const [tid, count] of samplesPerThread(event)) if (threadsAtStart.has(tid)) samplesByThread.set(tid, (samplesByThread.get(tid) ?? 0) + count);
        }
        builder.apply(event);
        if (event.type === 'thread' && naming) naming.onThread(event.thread.tid);
        live.apply(event, builder);
      },
      onAttached: () => {
        startedAt = Date.now();
        threadsAtStart = readThreadsCpu(target.pid);
        tasks?.start();
        if (!options.quiet) log(`mixprof: sampling process ${target.pid} (${target.comm})${wall ? ' (wall clock: every thread, on or off CPU)' : ''}${followed ? ' and the processes it forks' : ''} at ${options.hz} Hz${options.durationSeconds ? ` for ${Number(options.durationSeconds.toFixed(1))} s` : ''}; Ctrl-C to stop`);
        hooks.onAttached?.(target.pid);
      },
      isTargetAlive: () => {
        followed?.checkAlive();
        return isAlive(target.pid);
      },
    };
    const python = layout && interpreter ? layout : null;
    const bpftrace = unwind === 'fp' && found ? { path: found.path, stacks: stackFormatOf(found) } : null;
    const sampler: RunningSampler =
      bpftrace === null
        ? startDwarfSampler({
            ...common,
            addon,
            symbolizer: native.symbolizerForUnwinding(),
            hz: options.hz,
            python: python && interpreter ? walkConstants(python, interpreter.runtimeAddress, settings) : null,
            maxFrames: DWARF_MAX_FRAMES,
            stackBytes: DWARF_STACK_BYTES,
            wall,
            ...(options.firstPassWeight ? { firstPassWeight: options.firstPassWeight } : {}),
            threads: threadCount(target.pid),
            // Thread roots name each record's thread; the miss-threads fault filters records by it.
            perThread: options.threadRoots || missThreads,
            ...(options.timeline ? { timeline: true } : {}),
            ...checks,
            ...(followed ? { follow: { onProcess: (e: FollowedProcessEvent) => followed.onProcess(e), onFollowed: (pid: number, e: SamplerEvent) => live.apply(e, followed.onRecord(pid, e)) } } : {}),
          })
        : await startBpftraceSampler({
            ...common,
            bpftrace: bpftrace.path,
            stacks: bpftrace.stacks,
            program: python && interpreter ? pythonProgram(python, interpreter.runtimeAddress, settings, bpftrace.stacks) : nativeProgram(settings, bpftrace.stacks),
          });

    followed?.useSampler(sampler);
    const done = (async (): Promise<ProcessRun> => {
      try {
        const run = await sampler.done;
        if (!run.attached) throw notAttachedError(run, target.pid);
        if (run.unwinds && checks.checkUnwind) {
          const u = run.unwinds;
          log(`mixprof: unwinds of process ${target.pid}: ${u.tables} with the compiled rows, ${u.libdwfl} by libdwfl; ${u.checked} checked against libdwfl, ${u.differed} differed; in the kernel ${u.kernel}, ${u.kernelChecked} checked against libdwfl, ${u.kernelDiffered} differed`);
        }
        const endedAt = run.stoppedAt;
        const seconds = startedAt ? (endedAt - startedAt) / 1000 : 0;
        const threadsAtEnd = readThreadsCpu(target.pid);
        naming?.refresh();
        tasks?.stop();
        if (tasks && tasks.seen === 0 && !options.quiet) log(`mixprof: --async: no asyncio task was seen in process ${target.pid}`);
        if (tasks && tasks.failures > 0 && !options.quiet) log(`mixprof: --async: ${tasks.failures} looks at the tasks of process ${target.pid} failed (please report it)`);
        const { profile, timeline } = finished(builder, target.pid, target.comm, run.reason === 'target-exited' ? { end: endedAt } : {});
        const pythonVersion = layout ? versionString(layout.version) : null;
        const binaries = binaryMappings(attached.mappings, target.exe);
        const children: ProcessRun[] = (followed?.finish(run.reason, endedAt) ?? []).map((f) => ({
          pid: f.pid,
          comm: f.comm,
          ...finished(f.builder, f.pid, f.comm, { start: f.startedAt, ...(f.reason === 'target-exited' ? { end: f.endedAt } : {}) }),
          reason: f.reason,
          killed: false,
          stackErrors: 0,
          startedAt: f.startedAt,
          seconds: Math.max(0, f.endedAt - f.startedAt) / 1000,
          python: layout !== null,
          pythonVersion,
          gil,
          interpreter: null,
          noFramePointers: null,
          failure: null,
          missedThreads: [],
          wallPassesFailed: 0,
          unwind,
          binaries,
        }));
        return {
          pid: target.pid,
          comm: target.comm,
          profile,
          ...(timeline ? { timeline } : {}),
          reason: run.reason,
          killed: run.killed,
          stackErrors: run.stackErrors,
          startedAt,
          seconds,
          python: layout !== null,
          pythonVersion,
          gil,
          interpreter: python && interpreter ? { layout: python, runtimeAddress: interpreter.runtimeAddress, path: interpreter.path } : null,
          noFramePointers: noFramePointers && unwind === 'fp' ? interpreter!.path : null,
          failure: failureOf(run),
          missedThreads: missedThreads(threadsAtStart, threadsAtEnd, samplesByThread, { hz: options.hz, seconds, mode: wall ? 'wall' : 'cpu' }),
          wallPassesFailed: run.wallPassesFailed ?? 0,
          ...(run.unwinds ? { unwinds: run.unwinds } : {}),
          unwind,
          binaries,
          ...(followed ? { followed: children } : {}),
        };
      } finally {
        tasks?.close();
        followed?.close();
        native.close();
      }
    })();
    // The caller may never await a session that failed to start; its error is reported through done.
    done.catch(() => undefined);
    return {
      pid: target.pid,
      comm: target.comm,
      done,
      stop: (reason) => sampler.stop(reason),
      kill: () => sampler.kill(),
      live,
      pythonVersion: layout ? versionString(layout.version) : null,
      drain: () => {
        naming?.refresh();
        return builder.drain();
      },
      follows: (pid) => sampler.follows?.(pid) ?? false,
      adopt: (pid, parent) => (followed && sampler.adopt ? followed.adoptRunning(pid, parent, readMapsText(pid), (p) => sampler.adopt!(p)) : false),
    };
  } catch (error) {
    native.close();
    throw error;
  }
}

/** --async: the looks at the target's tasks, or one line saying why there can be none. */
function taskSamplerFor(addon: NativeAddon, attached: Attachment, builder: ProfileBuilder, options: SessionOptions, wall: boolean, log: (line: string) => void): TaskSampler {
  const { layout, interpreter, target } = attached;
  if (!layout || !interpreter) throw new MixprofError('BAD_OPTION', '--async needs the Python frames, and none are read in this process', 'leave out --async (and --native-only)');
  const showPath = options.fullPaths ? (file: string): string => file : (file: string): string => shortenPath(file, target.cwd);
  const tasks = ProcessTasks.open(addon, attached.memory, target.pid, { layout, runtimeAddress: interpreter.runtimeAddress, path: interpreter.path }, showPath, true);
  if ('problem' in tasks) throw new MixprofError('BAD_OPTION', `--async: ${tasks.problem}`, 'leave out --async for this process');
  // A program started by record imports asyncio after it starts: its tasks are read from then on.
  if (!tasks.ready && !options.quiet) log(`mixprof: --async: process ${target.pid} has not imported asyncio yet; its tasks are read once it does`);
  return new TaskSampler(tasks, builder, { hz: options.hz, wall });
}

/**
 * For developers and tests: MIXPROF_UNWINDER=libdwfl unwinds with libdwfl
 * alone (the reference), MIXPROF_UNWINDER=tables with the rows in user space
 * only; MIXPROF_CHECK_UNWIND=1 unwinds every stack both ways (the kernel's
 * too) and says how many differed.
 */
function unwinderChecks(): { unwinder?: 'tables' | 'libdwfl'; checkUnwind?: true } {
  const unwinder = process.env['MIXPROF_UNWINDER'];
  return {
    ...(unwinder === 'libdwfl' || unwinder === 'tables' ? { unwinder } : {}),
    ...(process.env['MIXPROF_CHECK_UNWIND'] === '1' ? { checkUnwind: true as const } : {}),
  };
}
