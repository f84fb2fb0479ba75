/**
 * Counts over the last N seconds, from the cumulative profiles a running
 * session gives: one snapshot is kept per refresh, and the window is the
 * newest less the newest one at least N seconds older. Merged stacks are
 * stable while sampling goes on and their counts only grow, so stack by
 * stack subtraction is exact. `reset()` starts counting again from now;
 * with no window (cumulative), counts run from the start.
 */
import { stackKey, type StackCount } from '../profile/profile.js';

interface Snapshot {
  readonly at: number;
  readonly counts: ReadonlyMap<string, StackCount>;
}

const EMPTY: Snapshot = { at: Number.NEGATIVE_INFINITY, counts: new Map() };

export class SampleWindow {
  private readonly snapshots: Snapshot[] = [];
  /** Counts at the last reset (or the start), taken off everything after it. */
  private baseline: Snapshot;

  /** `windowMs` null: cumulative counts. `startedAt`: when sampling began (ms). */
  constructor(
    private readonly windowMs: number | null,
    startedAt: number,
  ) {
    this.baseline = { at: startedAt, counts: new Map() };
  }

  /** Takes the session's cumulative stacks at time `at` (ms). */
  push(stacks: readonly StackCount[], at: number): void {
    const counts = new Map<string, StackCount>();
    for (const s of stacks) counts.set(stackKey(s.frames), s);
    this.snapshots.push({ at, counts });
    // Older snapshots than the window's start are not needed again.
    const keep = this.windowMs === null ? 1 : this.snapshots.length - this.snapshots.findLastIndex((s) => s.at <= at - this.windowMs!);
    if (keep < this.snapshots.length) this.snapshots.splice(0, this.snapshots.length - Math.max(1, keep));
  }

  /** The stacks counted in the window, since the last reset. */
  current(): StackCount[] {
    const newest = this.snapshots.at(-1);
    if (!newest) return [];
    const start = this.start(newest);
    const stacks: StackCount[] = [];
    for (const [key, s] of newest.counts) {
      const before = start.counts.get(key)?.count ?? 0;
      if (s.count > before) stacks.push({ frames: s.frames, count: s.count - before });
    }
    return stacks;
  }

  /** How long the counts cover (ms). */
  coveredMs(): number {
    const newest = this.snapshots.at(-1);
    return newest ? Math.max(0, newest.at - this.start(newest).at) : 0;
  }

  /** Counts start again from the newest snapshot. */
  reset(): void {
    this.baseline = this.snapshots.at(-1) ?? this.baseline;
  }

  /** The later of the last reset and the newest snapshot a window older than `newest`. */
  private start(newest: Snapshot): Snapshot {
    if (this.windowMs === null) return this.baseline;
    const windowStart = this.snapshots.findLast((s) => s.at <= newest.at - this.windowMs!) ?? EMPTY;
    return windowStart.at > this.baseline.at ? windowStart : this.baseline;
  }
}
