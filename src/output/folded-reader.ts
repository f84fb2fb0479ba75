/**
 * Reads folded stacks ("root;...;leaf COUNT") back into frames, for `mixprof
 * convert`. The kind of a frame is read from the marks mixprof and
 * stackcollapse-perf write: _[k] kernel, _[j] Python; without marks, a name
 * of the form "func (file.py:LINE)" is Python, a [bracketed] name is a marker
 * and anything else is native code; leading "comm (id)" frames are thread
 * or process roots.
 */
import type { Frame } from '../symbolize/frame.js';
import type { StackCount } from '../profile/profile.js';
import { MixprofError } from '../errors.js';
import { unescapeFrameName } from './folded-escape.js';

/** A root frame of --threads or --pid-root: "python3 (1234)". */
const ROOT_NAME = /^[^()]* \(\d+\)$/;
const MODULE_OFFSET = /^\[[^\]]+\+0x[0-9a-f]+\]$/;
// s: a name may hold line breaks (escaped in the file).
const PYTHON_NAME = /^(.*) \(([^()]*?\.pyw?|<[^<>()]*>)(?::(\d+))?\)$/s;

/** Frames in one stack at most: far deeper than any real call chain, and a line past it (one huge line) would need gigabytes to draw. */
export const MAX_FRAMES = 65_536;

function frameCount(key: string): number {
  let n = 1;
  for (let at = key.indexOf(';'); at !== -1; at = key.indexOf(';', at + 1)) n++;
  return n;
}

/** The inverse of the writer's escaping, and no more (folded-escape.ts). */
export { unescapeFrameName };

export function parseFrame(text: string): Frame {
  let kind: Frame['kind'] | null = null;
  let name = text;
  if (text.endsWith('_[k]')) {
    kind = 'kernel';
    name = text.slice(0, -4);
  } else if (text.endsWith('_[j]')) {
    kind = 'python';
    name = text.slice(0, -4);
  }
  name = unescapeFrameName(name);
  const python = PYTHON_NAME.exec(name);
  // "[libz.so.1+0x5f77]" is native code without a symbol; other [bracketed] names are markers.
  if (kind === null) kind = python ? 'python' : /^\[.*\]$/.test(name) && !MODULE_OFFSET.test(name) ? 'marker' : 'native';
  if (kind === 'python' && python) {
    const line = python[3] === undefined ? undefined : Number(python[3]);
    return line === undefined ? { kind, name, func: python[1]!, file: python[2]! } : { kind, name, func: python[1]!, file: python[2]!, line };
  }
  return { kind, name };
}

/**
 * Parses a whole folded file. `source` names it in errors. Lines that are
 * empty are skipped; any other line without a positive count is an error.
 */
export function readFolded(text: string, source: string): StackCount[] {
  const stacks = new Map<string, StackCount>();
  const frames = new Map<string, Frame>();
  let lineNo = 0;
  for (const raw of text.split('\n')) {
    lineNo++;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '') continue;
    const space = line.lastIndexOf(' ');
    const count = space > 0 ? Number(line.slice(space + 1)) : NaN;
    if (!Number.isSafeInteger(count) || count <= 0) {
      throw new MixprofError('BAD_INPUT', `${source}:${lineNo}: not a folded stack line ("frame;frame;... COUNT")`, 'pass a file written by mixprof, stackcollapse-*.pl or py-spy --format raw');
    }
    const key = line.slice(0, space);
    if (key.length > MAX_FRAMES && frameCount(key) > MAX_FRAMES) {
      throw new MixprofError('BAD_INPUT', `${source}:${lineNo}: a stack of ${frameCount(key)} frames, more than the ${MAX_FRAMES} mixprof reads`, 'pass folded stacks of real call chains (one line per stack)');
    }
    const existing = stacks.get(key);
    if (existing) {
      existing.count += count;
      continue;
    }
    let rooted = true;
    const parsed = key.split(';').map((f) => {
      // Thread and process roots ("comm (tid)") lead the stack; deeper, the same form is a function.
      rooted &&= ROOT_NAME.test(f);
      if (rooted) return { kind: 'marker' as const, name: unescapeFrameName(f) };
      let frame = frames.get(f);
      if (!frame) {
        frame = parseFrame(f);
        frames.set(f, frame);
      }
      return frame;
    });
    stacks.set(key, { frames: parsed, count });
  }
  return [...stacks.values()];
}
