/**
 * Gives a session's thread roots Python's names for its threads. They are
 * read when the sampler meets a thread not named yet (the threads met in one
 * poll cost one read, of the Thread objects not read before), and once more,
 * of every thread, before the profile is taken: threads renamed since. A
 * thread that ends before the poll after its first sample (a thread per
 * request) keeps the kernel's name.
 */
import type { ThreadNames } from '../python/thread-names.js';
import { hostThreadIds } from '../target/namespaces.js';

/** The new threads of one poll arrive together: one read for all of them. */
const REFRESH_MS = 20;

export class ThreadNaming {
  private readonly unnamed = new Set<number>();
  private lastRead = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly names: ThreadNames,
    private readonly pid: number,
    /** The target is in another PID namespace: its threads know themselves by other ids. */
    private readonly otherNamespace: boolean,
    private readonly apply: (names: ReadonlyMap<number, string>) => void,
  ) {}

  /** The sampler met a thread of the process. */
  onThread(tid: number): void {
    this.unnamed.add(tid);
    if (Date.now() - this.lastRead >= REFRESH_MS) this.refresh(false);
  }

  /** Reads the names if a thread met is still unnamed, or (full) every name again before a profile is taken. */
  refresh(full = true): void {
    if (this.unnamed.size === 0 && !full) return;
    this.lastRead = Date.now();
    const read = this.names.read(full);
    if (!read) return;
    const host = this.otherNamespace ? hostThreadIds(this.pid) : null;
    const byTid = new Map<number, string>();
    for (const [own, name] of read) {
      const tid = host ? host.get(own) : own;
      if (tid === undefined) continue;
      byTid.set(tid, name);
      this.unnamed.delete(tid);
    }
    this.apply(byTid);
  }
}
