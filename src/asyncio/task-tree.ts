/**
 * Tasks with named frames, and where each one goes in a stack: under the
 * task awaiting it, marked with its name. A task's path runs from the root
 * task (the one nothing awaits, usually asyncio.run's) down to it: each
 * task on the way gives its marker, "[task NAME]", and its coroutine chain,
 * so a folded stack reads main's coroutine, [task worker-1], the worker's
 * own coroutines. Tasks asyncio named ("Task-N") are marked [task Task-*]:
 * a server's one task per connection adds up to one stack, not thousands.
 */
import type { CodeObjectReader } from '../python/code-objects.js';
import type { Frame } from '../symbolize/frame.js';
import { pythonFrame, UNKNOWN_PYTHON_FRAME, type ShowPath } from '../symbolize/python-names.js';
import type { RawTask } from './task-graph.js';

/** A task as shown: its raw record (task-graph.ts) with its frames named and its thread as a tid. */
export interface AsyncTask extends Omit<RawTask, 'address' | 'frames' | 'thread'> {
  readonly id: bigint;
  /** Its coroutine chain, outermost first. */
  readonly frames: readonly Frame[];
  /** The thread whose loop runs it, when known. */
  readonly tid: number | null;
}

/** Deeper awaiter chains than this are cut (a cycle read from a torn graph cannot loop). */
const MAX_NESTING = 64;

/** The name a profile marks a task with. */
export const AUTO_NAMED = 'Task-*';

export function taskMarker(task: Pick<AsyncTask, 'name' | 'autoNamed'>): Frame {
  return { kind: 'marker', name: `[task ${task.autoNamed ? AUTO_NAMED : task.name}]` };
}

/** Names the tasks' frames; a task's thread by its tid, or through its pthread ident (tids by ident, before 3.14). */
export function nameTasks(raw: readonly RawTask[], reader: CodeObjectReader, showPath: ShowPath, tidOfIdent: ReadonlyMap<bigint, number> | null, named?: Map<string, Frame>): AsyncTask[] {
  reader.prefetch(raw.flatMap((t) => t.frames.map((f) => f.code)));
  return raw.map((task) => {
    const frames: Frame[] = [];
    for (const frame of task.frames) {
      // A frame named at an earlier look (the same code, instruction and first line) is the same frame.
      const key = `${frame.code}:${frame.instr}:${frame.firstLineNo}`;
      const known = named?.get(key);
      if (known) {
        frames.push(known);
        continue;
      }
      const resolved = reader.resolve(frame);
      if (resolved.status === 'ok') {
        const shown = pythonFrame(resolved, showPath);
        named?.set(key, shown);
        frames.push(shown);
      } else if (resolved.status === 'unknown') frames.push({ kind: 'python', name: UNKNOWN_PYTHON_FRAME });
    }
    const thread = task.thread;
    const tid = thread === null ? null : 'tid' in thread ? thread.tid : (tidOfIdent?.get(thread.ident) ?? null);
    return { id: task.address, name: task.name, autoNamed: task.autoNamed, awaitedBy: task.awaitedBy, frames, running: task.running, tid };
  });
}

/** The tasks from the root down to task (each task's first awaiter), root first. */
export function awaiterLine(byId: ReadonlyMap<bigint, AsyncTask>, task: AsyncTask): AsyncTask[] {
  const line = [task];
  const seen = new Set([task.id]);
  for (let parent = byId.get(task.awaitedBy[0] ?? -1n); parent && !seen.has(parent.id) && line.length < MAX_NESTING; parent = byId.get(parent.awaitedBy[0] ?? -1n)) {
    line.unshift(parent);
    seen.add(parent.id);
  }
  return line;
}

/** The frames above a task's own coroutines, root first: each awaiting task's marker and coroutines, then the task's marker. */
export function awaiterFrames(byId: ReadonlyMap<bigint, AsyncTask>, task: AsyncTask): Frame[] {
  const line = awaiterLine(byId, task);
  return [...line.slice(0, -1).flatMap((t) => [taskMarker(t), ...t.frames]), taskMarker(task)];
}

export interface TaskNode {
  readonly task: AsyncTask;
  readonly children: readonly TaskNode[];
}

/** The tasks as a forest: each under its first awaiter; roots (nothing awaits them, or a cycle) in the order given. */
export function taskForest(tasks: readonly AsyncTask[]): TaskNode[] {
  const byId = new Map(tasks.map((t) => [t.id, t]));
  const children = new Map<bigint, AsyncTask[]>();
  const roots: AsyncTask[] = [];
  for (const task of tasks) {
    const line = awaiterLine(byId, task);
    const parent = line.length > 1 ? line[line.length - 2]! : null;
    if (parent) children.set(parent.id, [...(children.get(parent.id) ?? []), task]);
    else roots.push(task);
  }
  const placed = new Set<bigint>();
  const build = (task: AsyncTask): TaskNode => {
    placed.add(task.id);
    return { task, children: (children.get(task.id) ?? []).filter((child) => !placed.has(child.id)).map(build) };
  };
  const forest = roots.map(build);
  // Tasks whose awaiters form a loop (a torn read) hang from nothing: each such loop is shown from one of its tasks.
  for (const task of tasks) if (!placed.has(task.id)) forest.push(build(task));
  return forest;
}
