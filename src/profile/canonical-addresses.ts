/**
 * Native addresses that every output shows the same way are one address to
 * the profile builder. Samples fall all over a hot function, so stacks that
 * differ only in where in their functions they were caught would otherwise
 * be held apart for good: a long run's held stacks (and mixprof's memory)
 * grew with every new instruction a leaf was caught at, several times the
 * stacks the profile shows. An address stands for another when its frame is
 * equal in all the merge reads of it (see frameIdentity), so the profile is
 * the same either way.
 */
import type { NativeFrame } from '../symbolize/native.js';
import type { NativeUnwind } from './merge.js';

/**
 * What the merge (src/profile/merge.ts) and the outputs read of a frame at
 * its place in a stack: its name, module and role, whether it is mapped,
 * and, for frame-pointer walks, whether the walk past it can be trusted
 * (frameReady as the leaf, framePointer above it). A CFI unwind's frames
 * are read the same at any place. Null for an unmapped address (a cut
 * mark, junk from a walk): it stands only for itself.
 */
export function frameIdentity(frame: NativeFrame, leaf: boolean, unwind: NativeUnwind): string | null {
  if (!frame.mapped) return null;
  const place = unwind === 'fp' ? (leaf ? `leaf ${frame.frameReady}` : `caller ${frame.framePointer}`) : '';
  return [place, frame.role, frame.module ?? '', frame.name].join('\u0000');
}

export class CanonicalAddresses {
  /** Address to the address it is held as; only those that differ. */
  private standIns = new Map<bigint, bigint>();
  private byIdentity = new Map<string, bigint>();

  constructor(private readonly unwind: NativeUnwind) {}

  /** Starts over: what follows (canonical) makes the stand-ins anew, the first address of each identity standing for the rest. */
  reset(): void {
    this.standIns = new Map();
    this.byIdentity = new Map();
  }

  /** The stack with each address replaced by the one that stands for it, learning from its frames; the same array when nothing changed. */
  canonical(stack: readonly bigint[], frames: readonly NativeFrame[]): readonly bigint[] {
    let out: bigint[] | null = null;
    for (let i = 0; i < stack.length; i++) {
      const address = stack[i]!;
      const identity = frameIdentity(frames[i]!, i === 0, this.unwind);
      if (identity === null) continue;
      let standIn = this.byIdentity.get(identity);
      if (standIn === undefined) {
        standIn = address;
        this.byIdentity.set(identity, address);
      }
      if (standIn === address) continue;
      this.standIns.set(address, standIn);
      out ??= [...stack];
      out[i] = standIn;
    }
    return out ?? stack;
  }

  /**
   * The stack with the stand-ins known so far, without naming anything:
   * for CFI-unwound stacks arriving between compactions. A frame-pointer
   * walk's stand-ins hold only at the place they were learnt at, so its
   * stacks are left as they are.
   */
  known(stack: readonly bigint[]): readonly bigint[] {
    if (this.unwind === 'fp' || this.standIns.size === 0) return stack;
    let out: bigint[] | null = null;
    for (let i = 0; i < stack.length; i++) {
      const standIn = this.standIns.get(stack[i]!);
      if (standIn === undefined) continue;
      out ??= [...stack];
      out[i] = standIn;
    }
    return out ?? stack;
  }
}
