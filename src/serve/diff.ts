/**
 * Two profiles compared stack by stack, as FlameGraph's difffolded.pl does
 * ("stack base comparison" per line), with each stack's share of its own
 * profile so that ranges of different lengths compare: which stacks grew.
 */
import { stackText } from '../output/folded.js';
import type { StackCount } from '../profile/profile.js';
import type { Frame } from '../symbolize/frame.js';

export interface StackDiff {
  /** The stack as a folded line's frames. */
  readonly key: string;
  readonly frames: readonly Frame[];
  readonly base: number;
  readonly comparison: number;
  /** Share of the comparison's samples less share of the base's (-1 to 1). */
  readonly delta: number;
}

export function diffStacks(base: readonly StackCount[], comparison: readonly StackCount[]): StackDiff[] {
  const rows = new Map<string, { frames: readonly Frame[]; base: number; comparison: number }>();
  const add = (stacks: readonly StackCount[], side: 'base' | 'comparison'): number => {
    let total = 0;
    for (const s of stacks) {
      const key = stackText(s.frames, { markPython: false });
      const row = rows.get(key) ?? { frames: s.frames, base: 0, comparison: 0 };
      row[side] += s.count;
      rows.set(key, row);
      total += s.count;
    }
    return total;
  };
  const baseTotal = add(base, 'base');
  const comparisonTotal = add(comparison, 'comparison');
  const share = (n: number, total: number): number => (total === 0 ? 0 : n / total);
  return [...rows]
    .map(([key, r]) => ({ key, frames: r.frames, base: r.base, comparison: r.comparison, delta: share(r.comparison, comparisonTotal) - share(r.base, baseTotal) }))
    .sort((a, b) => b.delta - a.delta || (a.key < b.key ? -1 : 1));
}
