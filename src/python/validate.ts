/**
 * Checks a layout against the live process before sampling with it: the
 * thread states must name the process's threads and the frames they point to
 * must hold code objects (of type PyCode_Type, with readable names). A wrong
 * layout is reported instead of producing a profile of garbage.
 */
import { CodeObjectReader } from './code-objects.js';
import type { PythonLayout } from './layout.js';
import { readPointer, type MemoryReader } from '../target/memory.js';

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
  const pointer = (address: bigint): bigint => readPointer(memory, address);
  const fail = (problem: string, threadStates = 0, codeObjects = 0): LayoutCheck => ({ ok: false, problem, threadStates, codeObjects });
  const interp = pointer(runtimeAddress + BigInt(layout.runtime.interpretersHead));
  if (interp === 0n) return { ...fail('no interpreter state; is the interpreter initialised?'), starting: true };
  const reader = new CodeObjectReader(memory, layout);
  const { thread, frame } = layout;

  const walk = (): Walk => {
    const keys: bigint[] = [];
    let valid = 0;
    let invalid = 0;
    for (let ts = pointer(interp + BigInt(layout.runtime.threadsHead)); ts !== 0n && keys.length < MAX_THREAD_STATES; ts = pointer(ts + BigInt(thread.next))) {
      keys.push(pointer(ts + BigInt(thread.threadKey)));
      let f = pointer(ts + BigInt(thread.frame));
      if (thread.cframeCurrentFrame !== null) f = pointer(f + BigInt(thread.cframeCurrentFrame));
      for (let depth = 0; f !== 0n && depth < MAX_FRAMES; depth++, f = pointer(f + BigInt(frame.previous))) {
        if (frame.ownerByte !== null) {
          const owner = memory.read(f + BigInt(frame.flags + frame.ownerByte), 1)?.[0];
          if (owner !== undefined && frame.shimOwners.includes(owner)) continue;
        }
        const code = pointer(f + BigInt(frame.code)) & frame.codeMask;
        if (code === 0n) continue;
        if (reader.code(code)) valid++;
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
  const { threadStates, valid, invalid } = result!;
  if (keysMatched === 0) return fail(`no thread state names one of the process's threads`, threadStates);
  if (valid === 0 && invalid > 0) return fail(`frames hold no readable code objects (${invalid} checked)`, threadStates);
  if (valid < invalid) return fail(`only ${valid} of ${valid + invalid} frames hold readable code objects`, threadStates, valid);
  return { ok: true, problem: null, threadStates, codeObjects: valid };
}
