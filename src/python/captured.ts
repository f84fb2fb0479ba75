/**
 * A Python chain as a walker captures it (the reference walk in walk.ts, the
 * BPF walkers at sample time, the addon's walk over a memory image): words
 * read from the interpreter's frames, named later (symbolize/python-names.ts).
 */

/** One Python frame as captured at sample time. */
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
