/** Data passed between the stages: raw records in, named frames and stacks out. */

export type FrameKind = 'python' | 'native' | 'kernel' | 'marker';

export interface Frame {
  readonly kind: FrameKind;
  /** What viewers show: "qualname (file.py:LINE)" for Python, the symbol for native and kernel code. */
  readonly name: string;
  /** The function alone (Python's qualname) when name says more. */
  readonly func?: string;
  /** Python: the source file's full path; native: the module (executable or library). */
  readonly file?: string;
  /** Python: the line running. */
  readonly line?: number;
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

/**
 * The sampled thread and the GIL at the sample (--gil): it held the GIL; it
 * has a Python thread state but ran without the GIL (native code that
 * released it, I/O, or waiting to take it); or no Python thread state names
 * it (a thread that never takes the GIL, or one not yet or no longer
 * registered with the interpreter).
 */
export type GilState = 'held' | 'released' | 'no-thread';

/**
 * Aggregated samples sharing thread, Python chain, GIL state, user stack and
 * kernel stack, as a sampler delivers them: stacks as addresses (user) and
 * function names (kernel), each with a key that equal stacks share.
 */
export interface RawSample {
  readonly tid: number;
  /** 0n when no Python frame was found. */
  readonly chain: bigint;
  /** Set when the sampler read the GIL's state (--gil). */
  readonly gil?: GilState;
  /** The user stack's key: samples with equal keys have equal userFrames. */
  readonly user: string;
  /** The kernel stack's key, likewise. */
  readonly kernel: string;
  readonly count: number;
  /** User addresses, leaf first. */
  readonly userFrames: readonly bigint[];
  /** Kernel functions, leaf first. */
  readonly kernelFrames: readonly string[];
  /** The unwinder reached the thread's first function (known only for CFI unwinds). */
  readonly userComplete?: boolean;
  /** A CFI unwind stopped after reading the stack beyond the copy from the live process, which may have moved on or ended. */
  readonly userBeyondCopy?: boolean;
  /**
   * Frame-pointer samples of user code: the words at the stack pointer, where
   * a leaf without its frame pointer in place keeps its return address.
   */
  readonly stackWords?: readonly bigint[];
  /** userFrames[1] was read from the leaf's stack slot: the leaf's caller is known without a frame pointer. */
  readonly leafCallerFromStack?: boolean;
  /** Off CPU and runnable (wall-clock mode): waiting for a CPU; kernelFrames hold no switching frames. */
  readonly runnable?: boolean;
}

export interface ThreadInfo {
  readonly tid: number;
  readonly comm: string;
  /** Python's name for the thread (threading.Thread.name), when it was read. */
  readonly name?: string;
}
