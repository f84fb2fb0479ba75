/**
 * A whole profiling run as the commands see it: one session per target
 * process (the PIDs given, and with --subprocesses the processes they start),
 * stopped together by -t, Ctrl-C or the targets' exit; then their profiles
 * are combined and written in the chosen format, with the report and the
 * top-functions table on stderr.
 */
import { MixprofError, isMixprofError } from '../errors.js';
import { combineStacks } from '../profile/combine.js';
import { FORMAT_EXTENSION, renderProfile } from '../output/formats.js';
import type { OutputFormat, OutputProfile } from '../output/output-profile.js';
import { combineTimelines } from '../profile/timeline.js';
import { StatusLine } from '../output/status-line.js';
import { tickStatus } from './status-ticker.js';
import { formatTopTable } from '../output/top-table.js';
import { writeProfile } from '../output/write.js';
import { InterpreterStartingError } from '../python/find-layout.js';
import { checkPrivileges } from '../target/privileges.js';
import { isAlive } from '../target/process.js';
import type { StopReason } from '../sampler/sampler.js';
import { onStopSignals } from '../stop-signals.js';
import { raisePriorityWhileAttaching } from '../priority.js';
import { startProcessSession, type ProcessRun, type ProcessSession } from '../session/session.js';
import type { SessionOptions } from '../session/session-options.js';
import { reportLines } from './run-report.js';
import { watchSubprocesses } from './subprocesses.js';
import { keepResidentSmall } from './long-running.js';
import { releaseStartupPages } from './startup-pages.js';

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

/** How long a process the targets started that is still starting up is retried. */
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
    if (firstAttach === null) releaseStartupPages();
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
  releaseStartupPages();
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
  const stopKeeping = sessions.length > 0 ? keepResidentSmall() : () => undefined;
  if (sessions.length === 0) {
    removeSignals();
    throw startErrors[0] ?? new MixprofError('NO_SUCH_PROCESS', 'no process to profile', 'pass the PIDs of running processes with -x');
  }

  // --subprocesses: what the targets start, while any session runs.
  const stopWatching = options.subprocesses
    ? watchSubprocesses(options.pids, {
        sessions: () => sessions,
        stopping: () => stopping !== null,
        say,
        start: (pid) => {
          pendingStarts++;
          startWhenReady(pid, { ...sessionOptions, durationSeconds: remaining() }, say, SUBPROCESS_STARTING_WAIT_MS, onAttached)
            .then(track, (error: unknown) => {
              if (isAlive(pid)) say(`mixprof: process ${pid} skipped: ${(error as Error).message}`);
            })
            .finally(() => {
              pendingStarts--;
              checkDone();
            });
        },
      })
    : null;

  const stopTicker = status ? tickStatus(status, () => sessions, () => firstAttach, options.durationSeconds) : null;

  checkDone();
  try {
    await allDone;
  } finally {
    stopWatching?.();
    stopTicker?.();
    stopKeeping();
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

/** PIDs named in a title at most (a forking server's run may have thousands). */
const TITLE_PIDS = 8;

async function writeRuns(runs: readonly ProcessRun[], options: RunOptions, abandon: AbortSignal): Promise<{ path: string | null; profile: OutputProfile }> {
  const started = runs.map((r) => r.startedAt).filter((t): t is number => t !== null);
  const startTime = started.length ? Math.min(...started) : null;
  const endTime = Math.max(...runs.map((r) => (r.startedAt ?? 0) + r.seconds * 1000));
  const first = runs[0]!;
  let profile: OutputProfile = {
    stacks: combineStacks(runs, options.processRoots),
    hz: options.hz,
    startTime,
    durationSeconds: startTime === null ? null : (endTime - startTime) / 1000,
    title: runs.length === 1 ? `${first.comm} (${first.pid})` : `${first.comm} (${runs.length} processes: ${runs.slice(0, TITLE_PIDS).map((r) => r.pid).join(', ')}${runs.length > TITLE_PIDS ? ', ...' : ''})`,
    time: options.mode === 'wall' ? 'wall' : 'cpu',
    binaries: first.binaries,
  };
  const timelines = runs.flatMap((r) => (r.timeline ? [r.timeline] : []));
  if (timelines.length > 0) profile = { ...profile, timeline: combineTimelines(timelines) };
  const data = renderProfile(profile, options.format, { markPython: options.markPython });
  const { path } = await writeProfile(options.output, data, FORMAT_EXTENSION[options.format], { abandon });
  return { path, profile };
}
