/**
 * --async in a session: looks at the process's tasks now and then, and
 * - puts the stacks of the task running at a sample under the tasks that
 *   await it: the frames above its coroutine (the event loop's) give way to
 *   each awaiting task's marker and coroutines, then its own marker;
 * - in wall-clock mode, counts each suspended task's stack (its awaiters',
 *   its marker, its coroutine chain) as many times as a thread is sampled
 *   in the time since the last look: time spent waiting goes to the task
 *   and the line that awaits.
 * A look reads all tasks together, a level of their chains at a time (a few
 * dozen reads however many tasks): looks are spaced so that they take at
 * most 1/LOOK_BUDGET of the time, and come at most LOOK_HZ times a second.
 */
import type { Frame } from '../symbolize/frame.js';
import type { ProcessTasks } from './process-tasks.js';
import { awaiterFrames, type AsyncTask } from './task-tree.js';

/** Looks a second at most, and the share of time they may take (a look of 1 ms waits 100 ms for the next). */
export const LOOK_HZ = 20;
const LOOK_BUDGET = 100;

export interface TaskSink {
  addTaskStack(tid: number | null, frames: readonly Frame[], count: number): void;
  setTaskRoots(reroot: ((frames: readonly Frame[]) => Frame[] | null) | null): void;
}

/** Which task's coroutine a frame is the outermost of: its function and file. */
const coroutineKey = (frame: Frame): string | null => (frame.kind === 'python' && frame.func !== undefined ? `${frame.func}\u0000${frame.file ?? ''}` : null);

/** Outermost coroutine (function and file) to the frames that go above it; kept over looks, so that a task that ended still has its samples placed. */
export type TaskPrefixes = Map<string, { readonly frames: readonly Frame[]; readonly running: boolean }>;

/** More coroutine functions than a program has: past this, what was learnt is let go. */
const MAX_PREFIXES = 10_000;

/**
 * Learns from one look's tasks which frames go above each task's outermost
 * coroutine: its awaiters' markers and coroutines, and its marker. Tasks
 * running the same coroutine function are told apart by which one ran at
 * the look (else the one seen last).
 */
export function learnPrefixes(prefixes: TaskPrefixes, tasks: readonly AsyncTask[]): void {
  if (prefixes.size > MAX_PREFIXES) prefixes.clear();
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const runningKeys = new Set<string>();
  for (const task of tasks) {
    const key = task.frames[0] ? coroutineKey(task.frames[0]) : null;
    if (key === null || (runningKeys.has(key) && !task.running)) continue;
    if (task.running) runningKeys.add(key);
    prefixes.set(key, { frames: awaiterFrames(byId, task), running: task.running });
  }
}

/**
 * The re-rooting of stacks that run a task: a stack (root first) is cut at
 * its first frame that is a task's outermost coroutine, and the frames
 * learnt for it go above; null for a stack that runs no task.
 */
export function rerootWith(prefixes: TaskPrefixes): (frames: readonly Frame[]) => Frame[] | null {
  return (frames) => {
    for (let i = 0; i < frames.length; i++) {
      const key = coroutineKey(frames[i]!);
      const prefix = key === null ? undefined : prefixes.get(key);
      if (prefix) return [...prefix.frames, ...frames.slice(i)];
    }
    return null;
  };
}

export class TaskSampler {
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private lastLook: number | null = null;
  /** Samples owed to the suspended tasks, not yet whole. */
  private carry = 0;
  private readonly prefixes: TaskPrefixes = new Map();
  /** Tasks seen at a look, at most (none: the process used no asyncio task while sampled). */
  seen = 0;
  /** Looks that failed (a torn read throws nothing; an exception is a bug, counted not thrown). */
  failures = 0;

  constructor(
    private readonly tasks: ProcessTasks,
    private readonly sink: TaskSink,
    private readonly options: { readonly hz: number; readonly wall: boolean; readonly now?: () => number },
  ) {}

  start(): void {
    this.look();
  }

  /** Ends the looks, with a last one for the time since the one before. */
  stop(): void {
    if (this.closed) return;
    this.close();
    this.look(false);
  }

  /** Ends the looks (a session that failed: nothing more is counted). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private now(): number {
    return this.options.now ? this.options.now() : performance.now();
  }

  private look(again = true): void {
    const began = this.now();
    try {
      const tasks = this.tasks.read();
      this.seen = Math.max(this.seen, tasks.length);
      learnPrefixes(this.prefixes, tasks);
      if (this.prefixes.size > 0) this.sink.setTaskRoots(rerootWith(this.prefixes));
      if (this.options.wall && this.lastLook !== null) {
        this.carry += ((began - this.lastLook) / 1000) * this.options.hz;
        const count = Math.floor(this.carry);
        this.carry -= count;
        if (count > 0) {
          const byId = new Map(tasks.map((t) => [t.id, t]));
          for (const task of tasks) if (!task.running) this.sink.addTaskStack(task.tid, [...awaiterFrames(byId, task), ...task.frames], count);
        }
      }
    } catch {
      this.failures++;
    }
    this.lastLook = began;
    if (!again || this.closed) return;
    const took = this.now() - began;
    this.timer = setTimeout(() => this.look(), Math.max(1000 / Math.min(LOOK_HZ, this.options.hz), took * LOOK_BUDGET));
    this.timer.unref();
  }
}
