/**
 * Counts over the last N seconds: the session hands over the counts of
 * each refresh (a drain: only what came since the last one, so a refresh
 * costs what one second brought, not what the whole run did), and the
 * window adds up those of the last N seconds. With no window (cumulative),
 * everything since the start or the last reset is added up as it comes.
 */
import { stackKey, type StackCount } from '../profile/profile.js';

interface Slice {
  /** When the slice's counts were handed over (ms): they cover the time since the slice before. */
  readonly at: number;
  readonly counts: Map<string, StackCount>;
}

function addInto(into: Map<string, StackCount>, stacks: Iterable<StackCount>): void {
  for (const s of stacks) {
    const key = stackKey(s.frames);
    const entry = into.get(key);
    if (entry) entry.count += s.count;
    else into.set(key, { frames: s.frames, count: s.count });
  }
}

export class SampleWindow {
  private slices: Slice[] = [];
  /** Cumulative counts (no window). */
  private total = new Map<string, StackCount>();
  /** Where counting starts: sampling's start, or the last reset. */
  private since: number;

  /** `windowMs` null: cumulative counts. `startedAt`: when sampling began (ms). */
  constructor(
    private readonly windowMs: number | null,
    startedAt: number,
  ) {
    this.since = startedAt;
  }

  /** Takes the counts that came since the last call, at time `at` (ms). */
  add(stacks: readonly StackCount[], at: number): void {
    if (this.windowMs === null) {
      addInto(this.total, stacks);
      this.slices = [{ at, counts: new Map() }];
      return;
    }
    const counts = new Map<string, StackCount>();
    addInto(counts, stacks);
    this.slices.push({ at, counts });
    // A slice covers the time since the one before: the oldest kept ends after the window's start.
    while (this.slices.length > 1 && this.slices[0]!.at <= at - this.windowMs) this.slices.shift();
  }

  /** The stacks counted in the window (or since the start), since the last reset. */
  current(): StackCount[] {
    if (this.windowMs === null) return [...this.total.values()].map((s) => ({ frames: s.frames, count: s.count }));
    const sum = new Map<string, StackCount>();
    for (const slice of this.slices) addInto(sum, slice.counts.values());
    return [...sum.values()];
  }

  /** How long the counts cover (ms). */
  coveredMs(): number {
    const newest = this.slices.at(-1);
    if (!newest) return 0;
    const start = this.windowMs === null ? this.since : Math.max(this.since, newest.at - this.windowMs);
    return Math.max(0, newest.at - start);
  }

  /** Counts start again from now. */
  reset(): void {
    const newest = this.slices.at(-1);
    this.since = newest?.at ?? this.since;
    this.total = new Map();
    this.slices = newest ? [{ at: newest.at, counts: new Map() }] : [];
  }
}
