/**
 * A dump (src/dump/) as text to read, innermost frame first under each
 * thread as py-spy's dump prints it, and as JSON for tools. Native frames
 * say their module, kernel frames say [kernel]; names chosen by the target
 * are escaped in the text (terminal-text.ts), kept exact in the JSON.
 */
import path from 'node:path';
import type { ProcessDump, ThreadDump } from '../profile/thread-dump.js';
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

export function dumpText(dumps: readonly ProcessDump[]): string {
  const lines: string[] = [];
  for (const dump of dumps) {
    if (lines.length > 0) lines.push('');
    lines.push(`Process ${dump.pid} (${dump.comm})${dump.python ? `: Python ${dump.python}` : ''}, ${dump.threads.length} thread${dump.threads.length === 1 ? '' : 's'}`);
    for (const thread of dump.threads) {
      lines.push('', threadHeading(thread));
      for (const frame of thread.frames) lines.push(`    ${frameLine(frame)}`);
    }
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
      frames: t.frames.map(frameJson),
    })),
  }));
  return JSON.stringify({ processes }, null, 2) + '\n';
}
