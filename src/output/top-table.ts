/**
 * The table printed after sampling: the functions most often running
 * (self: innermost frame) and most often on the stack (total), like perf
 * report's children/self columns. A Python function is counted over all its
 * lines; a recursive function counts once per sample in its total.
 */
import type { Frame } from '../profile/types.js';
import type { StackCount } from '../profile/profile.js';
import { terminalText } from './terminal-text.js';

export interface FunctionCount {
  /** Kind and name: what tells functions apart. */
  readonly key: string;
  readonly name: string;
  readonly kind: Frame['kind'];
  /** The Python source or native module of the first frame counted. */
  readonly file: string | undefined;
  self: number;
  total: number;
}

/** A Python frame's name without its line: "f (app.py:12)" -> "f (app.py)". */
export function functionName(frame: Frame): string {
  return frame.kind === 'python' ? frame.name.replace(/:\d+\)$/, ')') : frame.name;
}

export function functionKey(frame: Frame): string {
  return `${frame.kind}:${functionName(frame)}`;
}

/** Thread and process roots are not functions: markers count only as the innermost frame ("[unknown]"). */
export function isFunctionFrame(frames: readonly Frame[], i: number): boolean {
  return frames[i]!.kind !== 'marker' || i === frames.length - 1;
}

/** Every function's self and total samples over the stacks, and all samples. */
export function countFunctions(stacks: readonly StackCount[]): { readonly functions: FunctionCount[]; readonly samples: number } {
  const counts = new Map<string, FunctionCount>();
  let samples = 0;
  for (const stack of stacks) {
    samples += stack.count;
    const seen = new Set<string>();
    stack.frames.forEach((frame, i) => {
      if (!isFunctionFrame(stack.frames, i)) return;
      const key = functionKey(frame);
      let entry = counts.get(key);
      if (!entry) {
        entry = { key, name: functionName(frame), kind: frame.kind, file: frame.file, self: 0, total: 0 };
        counts.set(key, entry);
      }
      if (!seen.has(key)) {
        entry.total += stack.count;
        seen.add(key);
      }
      if (i === stack.frames.length - 1) entry.self += stack.count;
    });
  }
  return { functions: [...counts.values()], samples };
}

export function topFunctions(stacks: readonly StackCount[], limit: number): { readonly rows: FunctionCount[]; readonly samples: number } {
  const { functions, samples } = countFunctions(stacks);
  const rows = functions
    .filter((row) => row.self > 0)
    .sort((a, b) => b.self - a.self || b.total - a.total || (a.name < b.name ? -1 : 1))
    .slice(0, limit);
  return { rows, samples };
}

const KIND_TAG: Record<Frame['kind'], string> = { python: 'py', native: 'native', kernel: 'kernel', marker: '' };

function percent(part: number, whole: number): string {
  return whole === 0 ? '0.0%' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** The table as lines, for a terminal of `width` columns; names escaped for it (terminal-text.ts). */
export function formatTopTable(stacks: readonly StackCount[], limit: number, width = 100): string[] {
  const { rows, samples } = topFunctions(stacks, limit);
  if (rows.length === 0) return [];
  const cells = rows.map((r) => [percent(r.self, samples), String(r.self), percent(r.total, samples), String(r.total)]);
  const headers = ['SELF%', 'SELF', 'TOTAL%', 'TOTAL'];
  const widths = headers.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const pad = (row: readonly string[]): string => row.map((cell, c) => cell.padStart(widths[c]!)).join('  ');
  const room = Math.max(20, width - widths.reduce((a, b) => a + b + 2, 2));
  const clip = (text: string): string => (text.length <= room ? text : text.slice(0, room - 2) + '..');
  const lines = [`  ${pad(headers)}  FUNCTION`];
  rows.forEach((row, i) => {
    const tag = KIND_TAG[row.kind];
    // Escaped before it is clipped: the width is that of what the terminal shows.
    lines.push(`  ${pad(cells[i]!)}  ${clip(terminalText(tag ? `${row.name} [${tag}]` : row.name))}`);
  });
  return lines;
}
