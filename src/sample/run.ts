/**
 * A whole profiling run as the commands see it: one session per target
 * process (the PIDs given, and with --subprocesses the processes they start),
 * stopped together by -t, Ctrl-C or the targets' exit; then their profiles
 * are combined and written in the chosen format, with the report and the
 * top-functions table on stderr.
 */
import { MixprofError, isMixprofError } from '../errors.js';
import { combineStacks, combineStats } from '../profile/combine.js';
import { formatReport } from '../output/report.js';
import { FORMAT_EXTENSION, renderProfile } from '../output/formats.js';
import type { OutputFormat, OutputProfile } from '../output/output-profile.js';
import { StatusLine } from '../output/status-line.js';
import { formatTopTable } from '../output/top-table.js';
import { writeProfile } from '../output/write.js';
import { nativeAddon } from '../native.js';
import { InterpreterStartingError } from '../python/find-layout.js';
import { mapsInterpreter } from '../target/interpreter.js';
import { checkPrivileges } from '../target/privileges.js';
import { DescendantWatcher, descendants, readProcessTable, type ProcessEntry } from '../target/descendants.js';
import { isAlive } from '../target/process.js';
import type { StopReason } from '../sampler/sampler.js';
import { onStopSignals } from '../stop-signals.js';
import { raisePriorityWhileAttaching } from './priority.js';
import { startProcessSession, type ProcessRun, type ProcessSession, type SessionOptions } from './session.js';

export interface RunOptions extends SessionOptions {
  readonly pids: readonly number[];
  /** Also profile the processes the targets start. */
  readonly subprocesses: boolean;
  /** null writes to stdout. */
  readonly output: string | null;
  readonly format: OutputFormat;
  readonly markPython: boolean;
  /** A root frame per process: "comm (pid)". */
  readonly processRoots: boolean;
  /** Rows of the top-functions table; 0 prints none. */
  readonly top: number;
  /** Where the live status line goes (a terminal), or null. */
  readonly statusStream: NodeJS.WriteStream | null;
  /**
   * How long a target that is just starting (its interpreter not yet set up)
   * is retried for; 0 fails at once. `record` starts its command itself.
   */
  readonly startingWaitMs?: number;
  /** Stop on SIGINT/SIGTERM/SIGHUP (false when the caller handles them). */
  readonly handleSignals?: boolean;
  /** Told when each process's sampler is attached (record lets a held command go). */
  readonly onAttached?: (pid: number) => void;
}

export interface RunSummary {
  readonly runs: readonly ProcessRun[];
  /** Where the profile went (null: stdout); undefined when nothing was sampled. */
  readonly written?: string | null;
}

/** How often descendants are looked for (a new one is attached on its second look), and how long one still starting up is retried. */
const SCAN_MS = 200;
const SUBPROCESS_STARTING_WAIT_MS = 5000;
const RETRY_MS = 10;
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts sampling the process, retrying while its interpreter is only starting up. */
async function startWhenReady(pid: number, options: SessionOptions, log: (line: string) => void, waitMs: number, onAttached: (pid: number) => void): Promise<ProcessSession> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      return await startProcessSession(pid, options, log, { onAttached });
    } catch (error) {
      const starting = error instanceof InterpreterStartingError || (isMixprofError(error) && error.code === 'UNSUPPORTED_PYTHON');
      if (!starting || Date.now() > deadline || !isAlive(pid)) throw error;
      await pause(RETRY_MS);
    }
  }
}

