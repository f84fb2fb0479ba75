/**
 * Gives a profile's thread roots Python's names for its threads. They are
 * read when the sampler meets a thread not named yet (the threads met in one
 * poll cost one read, of the Thread objects not read before), and once more,
 * of every thread, before the profile is taken: threads renamed since. A
 * thread that ends before the poll after its first sample (a thread per
 * request) keeps the kernel's name.
 */
import { ThreadNames } from '../python/thread-names.js';
import type { MemoryReader } from '../target/memory.js';
import { hostThreadIds, inOtherPidNamespace } from '../target/namespaces.js';
import { threadIds } from '../target/process.js';
import type { PythonLayout } from '../python/layout.js';

/** The new threads of one poll arrive together: one read for all of them. */
const REFRESH_MS = 20;

export class ThreadNaming {
  private readonly unnamed = new Set<number>();
  private lastRead = Number.NEGATIVE_INFINITY;
  /** The names the last read found, threads met or not: a thread met just after the read is named from them. */
  private lastNames: ReadonlyMap<number, string> = new Map();

  constructor(
    private readonly names: Pick<ThreadNames, 'read'>,
    private readonly pid: number,
    /** The target is in another PID namespace: its threads know themselves by other ids. */
    private readonly otherNamespace: boolean,
    private readonly apply: (names: ReadonlyMap<number, string>) => void,
  ) {}

  /** The sampler met a thread of the process. */
  onThread(tid: number): void {
    // Read a moment ago with the poll's first thread, before this one was met: named now, not at the next read.
    const known = this.lastNames.get(tid);
    if (known !== undefined) {
      this.apply(new Map([[tid, known]]));
      return;
    }
    this.unnamed.add(tid);
    if (Date.now() - this.lastRead >= REFRESH_MS) this.refresh(false);
  }

  /** Reads the names if a thread met is still unnamed, or (full) every name again before a profile is taken. */
  refresh(full = true): void {
    if (this.unnamed.size === 0 && !full) return;
    this.lastRead = Date.now();
    const read = this.names.read(full);
    if (!read) return;
    // The process's threads now, by the ids they know themselves by.
    const live = this.otherNamespace ? hostThreadIds(this.pid) : new Map(threadIds(this.pid).map((tid) => [tid, tid]));
    const byTid = new Map<number, string>();
    const stale: string[] = [];
    for (const [own, name] of read) {
      const tid = live.get(own);
      if (tid === undefined) stale.push(name);
      else byTid.set(tid, name);
    }
    // Before 3.13 a forked child's threading keeps its parent's id in the
    // _native_id of the thread that forked, which is the child's main thread.
    if (stale.length === 1 && !byTid.has(this.pid) && live.size > 0) byTid.set(this.pid, stale[0]!);
    for (const tid of byTid.keys()) this.unnamed.delete(tid);
    this.lastNames = byTid;
    this.apply(byTid);
  }
}

/**
 * The naming of a process's threads, when Python was found in it
 * (a forked process's is its parent's, read through its own memory: its
 * threads are its own).
 */
export function threadNamingFor(
  attached: { readonly layout: PythonLayout | null; readonly interpreter: { readonly runtimeAddress: bigint } | null },
  memory: MemoryReader,
  pid: number,
  builder: { nameThreads(names: ReadonlyMap<number, string>): void },
): ThreadNaming | null {
  const { layout, interpreter } = attached;
  if (!layout || !interpreter) return null;
  return new ThreadNaming(new ThreadNames(memory, layout, interpreter.runtimeAddress), pid, inOtherPidNamespace(pid), (names) => builder.nameThreads(names));
}
