/**
 * Brendan Gregg's folded format: "root;...;leaf COUNT", one line per distinct
 * stack. Kernel frames end in _[k] as stackcollapse-perf writes them; with
 * markPython, Python frames end in _[j] so that `flamegraph.pl --colors=java`
 * paints them green apart from native (red) and kernel (orange) frames.
 */
import type { Frame } from '../profile/types.js';
import type { StackCount } from '../profile/profile.js';

export interface FoldedOptions {
  readonly markPython: boolean;
}

/** ';' separates frames and a newline ends a record: neither may appear in a name. */
export function escapeFrameName(name: string): string {
  return name.replace(/;/g, '%3B').replace(/\r?\n/g, '%0A');
}

export function frameText(frame: Frame, options: FoldedOptions): string {
  const name = escapeFrameName(frame.name);
  if (frame.kind === 'kernel') return name + '_[k]';
  if (frame.kind === 'python' && options.markPython) return name + '_[j]';
  return name;
}

export function formatFolded(stacks: readonly StackCount[], options: FoldedOptions): string {
  const lines = new Map<string, number>();
  for (const stack of stacks) {
    if (stack.frames.length === 0) continue;
    const key = stack.frames.map((f) => frameText(f, options)).join(';');
    lines.set(key, (lines.get(key) ?? 0) + stack.count);
  }
  return [...lines].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, c]) => `${k} ${c}\n`).join('');
}
