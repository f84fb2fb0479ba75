/**
 * `mixprof collect`: every interval, sample the selected processes for a
 * while, all at once, and store each one's profile with its time, process
 * name, PID, host and Python version; optionally push it to Pyroscope too.
 * Each hour's profiles are added up into roll-ups as the hour ends; old
 * profiles are compacted and, past the retention, deleted.
 *
 * Each period is a sampling run of its own (attach, sample, detach), so a
 * period's failure (a process exiting, a refused attach) costs that period
 * only. Continuous collection (periods back to back) keeps each process's
 * session open instead and takes each period's counts from it: no gap
 * between periods, and no attaching again. A profile is stored in one
 * transaction: a collector killed mid-write loses that profile and nothing else.
 */
import { hostname } from 'node:os';
import { isMixprofError } from '../errors.js';
import type { StackCount } from '../profile/profile.js';
import type { Frame } from '../symbolize/frame.js';
import { pushProfile, type PushTarget } from '../push/pyroscope.js';
import { startProcessSession, type ProcessRun, type ProcessSession } from '../session/session.js';
import type { SessionOptions } from '../session/session-options.js';
import type { ProfileStore, StoredStack } from '../store/profile-store.js';
import { selectTargets, type CollectTarget, type TargetSelection } from './targets.js';

export interface CollectOptions {
  readonly selection: TargetSelection;
  /** Seconds sampled per period, and from one period's start to the next (equal: continuous). */
  readonly durationSeconds: number;
  readonly intervalSeconds: number;
  /** Periods to run; null runs until stopped. */
  readonly periods: number | null;
  readonly session: Omit<SessionOptions, 'durationSeconds' | 'threadRoots' | 'quiet'>;
  readonly store: ProfileStore;
  /** Profiles older than this (ms) are deleted. */
  readonly retainMs: number;
  readonly push: PushTarget | null;
  readonly log: (line: string) => void;
  readonly quiet: boolean;
  /** Periods back to back from sessions kept open (intervalSeconds equals durationSeconds). */
  readonly continuous?: boolean;
}

/** A process sampled across periods (continuous collection). */
interface OpenSession {
  readonly target: CollectTarget;
  readonly session: ProcessSession;
  /** When the counts not yet stored began: attach, then each period's end. */
  since: number;
  /** Set once the session has ended (the process exited, the sampler failed). */
  run: ProcessRun | null;
}

/** Profiles older than a day are merged into one per hour and process. */
const COMPACT_AFTER_MS = 86_400_000;
const COMPACT_SPAN_MS = 3_600_000;
/** Retention and compaction run at most this often. */
const HOUSEKEEPING_MS = 600_000;
/** Frames and stacks no longer used are deleted this often (it reads every profile). */
const GARBAGE_MS = 86_400_000;

/**
 * A thread root as the builder writes it: "name (tid)". The name is the
 * thread's to choose (prctl, /proc/self/task/TID/comm): any character, a
 * newline too (hence the s flag), and the label is kept whole.
 */
const THREAD_ROOT = /^.* \(\d+\)$/s;

export class Collector {
  private stopped = false;
  /** The sessions of the period under way (periods of their own). */
  private current: ProcessSession[] = [];
  /** The sessions kept open across periods (continuous), by PID. */
  private readonly open = new Map<number, OpenSession>();
  private wake: () => void = () => undefined;
  private lastHousekeeping = 0;
  /** Pushes under way: run() waits for them before it returns. */
  private readonly pushes = new Set<Promise<void>>();
  private lastGarbage = Date.now();
  private readonly host = hostname();

  constructor(private readonly options: CollectOptions) {}

  /** Ends the period under way early (its samples are stored) and then the collector. */
  stop(): void {
    this.stopped = true;
    for (const session of this.current) session.stop('interrupted');
    for (const o of this.open.values()) o.session.stop('interrupted');
    this.wake();
  }

  async run(): Promise<void> {
    if (this.options.continuous) await this.runContinuous();
    else await this.runPeriods();
    await Promise.all(this.pushes);
  }

