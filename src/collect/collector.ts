/**
 * `mixprof collect`: every interval, sample the selected processes for a
 * while, all at once, and store each one's profile with its time, process
 * name, PID, host and Python version; optionally push it to Pyroscope too.
 * Each hour's profiles are added up into roll-ups as the hour ends; old
 * profiles are compacted and, past the retention, deleted.
 *
 * Each period is a sampling run of its own (attach, sample, detach), so a
 * period's failure (a process exiting, a refused attach) costs that period
 * only. A profile is stored in one transaction: a collector killed mid-write
 * loses that profile and nothing else.
 */
import { hostname } from 'node:os';
import { isMixprofError } from '../errors.js';
import type { StackCount } from '../profile/profile.js';
import type { Frame } from '../profile/types.js';
import { pushProfile, type PushTarget } from '../push/pyroscope.js';
import { startProcessSession, type ProcessRun, type ProcessSession, type SessionOptions } from '../sample/session.js';
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
}

/** Profiles older than a day are merged into one per hour and process. */
const COMPACT_AFTER_MS = 86_400_000;
const COMPACT_SPAN_MS = 3_600_000;
/** Retention and compaction run at most this often. */
const HOUSEKEEPING_MS = 600_000;
/** Frames and stacks no longer used are deleted this often (it reads every profile). */
const GARBAGE_MS = 86_400_000;

/** A thread root as the builder writes it: "name (tid)". */
const THREAD_ROOT = /^.* \(\d+\)$/;

export class Collector {
  private stopped = false;
  private current: ProcessSession[] = [];
  private wake: () => void = () => undefined;
  private lastHousekeeping = 0;
  private lastGarbage = Date.now();
  private readonly host = hostname();

  constructor(private readonly options: CollectOptions) {}

  /** Ends the period under way early (its samples are stored) and then the collector. */
  stop(): void {
    this.stopped = true;
    for (const session of this.current) session.stop('interrupted');
    this.wake();
  }

  async run(): Promise<void> {
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
      const record = {
        process: { host: this.host, pid: run.pid, name: run.comm, cmdline: entry.target.cmdline, python: run.pythonVersion },
        startMs: run.startedAt,
        endMs: run.startedAt + run.seconds * 1000,
        hz: options.session.hz,
        mode: options.session.mode === 'wall' ? ('wall' as const) : ('cpu' as const),
        lostEvents: run.profile.stats.lostEvents,
        stacks: run.profile.stacks.map(splitThread),
      };
      options.store.add(record);
      stored++;
      samples += run.profile.stats.samples;
      if (options.push) {
        const failure = await pushProfile(options.push, {
          processName: run.comm,
          labels: { host: this.host, pid: String(run.pid), ...(run.pythonVersion ? { python: run.pythonVersion } : {}) },
          startMs: record.startMs,
          endMs: record.endMs,
          hz: record.hz,
          mode: record.mode,
          stacks: record.stacks.map((s): StackCount => ({ frames: s.frames, count: s.count })),
        });
        if (failure) say(`mixprof: push of process ${run.pid}'s profile failed: ${failure}`);
      }
    }
    this.current = [];
    say(`mixprof: ${new Date().toISOString()} stored ${stored} profile${stored === 1 ? '' : 's'} (${samples} samples) of ${targets.length} process${targets.length === 1 ? '' : 'es'}`);
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
function splitThread(stack: StackCount): StoredStack {
  const [first, ...rest] = stack.frames;
  if (first && first.kind === 'marker' && THREAD_ROOT.test(first.name)) return { thread: first.name, frames: rest as Frame[], count: stack.count };
  return { thread: null, frames: stack.frames, count: stack.count };
}

function messageOf(error: unknown): string {
  return isMixprofError(error) || error instanceof Error ? error.message : String(error);
}