export async function profileProcesses(options: RunOptions, log: (line: string) => void): Promise<RunSummary> {
  checkPrivileges();
  // --subprocesses: each target's sampler also samples what it forks, from the fork on (CPU and wall-clock mode).
  const sessionOptions: SessionOptions = { ...options, follow: options.subprocesses };
  const status = options.statusStream && !options.quiet ? new StatusLine(options.statusStream) : null;
  const say = (line: string): void => {
    status?.clear();
    log(line);
  };
  const sessions: ProcessSession[] = [];
  const runs: ProcessRun[] = [];
  let stopping: StopReason | null = null;
  let firstAttach: number | null = null;
  const onAttached = (pid: number): void => {
    firstAttach ??= Date.now();
    options.onAttached?.(pid);
  };
  /** Sessions started later sample only what is left of -t. */
  const remaining = (): number | null => {
    if (options.durationSeconds === null || firstAttach === null) return options.durationSeconds;
    return Math.max(0.05, options.durationSeconds - (Date.now() - firstAttach) / 1000);
  };
  let pendingStarts = 0;
  let settle: () => void = () => undefined;
  const allDone = new Promise<void>((resolve) => (settle = resolve));
  const checkDone = (): void => {
    if (pendingStarts === 0 && sessions.every((s) => finished.has(s.pid))) settle();
  };
  const finished = new Set<number>();
  const errors: unknown[] = [];
  const track = (session: ProcessSession): void => {
    sessions.push(session);
    if (stopping) session.stop(stopping);
    session.done.then(
      (run) => runs.push(run, ...(run.followed ?? [])),
      (error: unknown) => {
        errors.push(error);
        if (options.pids.length > 1 || options.subprocesses) say(`mixprof: process ${session.pid} (${session.comm}): ${(error as Error).message}`);
      },
    ).finally(() => {
      finished.add(session.pid);
      checkDone();
    });
  };

  const stopAll = (reason: StopReason): void => {
    stopping ??= reason;
    for (const s of sessions) s.stop(reason);
  };
  // While sampling, the first Ctrl-C stops cleanly (also while targets are
  // being attached) and a second one does not wait for the samplers. While
  // the profile is written, one says it is being written and the next stops
  // waiting for stdout's reader (the profile then goes to a file). They stay
  // handled until the end, so none can cut the output short.
  let phase: 'sampling' | 'writing' | 'done' = 'sampling';
  let signalled = 0;
  let signalledWhileWriting = 0;
  const abandonWrite = new AbortController();
  const onSignal = (): void => {
    if (phase === 'sampling') {
      if (signalled++ === 0) stopAll('interrupted');
      else for (const s of sessions) s.kill();
    } else if (phase === 'writing') {
      if (signalledWhileWriting++ === 0) log('mixprof: still writing the profile; interrupt again to stop waiting for the reader and have it written to a file');
      else abandonWrite.abort();
    }
  };
  const removeSignals = options.handleSignals !== false ? onStopSignals(onSignal) : () => undefined;
  // The targets given: with one, its error is the run's error.
  const startErrors: unknown[] = [];
  const lowerPriority = raisePriorityWhileAttaching();
  try {
    for (const pid of options.pids) {
      if (stopping) break;
      try {
        track(await startWhenReady(pid, { ...sessionOptions, durationSeconds: remaining() }, say, options.startingWaitMs ?? 0, onAttached));
      } catch (error) {
        if (options.pids.length === 1) {
          removeSignals();
          throw error;
        }
        startErrors.push(error);
        say(`mixprof: process ${pid} skipped: ${(error as Error).message}`);
      }
    }
  } finally {
    lowerPriority();
  }
  if (sessions.length === 0) {
    removeSignals();
    throw startErrors[0] ?? new MixprofError('NO_SUCH_PROCESS', 'no process to profile', 'pass the PIDs of running processes with -x');
  }

  // --subprocesses: a descendant forked (not exec'd) before its parent's sampler
  // started is followed by that sampler from now on; others get a session.
  const adopted = (entry: ProcessEntry): boolean => {
    const parent = sessions.find((s) => s.pid === entry.ppid || s.follows(entry.ppid));
    return parent?.adopt(entry.pid, entry.ppid) ?? false;
  };
  if (sessionOptions.follow && !stopping) {
    try {
      for (const entry of descendants(readProcessTable(), options.pids)) {
        if (adopted(entry)) say(`mixprof: following process ${entry.pid}, forked from ${entry.ppid} before sampling started`);
      }
    } catch {
      // The periodic scan below looks again.
    }
  }
  // --subprocesses: look for new descendants while any session runs.
  const watcher = options.subprocesses ? new DescendantWatcher(options.pids) : null;
  const scanner = watcher
    ? setInterval(() => {
        if (stopping) return;
        let table;
        try {
          table = readProcessTable();
        } catch {
          return;
        }
        for (const entry of watcher.scan(table)) {
          // Sampled already, forked from a target; looked at again should it exec another program.
          if (sessions.some((s) => s.follows(entry.pid)) || adopted(entry)) {
            watcher.release(entry);
            continue;
          }
          // Worth profiling: it has mapped a CPython interpreter.
          if (!mapsInterpreter(nativeAddon(), entry.pid)) continue;
          pendingStarts++;
          startWhenReady(entry.pid, { ...sessionOptions, durationSeconds: remaining() }, say, SUBPROCESS_STARTING_WAIT_MS, onAttached)
            .then(track, (error: unknown) => {
              if (isAlive(entry.pid)) say(`mixprof: process ${entry.pid} skipped: ${(error as Error).message}`);
            })
            .finally(() => {
              pendingStarts--;
              checkDone();
            });
        }
      }, SCAN_MS)
    : null;

  const ticker = status
    ? setInterval(() => {
        let samples = 0;
        let lost = 0;
        let best: { name: string; share: number } | null = null;
        for (const s of sessions) {
          samples += s.live.samples;
          lost += s.live.lost;
          const hot = s.live.hottest();
          // With several processes, the share is of that process's samples: good enough for a glance.
          if (hot && (!best || hot.share > best.share)) best = { ...hot };
        }
        status.show({ elapsedSeconds: firstAttach ? (Date.now() - firstAttach) / 1000 : 0, durationSeconds: options.durationSeconds, samples, lost, processes: sessions.length, hottest: best });
      }, 1000)
    : null;

  checkDone();
  try {
    await allDone;
  } finally {
    if (scanner) clearInterval(scanner);
    if (ticker) clearInterval(ticker);
    status?.clear();
  }

  let written: { path: string | null; profile: OutputProfile };
  try {
    if (runs.length === 0) throw errors[0] ?? new MixprofError('NO_SUCH_PROCESS', 'no process was sampled', 'check the PIDs and run again');
    runs.sort((a, b) => a.pid - b.pid);
    phase = 'writing';
    written = await writeRuns(runs, options, abandonWrite.signal);
    phase = 'done';
  } finally {
    removeSignals();
  }
  if (!options.quiet) {
    for (const line of reportLines(runs, options)) log(line);
    if (options.top > 0) for (const line of formatTopTable(written.profile.stacks, options.top, process.stderr.columns || 100)) log(line);
  }
  // The samples are written; a fault that ended sampling early still fails the run.
  const failed = runs.find((r) => r.failure !== null);
  if (failed) {
    throw new MixprofError('SAMPLER_FAILED', `sampling stopped early: ${failed.failure}`, 'the samples collected until then were written; run again');
  }
  return { runs, written: written.path };
}

