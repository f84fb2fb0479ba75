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
import type { NativeFrame } from '../symbolize/native.js';
import type { PythonStack } from '../python/chain.js';
import type { Frame } from './types.js';

/** fp: frame pointers, in the kernel (bpftrace's ustack); dwarf: CFI, in user space. */
export type NativeUnwind = 'fp' | 'dwarf';

export interface MergeOptions {
  /** Hide interpreter call plumbing (PyObject_Vectorcall and the like). */
  readonly hidePlumbing: boolean;
  /** The depth at which user stacks were cut when captured. */
  readonly maxNativeDepth: number;
  readonly nativeUnwind: NativeUnwind;
}

export interface MergedStack {
  /** Root first. */
  readonly frames: Frame[];
  /** The trusted native frames reach the thread's first function. */
  readonly nativeComplete: boolean;
  /** Eval-loop frames with no Python group left to put there, or the reverse with a complete stack. */
  readonly mismatched: boolean;
  /** A CFI-unwound stack with Python frames but no eval-loop frame known by name: interpreter frames were left out. */
  readonly evalUnknown: boolean;
}

export const TRUNCATED_FRAME = '[truncated python stack]';

/**
 * The prefix of the unwound stack (leaf first) that can be trusted: a caller
 * only when its callee keeps a frame pointer, and above the interrupted leaf
 * only when that frame pointer was in place at the sampled instruction.
 */
export function trustedNativeFrames(native: readonly NativeFrame[], unwind: NativeUnwind = 'fp'): NativeFrame[] {
  const trusted: NativeFrame[] = [];
  for (const [i, frame] of native.entries()) {
    if (!frame.mapped) break;
    trusted.push(frame);
    // A CFI unwind knows every function's frame, with or without a frame pointer.
    if (unwind === 'fp' && (i === 0 ? frame.frameReady : frame.framePointer) !== true) break;
  }
  return trusted;
}

export function mergeStacks(
  native: readonly NativeFrame[],
  python: PythonStack | null,
  kernel: readonly string[],
  options: MergeOptions,
  /** A CFI unwind ended at the thread's first function. */
  unwoundToRoot?: boolean,
): MergedStack {
  let trusted = trustedNativeFrames(native, options.nativeUnwind);
  const groups = python?.groups ?? [];
  // No eval-loop frame to put the Python frames in (an interpreter whose eval
  // loop has no symbol): keep the native frames above the interpreter's, as a
  // frame-pointer unwind would, rather than stack Python frames on the root.
  const evalUnknown = options.nativeUnwind === 'dwarf' && groups.length > 0 && !trusted.some((f) => f.role === 'eval');
  if (evalUnknown) {
    const inInterpreter = trusted.findIndex((f) => f.role === 'plumbing');
    if (inInterpreter >= 0) trusted = trusted.slice(0, inInterpreter);
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
        if (!options.hidePlumbing) leafFirst.push({ kind: 'native', name: frame.name });
      }
      continue;
    }
    if (options.hidePlumbing && (frame.role === 'plumbing' || frame.role === 'eval')) continue;
    leafFirst.push({ kind: 'native', name: frame.name });
  }
  const rootmost = trusted[trusted.length - 1];
  // Complete: a known thread entry was reached, or the frame-pointer chain ran
  // out by itself (threads start with a zero frame pointer) with every frame
  // trusted. A lone leaf proves nothing.
  const chainEnded =
    trusted.length === native.length && native.length >= 2 && (options.nativeUnwind === 'dwarf' ? unwoundToRoot === true : native.length < options.maxNativeDepth);
  const nativeComplete = rootmost !== undefined && (rootmost.role === 'root' || chainEnded);
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
  if (python?.truncated && !markedTruncation) leafFirst.push({ kind: 'marker', name: TRUNCATED_FRAME });
  const frames = leafFirst.reverse();
  for (let i = kernel.length - 1; i >= 0; i--) frames.push({ kind: 'kernel', name: kernel[i]! });
  return { frames, nativeComplete, mismatched, evalUnknown };
}
