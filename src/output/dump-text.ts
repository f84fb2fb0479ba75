/**
 * A dump (src/dump/) as text to read, innermost frame first under each
 * thread as py-spy's dump prints it, and as JSON for tools. Native frames
 * say their module, kernel frames say [kernel]; names chosen by the target
 * are escaped in the text (terminal-text.ts), kept exact in the JSON.
 */
import path from 'node:path';
import { taskForest, type AsyncTask, type TaskNode } from '../asyncio/task-tree.js';
import type { LocalsMissing, ProcessDump, ThreadDump } from '../profile/thread-dump.js';
import type { LocalVariable } from '../python/locals.js';
import { WAIT_WORDS } from '../profile/waits.js';
import type { Frame } from '../symbolize/frame.js';
import { terminalText } from './terminal-text.js';

const GIL_WORDS = { held: 'holds the GIL', released: 'GIL released', 'no-thread': 'no Python thread state' } as const;

function frameLine(frame: Frame): string {
  if (frame.kind === 'kernel') return `${frame.name} [kernel]`;
  if (frame.kind === 'native' && frame.file) return `${frame.name} (${path.basename(frame.file)})`;
  return frame.name;
}

/** "waiting for a lock in futex_do_wait (futex)", "running (in read)", "waiting for a CPU". */
export function stateWords(thread: ThreadDump): string {
  const call = thread.syscall === null ? '' : thread.syscall;
  switch (thread.state) {
    case 'waiting': {
      const what = thread.waitingFor === null ? 'waiting' : WAIT_WORDS[thread.waitingFor];
      return thread.waitingIn === null ? what : `${what} in ${thread.waitingIn}${call && call !== thread.waitingIn ? ` (${call})` : ''}`;
    }
    case 'runnable':
      return `waiting for a CPU${call ? ` (in ${call})` : ''}`;
    default:
      return `running${call ? ` (in ${call})` : ''}`;
  }
}

function threadHeading(thread: ThreadDump): string {
  const name = thread.name ?? thread.comm;
  const parts = [stateWords(thread)];
  if (thread.gil !== null) parts.push(GIL_WORDS[thread.gil]);
  return `Thread ${thread.tid} "${name}": ${parts.join(', ')}`;
}

const MISSING_WORDS: Readonly<Record<Exclude<LocalsMissing, 'not-python'>, string>> = {
  'moved-on': 'the thread ran on before they were read',
  'no-offsets': "the interpreter's offsets do not say where they are (pass its debug file with -d)",
  'no-thread-state': "the thread's state was not found",
};

/** As py-spy's dump --locals lists them: arguments, then the other variables. */
function variableLines(variables: readonly LocalVariable[]): string[] {
  const lines: string[] = [];
  for (const [title, wanted] of [
    ['Arguments:', true],
    ['Locals:', false],
  ] as const) {
    const some = variables.filter((v) => v.argument === wanted);
    if (some.length === 0) continue;
    lines.push(`        ${title}`);
    for (const v of some) lines.push(`            ${v.name}: ${v.value}`);
  }
  return lines;
}

/** The task tree: each task under the one awaiting it, its coroutines outermost first below its line. */
function taskLines(tasks: ProcessDump['tasks']): string[] {
  if (tasks === undefined) return [];
  if ('problem' in tasks) return ['', `asyncio tasks: none shown (${tasks.problem})`];
  if (tasks.length === 0) return ['', 'asyncio tasks: none'];
  const lines = ['', `asyncio tasks (${tasks.length}), each under the task awaiting it, its coroutines outermost first:`];
  const walk = (node: TaskNode, depth: number): void => {
    const indent = '    '.repeat(depth + 1);
    const { task } = node;
    lines.push(`${indent}[task ${task.name}] ${task.running ? 'running' : 'waiting'}${task.tid === null ? '' : ` in thread ${task.tid}`}`);
    for (const frame of task.frames) lines.push(`${indent}    ${frameLine(frame)}`);
    for (const child of node.children) walk(child, depth + 1);
  };
  for (const root of taskForest(tasks as readonly AsyncTask[])) walk(root, 0);
  return lines;
}

export function dumpText(dumps: readonly ProcessDump[]): string {
  const lines: string[] = [];
  for (const dump of dumps) {
    if (lines.length > 0) lines.push('');
    lines.push(`Process ${dump.pid} (${dump.comm})${dump.python ? `: Python ${dump.python}` : ''}, ${dump.threads.length} thread${dump.threads.length === 1 ? '' : 's'}`);
    for (const thread of dump.threads) {
      lines.push('', threadHeading(thread));
      const locals = thread.locals && 'frames' in thread.locals ? thread.locals.frames : null;
      if (thread.locals && 'missing' in thread.locals && thread.locals.missing !== 'not-python') lines.push(`    (variables not shown: ${MISSING_WORDS[thread.locals.missing]})`);
      let python = 0;
      for (const frame of thread.frames) {
        lines.push(`    ${frameLine(frame)}`);
        if (frame.kind !== 'python' || !locals) continue;
        lines.push(...variableLines(locals[python++] ?? []));
      }
    }
    lines.push(...taskLines(dump.tasks));
  }
  return lines.map(terminalText).join('\n') + '\n';
}

function frameJson(frame: Frame): Record<string, string | number> {
  return {
    kind: frame.kind,
    name: frame.name,
    ...(frame.func !== undefined ? { function: frame.func } : {}),
    ...(frame.file !== undefined ? { [frame.kind === 'python' ? 'file' : 'module']: frame.file } : {}),
    ...(frame.line !== undefined ? { line: frame.line } : {}),
  };
}

/** Each Python frame with its variables (innermost first, as the frames are). */
function framesJson(t: ThreadDump): Record<string, unknown>[] {
  const locals = t.locals && 'frames' in t.locals ? t.locals.frames : null;
  let python = 0;
  return t.frames.map((frame) => {
    const json: Record<string, unknown> = frameJson(frame);
    if (frame.kind === 'python' && locals) json['locals'] = (locals[python++] ?? []).map((v) => ({ name: v.name, value: v.value, argument: v.argument }));
    return json;
  });
}

function tasksJson(tasks: ProcessDump['tasks']): Record<string, unknown> {
  if (tasks === undefined) return {};
  if ('problem' in tasks) return { tasks_missing: tasks.problem };
  const id = (address: bigint): string => `0x${address.toString(16)}`;
  return {
    tasks: (tasks as readonly AsyncTask[]).map((t) => ({
      id: id(t.id),
      name: t.name,
      state: t.running ? 'running' : 'waiting',
      thread: t.tid,
      awaited_by: t.awaitedBy.map(id),
      frames: t.frames.map(frameJson),
    })),
  };
}

export function dumpJson(dumps: readonly ProcessDump[]): string {
  const processes = dumps.map((dump) => ({
    pid: dump.pid,
    comm: dump.comm,
    python: dump.python,
    threads: dump.threads.map((t) => ({
      tid: t.tid,
      name: t.name,
      comm: t.comm,
      gil: t.gil,
      state: t.state,
      syscall: t.syscall,
      waiting_in: t.waitingIn,
      waiting_for: t.waitingFor,
      ...(t.locals && 'missing' in t.locals ? { locals_missing: t.locals.missing } : {}),
      frames: framesJson(t),
    })),
    ...tasksJson(dump.tasks),
  }));
  return JSON.stringify({ processes }, null, 2) + '\n';
}
