/**
 * Each function's samples over a profile's stacks: self (innermost frame)
 * and total (anywhere on the stack), as perf report's self and children
 * columns. A Python function is counted over all its lines; a recursive
 * function counts once per sample in its total. Shown by the table after
 * sampling and by top.
 */
import type { Frame } from '../symbolize/frame.js';
import type { StackCount } from './profile.js';

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