async function writeRuns(runs: readonly ProcessRun[], options: RunOptions, abandon: AbortSignal): Promise<{ path: string | null; profile: OutputProfile }> {
  const started = runs.map((r) => r.startedAt).filter((t): t is number => t !== null);
  const startTime = started.length ? Math.min(...started) : null;
  const endTime = Math.max(...runs.map((r) => (r.startedAt ?? 0) + r.seconds * 1000));
  const first = runs[0]!;
  const profile: OutputProfile = {
    stacks: combineStacks(runs, options.processRoots),
    hz: options.hz,
    startTime,
    durationSeconds: startTime === null ? null : (endTime - startTime) / 1000,
    title: runs.length === 1 ? `${first.comm} (${first.pid})` : `${first.comm} (${runs.length} processes: ${runs.map((r) => r.pid).join(', ')})`,
    time: options.mode === 'wall' ? 'wall' : 'cpu',
    binaries: first.binaries,
  };
  const data = renderProfile(profile, options.format, { markPython: options.markPython });
  const { path } = await writeProfile(options.output, data, FORMAT_EXTENSION[options.format], { abandon });
  return { path, profile };
}

const STOP_TEXT: Record<StopReason, string> = {
  duration: 'duration reached',
  interrupted: 'interrupted',
  'target-exited': 'target exited',
  'target-execd': "the target exec'd another program",
  'bpftrace-exited': 'bpftrace exited',
  'attach-timeout': 'attach timed out',
  'sampler-failed': 'the sampler failed',
};

function describeStop(run: ProcessRun): string {
  return STOP_TEXT[run.reason] + (run.killed ? '; bpftrace had to be killed, its last second of samples is lost' : '');
}

/** Processes listed one per line in the report. */
const MAX_LISTED_PROCESSES = 20;

function reportLines(runs: readonly ProcessRun[], options: RunOptions): string[] {
  const first = runs[0]!;
  if (runs.length === 1) {
    return formatReport(first.profile.stats, {
      hz: options.hz,
      seconds: first.seconds,
      python: first.python,
      noFramePointers: first.noFramePointers,
      stopReason: describeStop(first),
      stackErrors: first.stackErrors,
      missedThreads: first.missedThreads,
      wallPassesFailed: first.wallPassesFailed,
      unwind: first.unwind,
      mode: options.mode,
    });
  }
  const stats = combineStats(runs.map((r) => r.profile.stats));
  const lines = formatReport(stats, {
    hz: options.hz,
    seconds: Math.max(...runs.map((r) => r.seconds)),
    python: runs.some((r) => r.python),
    noFramePointers: runs.find((r) => r.noFramePointers)?.noFramePointers ?? null,
    stopReason: `${runs.length} processes`,
    stackErrors: runs.reduce((n, r) => n + r.stackErrors, 0),
    missedThreads: runs.flatMap((r) => r.missedThreads),
    wallPassesFailed: runs.reduce((n, r) => n + r.wallPassesFailed, 0),
    unwind: first.unwind,
    mode: options.mode,
  });
  // Recycled workers can be hundreds: the busiest are listed, in PID order, and the rest summed.
  const listed = new Set(runs.length <= MAX_LISTED_PROCESSES ? runs : [...runs].sort((a, b) => b.profile.stats.samples - a.profile.stats.samples).slice(0, MAX_LISTED_PROCESSES - 1));
  for (const run of runs) {
    if (listed.has(run)) lines.push(`  process ${run.pid} (${run.comm}): ${run.profile.stats.samples} samples over ${run.seconds.toFixed(1)} s (${describeStop(run)})`);
  }
  const rest = runs.filter((r) => !listed.has(r));
  if (rest.length > 0) lines.push(`  ${rest.length} more processes: ${rest.reduce((n, r) => n + r.profile.stats.samples, 0)} samples (--pid-root shows each)`);
  return lines;
}
