/**
 * Which unwinder gives a target its native stacks: DWARF CFI over a copy of
 * the stack (the C sampler: whole stacks with or without frame pointers), or
 * frame pointers walked by bpftrace in the kernel (complete only where the
 * code keeps frame pointers).
 */
import type { NativeUnwind } from '../profile/merge.js';
import type { SampleMode } from './session-options.js';

export const UNWIND_CHOICES = ['auto', 'fp', 'dwarf'] as const;
export type UnwindChoice = (typeof UNWIND_CHOICES)[number];

export interface UnwindDecision {
  readonly unwind: NativeUnwind;
  /** Why, for the log line. */
  readonly why: string;
}

/**
 * auto is the C sampler's DWARF unwind, also where the interpreter keeps
 * frame pointers: measured against bpftrace's frame-pointer walk
 * (bench/RESULTS.md) it costs no more CPU, attaches four times faster, and
 * goes on through libraries built without frame pointers (libc, libz, most
 * wheels), where a frame-pointer walk stops.
 */
export function chooseUnwind(choice: UnwindChoice, mode: SampleMode = 'cpu'): UnwindDecision {
  // --unwind fp with it is refused (checkSessionOptions).
  if (mode === 'wall') return { unwind: 'dwarf', why: 'wall-clock mode samples threads off CPU, which only the DWARF sampler does' };
  if (choice === 'fp') return { unwind: 'fp', why: '--unwind fp' };
  if (choice === 'dwarf') return { unwind: 'dwarf', why: '--unwind dwarf' };
  return { unwind: 'dwarf', why: 'the default; --unwind fp walks frame pointers with bpftrace instead' };
}
