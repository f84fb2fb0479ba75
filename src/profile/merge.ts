/**
 * Merges one sample's native, Python and kernel stacks into a single stack.
 *
 * Walking the native stack from the leaf, each eval-loop frame is replaced by
 * the group of Python frames that call runs. After a frame-pointer unwind,
 * native frames are trusted only as far as it can be: the leaf address
 * always, each caller only if the callee keeps a frame pointer; a CFI unwind
 * is trusted as far as it went. Python groups left over when the
 * trusted native frames run out (no frame pointers) go above them, so a sample
 * always keeps its Python frames.
 */
import path from 'node:path';
import type { NativeFrame } from '../symbolize/native.js';
import type { PythonStack } from '../symbolize/python-names.js';
import type { Frame } from '../symbolize/frame.js';

/** fp: frame pointers, in the kernel (bpftrace's ustack); dwarf: CFI, in user space. */
export type NativeUnwind = 'fp' | 'dwarf';

export interface MergeOptions {
  /** Hide interpreter call plumbing (PyObject_Vectorcall and the like). */
  readonly hidePlumbing: boolean;
  /** The depth at which user stacks were cut when captured. */
  readonly maxNativeDepth: number;
  readonly nativeUnwind: NativeUnwind;
  /**
   * The sample's Python frames were looked for (a Python target, not
   * --native-only): where none were read, the eval loop's frames stand in
   * their place, shown even with hidePlumbing, not left out as if the code
   * under them were called from the interpreter's start.
   */
  readonly pythonLookedFor?: boolean;
}

export interface MergedStack {
  /** Root first. */
  readonly frames: Frame[];
  /** The trusted native frames reach the thread's first function. */
  readonly nativeComplete: boolean;
  /** Eval-loop frames with no Python group left to put there, or the reverse with a complete stack. */
  readonly mismatched: boolean;
  /** A CFI-unwound stack with Python frames but no eval-loop frame known by name: the interpreter's frames were left out. */
  readonly evalUnknown: boolean;
  /**
   * A CFI unwind with Python frames that stopped before it reached the
   * interpreter at all: the native frame it stopped at (code without call
   * frame information, as hand-written assembly often is), where the frames
   * between it and the Python code are missing; null otherwise.
   */
  readonly unwindStoppedAt: string | null;
}

export const TRUNCATED_FRAME = '[truncated python stack]';
/** The root of a sample whose native eval-loop frames and Python frames do not pair up. */
export const MISMATCH_FRAME = '[native and python frames disagree]';

/**
 * The prefix of the unwound stack (leaf first) that can be trusted: a caller
 * only when its callee keeps a frame pointer, and above the interrupted leaf
 * only when that frame pointer was in place at the sampled instruction.
 */
export function trustedNativeFrames(native: readonly NativeFrame[], unwind: NativeUnwind = 'fp', leafCallerFromStack = false): NativeFrame[] {
  const trusted: NativeFrame[] = [];
  for (const [i, frame] of native.entries()) {
    if (!frame.mapped) break;
    trusted.push(frame);
    // A CFI unwind knows every function's frame, with or without a frame pointer;
    // a leaf whose caller was read from its stack slot leads to it.
    const leads = i === 0 ? frame.frameReady === true || leafCallerFromStack : frame.framePointer === true;
    if (unwind === 'fp' && !leads) break;
  }
  return trusted;
}

/** The marked root of a greenlet's stack (gevent, eventlet): it starts at the greenlet's bootstrap. */
export const GREENLET_FRAME = '[greenlet]';

const startsStack = (f: NativeFrame): boolean => f.role === 'root' || f.role === 'greenlet';

export function mergeStacks(
  whole: readonly NativeFrame[],
  python: PythonStack | null,
  kernel: readonly string[],
  options: MergeOptions,
  /** A CFI unwind ended at the thread's first function. */
  unwoundToRoot?: boolean,
  /** A frame-pointer stack whose second frame was read from the leaf's stack slot (see ProfileBuilder). */
  leafCallerFromStack?: boolean,
): MergedStack {
  // A greenlet's stack ends at its bootstrap; below it are another greenlet's
  // frames, from when it first switched into this one, and the Python chain is
  // the greenlet's own.
  const bootstrap = whole.findIndex((f) => f.role === 'greenlet');
  const native = bootstrap < 0 ? whole : whole.slice(0, bootstrap + 1);
  const trusted = trustedNativeFrames(native, options.nativeUnwind, leafCallerFromStack === true);
  const groups = python?.groups ?? [];
  if (options.nativeUnwind === 'dwarf' && groups.length > 0 && !trusted.some((f) => f.role === 'eval')) {
    return mergeWithoutEvalFrames(native, trusted, python!, kernel, options, unwoundToRoot === true);
  }
  const leafFirst: Frame[] = [];
  let next = 0;
  let mismatched = false;
  let markedTruncation = false;
  for (const frame of trusted) {
    if (frame.role === 'eval' && groups.length > 0) {
      const group = groups[next];
      if (group) {
        leafFirst.push(...group);
        next++;
      } else if (python?.truncated && !markedTruncation) {
        leafFirst.push({ kind: 'marker', name: TRUNCATED_FRAME });
        markedTruncation = true;
      } else if (!python?.truncated) {
        mismatched = true;
        if (!options.hidePlumbing) leafFirst.push(nativeFrame(frame));
      }
      continue;
    }
    const standsIn = frame.role === 'eval' && groups.length === 0 && options.pythonLookedFor === true;
    if (options.hidePlumbing && (frame.role === 'plumbing' || (frame.role === 'eval' && !standsIn))) continue;
    leafFirst.push(nativeFrame(frame));
  }
  const rootmost = trusted[trusted.length - 1];
  // Complete: a known thread entry was reached, or the frame-pointer chain ran
  // out by itself (threads start with a zero frame pointer) with every frame
  // trusted. A lone leaf proves nothing, nor does a leaf with the caller read
  // from its stack slot: the walk from that caller's frame must have run too.
  const walked = leafCallerFromStack === true ? native.length >= 3 && native[1]!.framePointer === true : native.length >= 2;
  const chainEnded =
    trusted.length === native.length && walked && (options.nativeUnwind === 'dwarf' ? unwoundToRoot === true : native.length < options.maxNativeDepth);
  const nativeComplete = rootmost !== undefined && (startsStack(rootmost) || chainEnded);
  if (next < groups.length) {
    if (nativeComplete) mismatched = true;
    // The unwind stopped early: the remaining Python frames are the callers.
    const rest: Frame[] = groups.slice(next).flat();
    if (nativeComplete) {
      // Keep the root function at the root even when the counts disagree.
      const root = leafFirst.pop();
      leafFirst.push(...rest);
      if (root) leafFirst.push(root);
    } else {
      leafFirst.push(...rest);
    }
  }
  if (mismatched) return { frames: rootFirst(unpaired(trusted, python!, options), kernel), nativeComplete, mismatched, evalUnknown: false, unwindStoppedAt: null };
  if (python?.truncated && !markedTruncation) leafFirst.push({ kind: 'marker', name: TRUNCATED_FRAME });
  return { frames: rootFirst(leafFirst, kernel), nativeComplete, mismatched, evalUnknown: false, unwindStoppedAt: null };
}

