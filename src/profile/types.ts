/** Data passed between the stages: raw records in, named frames and stacks out. */

export type FrameKind = 'python' | 'native' | 'kernel' | 'marker';

export interface Frame {
  readonly kind: FrameKind;
  readonly name: string;
}

/** One Python frame as captured in the kernel at sample time. */
export interface RawPythonFrame {
  readonly code: bigint;
  readonly instr: bigint;
  /** 8 bytes read at the layout's flags offset (is_entry / owner live there). */
  readonly flags: bigint;
  /** co_firstlineno read at sample time: guards against a freed, reused code object. */
  readonly firstLineNo: number;
}

/** A Python chain, innermost frame first. */
export interface RawPythonChain {
  readonly hash: bigint;
  readonly depth: number;
  readonly truncated: boolean;
  readonly frames: RawPythonFrame[];
}

/** Aggregated samples sharing thread, Python chain, user stack and kernel stack. */
export interface RawSample {
  readonly tid: number;
  /** 0n when no Python frame was found. */
  readonly chain: bigint;
  /** Raw user addresses, leaf first, as the frame-pointer unwind gave them. */
  readonly user: readonly bigint[];
  /** Kernel function names, leaf first. */
  readonly kernel: readonly string[];
  readonly count: number;
}

export interface ThreadInfo {
  readonly tid: number;
  readonly comm: string;
}
