/**
 * Finds the processes a target starts (multiprocessing workers, gunicorn
 * workers) by scanning /proc for descendants, for --subprocesses. A process
 * is identified by PID and start time, so a reused PID is a new process.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { splitStat } from './proc-stat.js';

export interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  /** Start time in clock ticks since boot (field 22 of /proc/PID/stat). */
  readonly start: number;
}

/** Parses /proc/PID/stat; the comm field may hold spaces and parentheses. */
export function parseStat(pid: number, text: string): ProcessEntry | null {
  const stat = splitStat(text);
  if (!stat) return null;
  const { fields } = stat;
  const ppid = Number(fields[1]);
  const start = Number(fields[19]);
  return Number.isInteger(ppid) && Number.isFinite(start) ? { pid, ppid, start } : null;
}

export function readProcessTable(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const entry = parseStat(Number(name), readFileSync(`/proc/${name}/stat`, 'utf8'));
      if (entry) entries.push(entry);
    } catch {
      // Exited while listed.
    }
  }
  return entries;
}

/** Every process below the roots, in the table given. */
export function descendants(table: readonly ProcessEntry[], roots: Iterable<number>): ProcessEntry[] {
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of table) {
    const list = children.get(entry.ppid);
    if (list) list.push(entry);
    else children.set(entry.ppid, [entry]);
  }
  const found: ProcessEntry[] = [];
  const queue = [...roots];
  const seen = new Set(queue);
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      if (seen.has(child.pid)) continue;
      seen.add(child.pid);
      found.push(child);
      queue.push(child.pid);
    }
  }
  return found;
}

/**
 * Names each new descendant of the roots once, on the second scan that sees
 * it: a fork that execs at once (subprocess.Popen) is then past its exec.
 */
export class DescendantWatcher {
  private readonly seen = new Set<string>();
  private readonly reported = new Set<string>();

  constructor(private readonly roots: readonly number[]) {}

  /** Looks at a descendant again from scratch (one that another sampler follows until it execs). */
  release(entry: ProcessEntry): void {
    const id = `${entry.pid}:${entry.start}`;
    this.reported.delete(id);
    this.seen.delete(id);
  }

  scan(table: readonly ProcessEntry[]): ProcessEntry[] {
    const ready: ProcessEntry[] = [];
    // Below a worker whose parent has exited, its children hang off init: those are not followed.
    for (const entry of descendants(table, this.roots)) {
      const id = `${entry.pid}:${entry.start}`;
      if (this.reported.has(id)) continue;
      if (this.seen.has(id)) {
        this.reported.add(id);
        ready.push(entry);
      } else {
        this.seen.add(id);
      }
    }
    return ready;
  }
}
