/**
 * A process's threads as one look at them finds them (`mixprof dump`): each
 * thread's merged stack, innermost frame first as py-spy's dump prints it,
 * whether it held the GIL, whether it ran or waited, and for what. Made
 * from a short wall-clock profile with thread roots (src/dump/), whose
 * stacks carry their origin and whose first pass over the threads weighs
 * FIRST_PASS_WEIGHT: each thread is shown where that pass found it.
 */
import type { AsyncTask } from '../asyncio/task-tree.js';
import type { Profile, StackCount } from './profile.js';
import { RUNNABLE_FRAME } from './runnable.js';
import type { LocalVariable } from '../python/locals.js';
import type { GilState, ThreadInfo } from '../sampler/sampler.js';
import type { Frame } from '../symbolize/frame.js';
import { waitingFor, type WaitKind } from './waits.js';

/** On a CPU; off it and runnable (waiting for a CPU); or waiting (asleep or blocked in the kernel). */
export type ThreadRunState = 'running' | 'runnable' | 'waiting';

export interface ThreadDump {
  readonly tid: number;
  /** The kernel's name for the thread. */
  readonly comm: string;
  /** Python's (threading.Thread.name), when it has one. */
  readonly name: string | null;
  /** null where the GIL was not read (a free-threaded build, an interpreter whose GIL mixprof cannot find, no Python). */
  readonly gil: GilState | null;
  readonly state: ThreadRunState;
  /** The system call the thread is in (its kernel frames say so), else null. */
  readonly syscall: string | null;
  /** Waiting: the kernel function it waits in (the innermost, the scheduler left out), else null. */
  readonly waitingIn: string | null;
  /** Waiting: what for, as its frames tell ("a lock", "the GIL", waits.ts), else null. */
  readonly waitingFor: WaitKind | null;
  /** Innermost first. */
  readonly frames: readonly Frame[];
  /** dump --locals: the variables of its Python frames. */
  readonly locals?: ThreadLocals;
}

/** Why a thread's variables are not shown: no Python frames; it ran on since; no offsets for them; its thread state not found. */
export type LocalsMissing = 'not-python' | 'moved-on' | 'no-offsets' | 'no-thread-state';

/** The variables of each of a thread's Python frames, innermost first as its frames are, or why there are none. */
export type ThreadLocals = { readonly frames: readonly (readonly LocalVariable[])[] } | { readonly missing: LocalsMissing };

export interface ProcessDump {
  readonly pid: number;
  readonly comm: string;
  /** "3.11.7" when the Python frames were read. */
  readonly python: string | null;
  /** The main thread first, then by thread id. */
  readonly threads: readonly ThreadDump[];
  /** With --async: the asyncio tasks, or why there are none to show. */
  readonly tasks?: readonly AsyncTask[] | { readonly problem: string };
}

/** Entry points of system calls as the kernel names them on x86-64, and their bodies (an entry point may be inlined away). */
const SYSCALL_ENTRY = /^(?:__(?:x64|ia32|x32)_sys|__do_sys|ksys)_(\w+)$/;

/** The thread's system call, from its kernel frames (innermost first). */
export function syscallOf(kernelInnermostFirst: readonly Frame[]): string | null {
  for (const frame of kernelInnermostFirst) {
    const m = SYSCALL_ENTRY.exec(frame.name);
    if (m) return m[1]!;
  }
  return null;
}

/** A stack's frames without its thread's root (and its GIL root when `gilRoots`): a dump says both in the heading. */
function framesWithoutRoots(stack: StackCount, gilRoots: boolean): readonly Frame[] {
  return stack.frames.slice(gilRoots ? 2 : 1);
}

/**
 * More than the passes of a dump (25) and of any pass's catching up: a
 * count this high holds the first pass's sample. 2^20, well within what the
 * sampler's counts hold exactly.
 */
export const FIRST_PASS_WEIGHT = 2 ** 20;

/**
 * Each thread where the first pass found it: off CPU, at that instant; on
 * a CPU, at its next clock sample. A thread the first pass did not count
 * (one that started after it, or left its CPU before the clock found it)
 * at the stack the later passes found most. `gilRoots`: the profile's
 * stacks have a GIL root under the thread's (the GIL was read).
 */
export function dumpThreads(profile: Profile, gilRoots: boolean): ThreadDump[] {
  // The first pass's stack outweighs all the others of its thread together.
  const byThread = new Map<number, StackCount>();
  for (const stack of profile.stacks) {
    if (!stack.origin) continue;
    const seen = byThread.get(stack.origin.tid);
    if (!seen || stack.count > seen.count) byThread.set(stack.origin.tid, stack);
  }
  const threads: ThreadDump[] = [];
  for (const [tid, best] of byThread) {
    const origin = best.origin!;
    // The runnable marker is said by the state.
    const rootFirst = framesWithoutRoots(best, gilRoots).filter((f) => !(f.kind === 'marker' && f.name === RUNNABLE_FRAME.name));
    const frames = [...rootFirst].reverse();
    const kernel = frames.filter((f) => f.kind === 'kernel');
    const state: ThreadRunState = origin.offCpu ?? 'running';
    const syscall = syscallOf(kernel);
    const info: ThreadInfo | undefined = profile.threads.get(tid);
    threads.push({
      tid,
      comm: info?.comm ?? '',
      name: info?.name ?? null,
      gil: gilRoots ? (origin.gil ?? null) : null,
      state,
      syscall,
      waitingIn: state === 'waiting' && kernel.length > 0 ? kernel[0]!.name : null,
      waitingFor: state === 'waiting' ? waitingFor(frames, syscall) : null,
      frames,
    });
  }
  return threads;
}

/** The main thread (its id is the process's) first, then by thread id. */
export function inDumpOrder(pid: number, threads: readonly ThreadDump[]): ThreadDump[] {
  return [...threads].sort((a, b) => (a.tid === pid ? -1 : b.tid === pid ? 1 : a.tid - b.tid));
}
