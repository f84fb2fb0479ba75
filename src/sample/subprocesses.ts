/**
 * --subprocesses: the processes the targets start. One forked (not exec'd)
 * before its parent's sampler started is followed by that sampler from now
 * on; one that runs a CPython interpreter otherwise gets a session of its
 * own. Looked for every SCAN_MS while the run samples: a new descendant is
 * started on its second look (see DescendantWatcher).
 */
import { nativeAddon } from '../native.js';
import type { ProcessSession } from '../session/session.js';
import { DescendantWatcher, descendants, readProcessTable, type ProcessEntry } from '../target/descendants.js';
import { mapsInterpreter } from '../target/interpreter.js';

const SCAN_MS = 200;

export interface SubprocessRun {
  /** The sessions running, targets' and descendants'. */
  sessions(): readonly ProcessSession[];
  stopping(): boolean;
  say(line: string): void;
  /** Starts a session of its own for a descendant. */
  start(pid: number): void;
}

/** Starts watching; returns what stops it. */
export function watchSubprocesses(targets: readonly number[], run: SubprocessRun): () => void {
  // Followed by the sampler of the process it was forked from, when that one samples forks.
  const adopted = (entry: ProcessEntry): boolean => {
    const parent = run.sessions().find((s) => s.pid === entry.ppid || s.follows(entry.ppid));
    return parent?.adopt(entry.pid, entry.ppid) ?? false;
  };
  if (!run.stopping()) {
    try {
      for (const entry of descendants(readProcessTable(), targets)) {
        if (adopted(entry)) run.say(`mixprof: following process ${entry.pid}, forked from ${entry.ppid} before sampling started`);
      }
    } catch {
      // The periodic scan below looks again.
    }
  }
  const watcher = new DescendantWatcher(targets);
  const scanner = setInterval(() => {
    if (run.stopping()) return;
    let table;
    try {
      table = readProcessTable();
    } catch {
      return;
    }
    for (const entry of watcher.scan(table)) {
      // Sampled already, forked from a target; looked at again should it exec another program.
      if (run.sessions().some((s) => s.follows(entry.pid)) || adopted(entry)) {
        watcher.release(entry);
        continue;
      }
      // Worth profiling: it has mapped a CPython interpreter.
      if (mapsInterpreter(nativeAddon(), entry.pid)) run.start(entry.pid);
    }
  }, SCAN_MS);
  return () => clearInterval(scanner);
}