/**
 * A sample whose halves do not pair up (caught while a call was being set up
 * or torn down, or on a stack switched under the interpreter, as greenlets
 * do) is never written as a stack that did not happen: what is sure of it
 * (the native frames the innermost Python function called, and the Python
 * frames in their order) goes under a marked root; the interpreter's frames
 * between Python frames, which could not be placed, are left out.
 */
function unpaired(trusted: readonly NativeFrame[], python: PythonStack, options: MergeOptions): Frame[] {
  const firstEval = trusted.findIndex((f) => f.role === 'eval');
  const called = (firstEval < 0 ? [] : trusted.slice(0, firstEval)).filter((f) => !(options.hidePlumbing && f.role === 'plumbing'));
  const leafFirst: Frame[] = [...called.map(nativeFrame), ...python.groups.flat()];
  if (python.truncated) leafFirst.push({ kind: 'marker', name: TRUNCATED_FRAME });
  leafFirst.push({ kind: 'marker', name: MISMATCH_FRAME });
  return leafFirst;
}

/**
 * A CFI-unwound stack whose eval-loop frames have no name (an interpreter
 * whose eval loop has no symbol): where each Python group belongs among the
 * interpreter's frames is unknown, but all of them lie between the first and
 * the last interpreter frame. So: the native frames below the interpreter
 * (the thread's start), the Python frames, the native frames above it (what
 * the Python code called); the interpreter's own frames are left out.
 */
function mergeWithoutEvalFrames(
  native: readonly NativeFrame[],
  trusted: readonly NativeFrame[],
  python: PythonStack,
  kernel: readonly string[],
  options: MergeOptions,
  unwoundToRoot: boolean,
): MergedStack {
  const inInterpreter = (f: NativeFrame): boolean => f.role === 'plumbing';
  const firstInside = trusted.findIndex(inInterpreter);
  const above = firstInside >= 0 ? trusted.slice(0, firstInside) : trusted;
  // The part below the interpreter is known only when the unwind got there whole.
  const whole = trusted.length === native.length;
  const lastInside = native.findLastIndex(inInterpreter);
  const below = whole && lastInside >= 0 ? native.slice(lastInside + 1) : [];
  const leafFirst: Frame[] = above.map(nativeFrame);
  leafFirst.push(...python.groups.flat());
  if (python.truncated) leafFirst.push({ kind: 'marker', name: TRUNCATED_FRAME });
  leafFirst.push(...below.map(nativeFrame));
  const rootmost = below.at(-1);
  const nativeComplete = rootmost !== undefined && (startsStack(rootmost) || unwoundToRoot);
  // Interpreter frames, none named as the eval loop: the eval loop has no
  // name. No interpreter frame at all, and the unwind did not get to the
  // thread's start: it stopped on the way, in code without CFI (a thread
  // caught in its very first instructions, in clone3, is neither).
  const inside = firstInside >= 0;
  const last = trusted.at(-1) ?? native[0];
  const stopped = !inside && !unwoundToRoot && last !== undefined && !startsStack(last) ? last : undefined;
  const unwindStoppedAt = stopped ? (stopped.module === null || stopped.name.startsWith('[') ? stopped.name : `${stopped.name} in ${path.basename(stopped.module)}`) : null;
  return { frames: rootFirst(leafFirst, kernel), nativeComplete, mismatched: false, evalUnknown: inside, unwindStoppedAt };
}

function nativeFrame(frame: NativeFrame): Frame {
  if (frame.role === 'greenlet') return { kind: 'marker', name: GREENLET_FRAME };
  return frame.module === null ? { kind: 'native', name: frame.name } : { kind: 'native', name: frame.name, file: frame.module };
}

/** User frames (leaf first) turned root first, with the kernel frames (leaf first) on top. */
function rootFirst(leafFirst: Frame[], kernel: readonly string[]): Frame[] {
  const frames = leafFirst.reverse();
  for (let i = kernel.length - 1; i >= 0; i--) frames.push({ kind: 'kernel', name: kernel[i]! });
  return frames;
}
