/**
 * Which processes the collector samples in a period: the PIDs given (while
 * they live) and every process whose command line matches the pattern, so
 * that processes started later are picked up. mixprof and what it starts
 * (bpftrace) are never targets.
 */
import { readFileSync } from 'node:fs';
import { descendants, readProcessTable, type ProcessEntry } from '../target/descendants.js';

export interface TargetSelection {
  readonly pids: readonly number[];
  /** Matched against the command line, as `pgrep -f` does. */
  readonly match: RegExp | null;
}

export interface CollectTarget {
  readonly pid: number;
  /** The command line, arguments joined by spaces. */
  readonly cmdline: string;
}

/** The command line of a process, or null once it is gone (or a kernel thread, which has none). */
export function readCmdline(pid: number): string | null {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const text = raw.replace(/\0+$/, '').split('\0').join(' ');
    return text === '' ? null : text;
  } catch {
    return null;
  }
}

export function selectTargets(selection: TargetSelection, self: number, table: readonly ProcessEntry[] = readProcessTable()): CollectTarget[] {
  const own = new Set([self, ...descendants(table, [self]).map((e) => e.pid)]);
  const chosen = new Map<number, CollectTarget>();
  const consider = (pid: number, mustMatch: boolean): void => {
    if (own.has(pid) || chosen.has(pid)) return;
    const cmdline = readCmdline(pid);
    if (cmdline === null) return;
    if (mustMatch && !selection.match!.test(cmdline)) return;
    chosen.set(pid, { pid, cmdline });
  };
  const alive = new Set(table.map((e) => e.pid));
  for (const pid of selection.pids) if (alive.has(pid)) consider(pid, false);
  if (selection.match) for (const entry of table) consider(entry.pid, true);
  return [...chosen.values()].sort((a, b) => a.pid - b.pid);
}
