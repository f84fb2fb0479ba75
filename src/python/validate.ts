/**
 * Checks a layout against the live process before sampling with it: the
 * thread states must name the process's threads and the frames they point to
 * must hold code objects (of type PyCode_Type, with readable names). A wrong
 * layout is reported instead of producing a profile of garbage.
 */
import { isShimFrame } from './frame-flags.js';
import { CodeObjectReader } from './code-objects.js';
import type { PythonLayout } from './layout.js';
import { interpreterState, threadKey, threadStates, walkChain } from './walk.js';
import type { MemoryReader } from '../target/memory.js';

export interface LayoutCheck {
  readonly ok: boolean;
  /** The interpreter has no state or thread yet: it is still starting, the layout may be fine. */
  readonly starting?: boolean;
  /** What did not match, for the error message. */
  readonly problem: string | null;
  readonly threadStates: number;
  readonly codeObjects: number;
}

const MAX_THREAD_STATES = 64;
const MAX_FRAMES = 32;
/**
 * Walks made when no thread state names a thread. In a process whose threads
 * come and go hundreds of times a second, the list can change under one walk
 * (a freed state ends it early) and its threads be gone by the time the
 * process's thread ids are read: a later walk meets a calmer moment. A wrong
 * layout never names a thread, however often it is walked.
 */
const THREAD_KEY_WALKS = 5;

interface Walk {
  readonly threadStates: number;
  /** Thread ids (or fsbase values) the thread states hold. */
  readonly keys: readonly bigint[];
  readonly valid: number;
  readonly invalid: number;
}

/** `threadIds` reads the process's thread ids now (it is called around each walk). */
export function checkLayout(memory: MemoryReader, layout: PythonLayout, runtimeAddress: bigint, threadIds: () => ReadonlySet<number>): LayoutCheck {
  const fail = (problem: string, states = 0, codeObjects = 0): LayoutCheck => ({ ok: false, problem, threadStates: states, codeObjects });
  if (interpreterState(memory, layout, runtimeAddress) === 0n) return { ...fail('no interpreter state; is the interpreter initialised?'), starting: true };
  const reader = new CodeObjectReader(memory, layout);
  const { thread } = layout;

  const walk = (): Walk => {
    const keys: bigint[] = [];
    let valid = 0;
    let invalid = 0;
    for (const ts of threadStates(memory, layout, runtimeAddress, MAX_THREAD_STATES)) {
      keys.push(threadKey(memory, layout, ts));
      for (const frame of walkChain(memory, layout, ts, MAX_FRAMES)?.frames ?? []) {
        // Shim frames (3.12+) hold no code object of their own to check.
        if (frame.code === 0n || isShimFrame(layout.frame, frame)) continue;
        if (reader.code(frame.code)) valid++;
        else invalid++;
      }
    }
    return { threadStates: keys.length, keys, valid, invalid };
  };

  let result: Walk | null = null;
  let keysMatched = 0;
  for (let attempt = 0; attempt < THREAD_KEY_WALKS && keysMatched === 0; attempt++) {
    // A thread alive when the walk began or when it ended counts.
    const before = thread.threadKeyIsFsbase ? null : threadIds();
    result = walk();
    if (result.threadStates === 0) return { ...fail('no thread state'), starting: true };
    const after = thread.threadKeyIsFsbase ? null : threadIds();
    keysMatched = result.keys.filter((key) => (thread.threadKeyIsFsbase ? key !== 0n && key % 8n === 0n : before!.has(Number(key)) || after!.has(Number(key)))).length;
    if (thread.threadKeyIsFsbase) break;
  }
  const { threadStates: states, valid, invalid } = result!;
  if (keysMatched === 0) return fail(`no thread state names one of the process's threads`, states);
  if (valid === 0 && invalid > 0) return fail(`frames hold no readable code objects (${invalid} checked)`, states);
  if (valid < invalid) return fail(`only ${valid} of ${valid + invalid} frames hold readable code objects`, states, valid);
  return { ok: true, problem: null, threadStates: states, codeObjects: valid };
}
