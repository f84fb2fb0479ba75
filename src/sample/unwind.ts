/**
 * Which unwinder gives a target its native stacks: frame pointers, walked by
 * bpftrace in the kernel (cheapest, complete only when the code keeps frame
 * pointers), or DWARF CFI over a copy of the stack, in user space (complete
 * without frame pointers, costs more per sample).
 */
import type { NativeUnwind } from '../profile/merge.js';

export const UNWIND_CHOICES = ['auto', 'fp', 'dwarf'] as const;
export type UnwindChoice = (typeof UNWIND_CHOICES)[number];

export interface UnwindDecision {
  readonly unwind: NativeUnwind;
  /** Why, for the log line. */
  readonly why: string;
}

/**
 * auto: frame pointers when the interpreter's eval loop keeps them; DWARF
 * otherwise, and for processes without a Python interpreter, whose code
 * mixprof has not looked at.
 */
export function chooseUnwind(choice: UnwindChoice, interpreterPath: string | null, interpreterHasFramePointers: boolean | null): UnwindDecision {
  if (choice === 'fp') return { unwind: 'fp', why: '--unwind fp' };
  if (choice === 'dwarf') return { unwind: 'dwarf', why: '--unwind dwarf' };
  if (interpreterPath === null) return { unwind: 'dwarf', why: 'no Python interpreter to check for frame pointers' };
  if (interpreterHasFramePointers === true) return { unwind: 'fp', why: `${interpreterPath} keeps frame pointers` };
  return interpreterHasFramePointers === false
    ? { unwind: 'dwarf', why: `${interpreterPath} is built without frame pointers` }
    : { unwind: 'dwarf', why: `mixprof cannot tell whether ${interpreterPath} keeps frame pointers` };
}
