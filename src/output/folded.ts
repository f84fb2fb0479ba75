/**
 * Brendan Gregg's folded format: "root;...;leaf COUNT", one line per distinct
 * stack. Kernel frames end in _[k] as stackcollapse-perf writes them; with
 * markPython, Python frames end in _[j] so that `flamegraph.pl --colors=java`
 * paints them green apart from native (red) and kernel (orange) frames.
 * Names are escaped as folded-escape.ts says, so that every reader splits
 * lines and frames where mixprof meant and `mixprof convert` reads them back
 * exactly.
 */
import type { Frame } from '../symbolize/frame.js';
import type { StackCount } from '../profile/profile.js';
import { escapeFrameName } from './folded-escape.js';

export interface FoldedOptions {
  readonly markPython: boolean;
}

/** ';', control characters and a '%' that would read as a code are escaped (folded-escape.ts). */
export { escapeFrameName };

/**
 * A frame's text, made once per frame object: profiles share their Frame
 * objects between stacks (and the store between queries), so a day's
 * 750,000 frame slots need only a few thousand escapes.
 */
const texts = { plain: new WeakMap<Frame, string>(), marked: new WeakMap<Frame, string>() };

function frameText(frame: Frame, options: FoldedOptions): string {
  const cache = options.markPython ? texts.marked : texts.plain;
  let text = cache.get(frame);
  if (text === undefined) {
    const name = escapeFrameName(frame.name);
    text = frame.kind === 'kernel' ? name + '_[k]' : frame.kind === 'python' && options.markPython ? name + '_[j]' : name;
    cache.set(frame, text);
  }
  return text;
}

/** A stack's text, made once per frames array: the store hands out the same array for a stack each query. */
const stackTexts = { plain: new WeakMap<readonly Frame[], string>(), marked: new WeakMap<readonly Frame[], string>() };

export function stackText(frames: readonly Frame[], options: FoldedOptions): string {
  const cache = options.markPython ? stackTexts.marked : stackTexts.plain;
  let text = cache.get(frames);
  if (text === undefined) {
    text = frames.map((f) => frameText(f, options)).join(';');
    cache.set(frames, text);
  }
  return text;
}

export function formatFolded(stacks: readonly StackCount[], options: FoldedOptions): string {
  const lines = new Map<string, number>();
  for (const stack of stacks) {
    if (stack.frames.length === 0) continue;
    const key = stackText(stack.frames, options);
    lines.set(key, (lines.get(key) ?? 0) + stack.count);
  }
  return [...lines].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([k, c]) => `${k} ${c}\n`).join('');
}