  private async runPeriods(): Promise<void> {
    const { options } = this;
    let quietSince: number | null = null;
    for (let period = 0; !this.stopped && (options.periods === null || period < options.periods); period++) {
      const start = Date.now();
      const targets = selectTargets(options.selection, process.pid);
      if (targets.length === 0) {
        if (quietSince === null && !options.quiet) options.log('mixprof: no process to collect from yet; looking again every interval');
        quietSince ??= start;
      } else {
        quietSince = null;
        await this.collectPeriod(targets);
      }
      this.housekeeping();
      if (this.stopped || (options.periods !== null && period + 1 >= options.periods)) break;
      await this.sleepUntil(start + options.intervalSeconds * 1000);
    }
  }

  private async runContinuous(): Promise<void> {
    const { options } = this;
    const say = options.quiet ? () => undefined : options.log;
    const open = this.open;
    let quietSince: number | null = null;
    for (let period = 0; !this.stopped && (options.periods === null || period < options.periods); period++) {
      const targets = selectTargets(options.selection, process.pid).filter((t) => !open.has(t.pid));
      await Promise.all(targets.map((target) => this.openSession(target)));
      // After attaching: a new process's first period is a whole one.
      const start = Date.now();
      if (open.size === 0) {
        if (quietSince === null && !options.quiet) say('mixprof: no process to collect from yet; looking again every interval');
        quietSince ??= start;
      } else quietSince = null;
      await this.sleepUntil(start + options.durationSeconds * 1000);
      if (this.stopped || (options.periods !== null && period + 1 >= options.periods)) break;
      this.storeOpen(false);
      this.housekeeping();
    }
    // The last period: every session ends, and what it counted since the last period is stored.
    for (const o of open.values()) o.session.stop('interrupted');
    await Promise.all([...open.values()].map((o) => o.session.done.catch(() => undefined)));
    this.storeOpen(true);
    this.housekeeping();
  }

  private async openSession(target: CollectTarget): Promise<void> {
    const say = this.options.quiet ? () => undefined : this.options.log;
    try {
      let attached: () => void = () => undefined;
      const attaching = new Promise<void>((resolve) => (attached = resolve));
      const session = await startProcessSession(target.pid, { ...this.options.session, durationSeconds: null, threadRoots: true, quiet: true }, () => undefined, { onAttached: () => attached() });
      // Counting starts once the probes are attached (or the session has ended trying).
      await Promise.race([attaching, session.done.then(() => undefined, () => undefined)]);
      const o: OpenSession = { target, session, since: Date.now(), run: null };
      this.open.set(target.pid, o);
      if (this.stopped) session.stop('interrupted');
      session.done.then(
        (run) => {
          o.run = run;
        },
        (error: unknown) => {
          say(`mixprof: process ${target.pid} could not be sampled: ${messageOf(error)}`);
          this.open.delete(target.pid);
        },
      );
    } catch (error) {
      say(`mixprof: process ${target.pid} skipped: ${messageOf(error)}`);
    }
  }

  /** Stores each open session's counts since its last period; sessions that ended (or all, at the end) are let go. */
  private storeOpen(last: boolean): void {
    const say = this.options.quiet ? () => undefined : this.options.log;
    const open = this.open;
    const now = Date.now();
    const processes = open.size;
    let stored = 0;
    let samples = 0;
    for (const [pid, o] of open) {
      // An ended session's last profile holds the counts since its last drain.
      const profile = o.run ? o.run.profile : o.session.drain();
      const since = o.since;
      o.since = now;
      if (o.run || last) open.delete(pid);
      if (profile.stats.samples === 0) continue;
      const endMs = o.run && o.run.startedAt !== null ? Math.min(now, o.run.startedAt + o.run.seconds * 1000) : now;
      this.store(o.target, { pid: o.session.pid, comm: o.session.comm, pythonVersion: o.session.pythonVersion }, profile.stacks, profile.stats.lostEvents, since, Math.max(since, endMs));
      stored++;
      samples += profile.stats.samples;
    }
    say(`mixprof: ${new Date(now).toISOString()} stored ${stored} profile${stored === 1 ? '' : 's'} (${samples} samples) of ${processes} process${processes === 1 ? '' : 'es'}`);
  }

