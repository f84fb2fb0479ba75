/**
 * `dump --locals`: each thread's Python frames' variables, read after the
 * look from the thread's frames as they are then. The sampled frames have
 * no addresses, so the thread's frames are walked again from its thread
 * state (found by its id, or before 3.11 by its pthread_t, which threading
 * knows); they are used only when they are the frames the dump shows (the
 * same functions, innermost first): a thread that moved on since gets none.
 */
import { CodeObjectReader } from '../python/code-objects.js';
import { isShimFrame } from '../python/frame-flags.js';
import type { PythonLayout } from '../python/layout.js';
import { readFrameLocals } from '../python/locals.js';
import { ThreadNames } from '../python/thread-names.js';
import { threadKey, threadStates, walkFrames } from '../python/walk.js';
import type { ThreadDump, ThreadLocals } from '../profile/thread-dump.js';
import type { MemoryReader } from '../target/memory.js';

/** Thread states searched, frames walked: as the samplers bound them. */
const MAX_THREADS = 4096;
const MAX_DEPTH = 128;

export interface Interpreter {
  readonly layout: PythonLayout;
  readonly runtimeAddress: bigint;
}

/** Per thread (by id): its Python frames' variables, innermost first as the dump shows them, or why there are none. */
export function readThreadLocals(memory: MemoryReader, python: Interpreter, threads: readonly ThreadDump[]): Map<number, ThreadLocals> {
  const { layout, runtimeAddress } = python;
  const result = new Map<number, ThreadLocals>();
  const byFsbase = layout.thread.threadKeyIsFsbase;
  const idents = byFsbase ? new ThreadNames(memory, layout, runtimeAddress).idents() : null;
  const codes = new CodeObjectReader(memory, layout);
  // The thread states read once for all threads; the last with a key wins, the oldest, as findThreadState takes it.
  const states = new Map(threadStates(memory, layout, runtimeAddress, MAX_THREADS).map((ts) => [threadKey(memory, layout, ts), ts]));
  for (const thread of threads) {
    const shown = thread.frames.filter((f) => f.kind === 'python');
    if (shown.length === 0) {
      result.set(thread.tid, { missing: 'not-python' });
      continue;
    }
    if (!layout.locals) {
      result.set(thread.tid, { missing: 'no-offsets' });
      continue;
    }
    const key = byFsbase ? idents?.get(thread.tid) : BigInt(thread.tid);
    const ts = key === undefined ? 0n : (states.get(key) ?? 0n);
    if (ts === 0n) {
      result.set(thread.tid, { missing: 'no-thread-state' });
      continue;
    }
    // The frames the dump names: shims and frames not started yet (3.11) are not shown.
    const walked = walkFrames(memory, layout, ts, MAX_DEPTH)
      .filter(({ frame }) => !isShimFrame(layout.frame, frame))
      .map(({ address, frame }) => ({ address, code: frame.code, resolved: codes.resolve(frame) }))
      .filter((f) => f.resolved.status !== 'incomplete');
    const same = walked.length === shown.length && walked.every((f, i) => f.resolved.status === 'ok' && f.resolved.qualname === shown[i]!.func);
    if (!same) {
      result.set(thread.tid, { missing: 'moved-on' });
      continue;
    }
    result.set(thread.tid, { frames: walked.map((f) => readFrameLocals(memory, layout, f.address, f.code) ?? []) });
  }
  return result;
}