  private async collectPeriod(targets: readonly CollectTarget[]): Promise<void> {
    const { options } = this;
    const say = options.quiet ? () => undefined : options.log;
    const started = await Promise.all(
      targets.map(async (target) => {
        try {
          const session = await startProcessSession(target.pid, { ...options.session, durationSeconds: options.durationSeconds, threadRoots: true, quiet: true }, () => undefined);
          this.current.push(session);
          if (this.stopped) session.stop('interrupted');
          return { target, session };
        } catch (error) {
          say(`mixprof: process ${target.pid} skipped this period: ${messageOf(error)}`);
          return null;
        }
      }),
    );
    let stored = 0;
    let samples = 0;
    for (const entry of started) {
      if (!entry) continue;
      let run: ProcessRun;
      try {
        run = await entry.session.done;
      } catch (error) {
        say(`mixprof: process ${entry.target.pid} skipped this period: ${messageOf(error)}`);
        continue;
      }
      if (run.startedAt === null || run.profile.stats.samples === 0) continue;
      this.store(entry.target, run, run.profile.stacks, run.profile.stats.lostEvents, run.startedAt, run.startedAt + run.seconds * 1000);
      stored++;
      samples += run.profile.stats.samples;
    }
    this.current = [];
    say(`mixprof: ${new Date().toISOString()} stored ${stored} profile${stored === 1 ? '' : 's'} (${samples} samples) of ${targets.length} process${targets.length === 1 ? '' : 'es'}`);
  }

  /** One profile into the store, and to Pyroscope with --push (in the background: a slow server does not hold up the periods). */
  private store(target: CollectTarget, process: { readonly pid: number; readonly comm: string; readonly pythonVersion: string | null }, stacks: readonly StackCount[], lostEvents: number, startMs: number, endMs: number): void {
    const { options } = this;
    const record = {
      process: { host: this.host, pid: process.pid, name: process.comm, cmdline: target.cmdline, python: process.pythonVersion },
      startMs,
      endMs,
      hz: options.session.hz,
      mode: options.session.mode === 'wall' ? ('wall' as const) : ('cpu' as const),
      lostEvents,
      stacks: stacks.map(splitThread),
    };
    options.store.add(record);
    if (!options.push) return;
    const push = pushProfile(options.push, {
      processName: process.comm,
      labels: { host: this.host, pid: String(process.pid), ...(process.pythonVersion ? { python: process.pythonVersion } : {}) },
      startMs,
      endMs,
      hz: record.hz,
      mode: record.mode,
      stacks: record.stacks.map((s): StackCount => ({ frames: s.frames, count: s.count })),
    }).then((failure) => {
      if (failure && !options.quiet) options.log(`mixprof: push of process ${process.pid}'s profile failed: ${failure}`);
    });
    this.pushes.add(push);
    void push.finally(() => this.pushes.delete(push));
  }

  private housekeeping(): void {
    const now = Date.now();
    if (now - this.lastHousekeeping < HOUSEKEEPING_MS) return;
    this.lastHousekeeping = now;
    this.options.store.deleteBefore(now - this.options.retainMs);
    this.options.store.compact(now - COMPACT_AFTER_MS, COMPACT_SPAN_MS);
    // Hours that ended a period ago or more: their last profiles are stored.
    this.options.store.rollUp(now - this.options.intervalSeconds * 1000 - this.options.durationSeconds * 1000);
    if (now - this.lastGarbage >= GARBAGE_MS) {
      this.lastGarbage = now;
      this.options.store.collectGarbage();
    }
  }

  private sleepUntil(time: number): Promise<void> {
    const ms = time - Date.now();
    if (ms <= 0 || this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** The builder's thread root, as the store keeps it: apart from the frames. */
export function splitThread(stack: StackCount): StoredStack {
  const [first, ...rest] = stack.frames;
  if (first && first.kind === 'marker' && THREAD_ROOT.test(first.name)) return { thread: first.name, frames: rest as Frame[], count: stack.count };
  return { thread: null, frames: stack.frames, count: stack.count };
}

function messageOf(error: unknown): string {
  return isMixprofError(error) || error instanceof Error ? error.message : String(error);
}
