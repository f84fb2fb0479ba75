/**
 * The one place that knows how CPython versions and build flavours differ.
 * Each supported minor version names the structs and members the sampler
 * needs (looked up in DWARF) and states the facts no offset gives: the line
 * table format, how a frame records its instruction, and how frames group
 * into eval-loop calls. A free-threaded build of a version (3.13+) is that
 * version's spec with what the flavour changes.
 */
import type { InstructionKind, FrameGrouping, PythonVersion } from './layout.js';
import type { LineTableFormat } from './linetable.js';

/** Struct and member names in DWARF, by role. A dotted member goes through nested structs. */
export interface DwarfNames {
  readonly runtime: string;
  readonly interpretersHead: string;
  readonly interp: string;
  readonly threadsHead: string;
  readonly thread: string;
  readonly threadFrame: string;
  readonly cframe: { readonly type: string; readonly currentFrame: string } | null;
  readonly frame: string;
  readonly frameCode: string;
  readonly frameInstr: string;
  readonly framePrevious: string;
  readonly frameIsEntry: string | null;
  readonly frameOwner: string | null;
  readonly codeQualname: string | null;
  readonly codeLineTable: string;
  readonly codeFirstTraceable: string | null;
  readonly codeBytecode: string | null;
  /**
   * The GIL's state (struct `type`): a struct at `member` inside the runtime
   * state before 3.12; from 3.12 a pointer at `member` inside the
   * interpreter state, since each interpreter may have a GIL of its own.
   */
  readonly gil: { readonly in: 'runtime' | 'interpreter'; readonly member: string; readonly type: string };
  /** The objects the thread-name reader walks (sys.modules, dicts, ints). */
  readonly objects: {
    /** sys.modules, inside the interpreter state. */
    readonly modules: string;
    /** A dict's keys object: its size as a count (dk_size), or as log2 (dk_log2_size, with the index width and kind beside it). */
    readonly keysSize: 'dk_size' | 'dk_log2_size';
    /** An int's digit count (ob_size), or its tag of count and sign (lv_tag, 3.12+). */
    readonly longSize: string;
    readonly longDigit: string;
  };
}

/**
 * Where an instance of a Python class keeps its attributes: behind a dict
 * pointer at tp_dictoffset (before 3.11); in a values array its class's
 * shared keys index, pointed to from the word 4 words before the object
 * (3.11), or from the word 3 before it with its low bit set (3.12), or
 * inline after the object's basic size (3.13+). Without values, a dict
 * pointer 3 words before the object (3.11+).
 */
export type InstanceAttributes = 'dict-offset' | 'values-before-object' | 'dict-or-values' | 'inline-values';

/**
 * default: the GIL build. free-threaded: --disable-gil (3.13+, "python3.13t"):
 * threads run Python in parallel, object headers are larger (every offset
 * moves, which the offsets' sources say), and there is no GIL.
 */
export type BuildFlavour = 'default' | 'free-threaded';

export interface VersionSpec {
  readonly minor: number;
  readonly flavour: BuildFlavour;
  /** A GIL that --gil can report on. */
  readonly hasGil: boolean;
  /**
   * The built-in offset table describes this build (tables are of default
   * builds: a free-threaded build's offsets come from itself or DWARF).
   */
  readonly tableApplies: boolean;
  readonly lineTableFormat: LineTableFormat;
  readonly instrKind: InstructionKind;
  readonly grouping: FrameGrouping;
  /** PyThreadState.native_thread_id exists (3.11+); before, threads are matched by pthread_t. */
  readonly hasNativeThreadId: boolean;
  /** Owner values of frames that are not Python code (C-stack shims, the interpreter's base frame). */
  readonly shimOwners: readonly number[];
  /** The owner value of a generator's or coroutine's frame (FRAME_OWNED_BY_GENERATOR); null without owners. */
  readonly generatorOwner: number | null;
  /** Bits of the frame's code field that hold the pointer (3.14 tags it as a stack reference). */
  readonly codeMask: bigint;
  /** _Py_DebugOffsets at the start of _PyRuntime (3.13+). */
  readonly hasDebugOffsets: boolean;
  readonly instanceAttributes: InstanceAttributes;
  /** Where a managed dict's pointer sits, in bytes from the object (3.11+; 3 words before it, 1 in free-threaded builds). */
  readonly managedDictOffset: number;
  readonly names: DwarfNames;
}

const ALL_BITS = (1n << 64n) - 1n;

const GIL_IN_RUNTIME = { in: 'runtime', member: 'ceval.gil', type: '_gil_runtime_state' } as const;

const FRAME_OBJECT_NAMES = {
  runtime: '_PyRuntimeState',
  interpretersHead: 'interpreters.head',
  interp: 'PyInterpreterState',
  threadsHead: 'tstate_head',
  thread: 'PyThreadState',
  threadFrame: 'frame',
  cframe: null,
  frame: 'PyFrameObject',
  frameCode: 'f_code',
  frameInstr: 'f_lasti',
  framePrevious: 'f_back',
  frameIsEntry: null,
  frameOwner: null,
  codeQualname: null,
  codeLineTable: 'co_lnotab',
  codeFirstTraceable: null,
  codeBytecode: null,
  gil: GIL_IN_RUNTIME,
  objects: { modules: 'modules', keysSize: 'dk_size', longSize: 'ob_base.ob_size', longDigit: 'ob_digit' },
} as const satisfies DwarfNames;

const INTERPRETER_FRAME_NAMES = {
  runtime: '_PyRuntimeState',
  interpretersHead: 'interpreters.head',
  interp: 'PyInterpreterState',
  threadsHead: 'threads.head',
  thread: 'PyThreadState',
  threadFrame: 'cframe',
  cframe: { type: '_PyCFrame', currentFrame: 'current_frame' },
  frame: '_PyInterpreterFrame',
  frameCode: 'f_code',
  frameInstr: 'prev_instr',
  framePrevious: 'previous',
  frameIsEntry: 'is_entry',
  frameOwner: 'owner',
  codeQualname: 'co_qualname',
  codeLineTable: 'co_linetable',
  codeFirstTraceable: '_co_firsttraceable',
  codeBytecode: 'co_code_adaptive',
  gil: GIL_IN_RUNTIME,
  objects: { modules: 'modules', keysSize: 'dk_log2_size', longSize: 'ob_base.ob_size', longDigit: 'ob_digit' },
} as const satisfies DwarfNames;

const DEFAULT_BUILD = { flavour: 'default', hasGil: true, tableApplies: true } as const;

const BEFORE_3_11 = {
  ...DEFAULT_BUILD,
  instrKind: 'lasti-bytes',
  grouping: 'per-frame',
  hasNativeThreadId: false,
  shimOwners: [],
  generatorOwner: null,
  codeMask: ALL_BITS,
  hasDebugOffsets: false,
  instanceAttributes: 'dict-offset',
  managedDictOffset: 0,
} as const;

const V3_11: VersionSpec = {
  ...DEFAULT_BUILD,
  minor: 11,
  lineTableFormat: 'locations',
  instrKind: 'pointer',
  grouping: 'entry-flag',
  hasNativeThreadId: true,
  shimOwners: [],
  generatorOwner: 1,
  codeMask: ALL_BITS,
  hasDebugOffsets: false,
  instanceAttributes: 'values-before-object',
  managedDictOffset: -24,
  names: INTERPRETER_FRAME_NAMES,
};

// Each later version as what changed from the one before.
const V3_12: VersionSpec = {
  ...V3_11,
  minor: 12,
  grouping: 'shim-frames',
  // FRAME_OWNED_BY_CSTACK
  shimOwners: [3],
  instanceAttributes: 'dict-or-values',
  names: {
    ...INTERPRETER_FRAME_NAMES,
    frameIsEntry: null,
    gil: { ...GIL_IN_RUNTIME, in: 'interpreter' },
    objects: { modules: 'imports.modules', keysSize: 'dk_log2_size', longSize: 'long_value.lv_tag', longDigit: 'long_value.ob_digit' },
  },
};

const V3_13: VersionSpec = {
  ...V3_12,
  minor: 13,
  hasDebugOffsets: true,
  instanceAttributes: 'inline-values',
  names: { ...V3_12.names, threadFrame: 'current_frame', cframe: null, frameCode: 'f_executable', frameInstr: 'instr_ptr' },
};

const V3_14: VersionSpec = {
  ...V3_13,
  minor: 14,
  // FRAME_OWNED_BY_INTERPRETER (the thread's base frame) and FRAME_OWNED_BY_CSTACK
  shimOwners: [3, 4],
  // f_executable is a _PyStackRef: the low bits are tags.
  codeMask: ALL_BITS ^ 3n,
};

const V3_15: VersionSpec = {
  ...V3_14,
  minor: 15,
  // FRAME_OWNED_BY_CSTACK is gone: entry frames and the thread's base frame are FRAME_OWNED_BY_INTERPRETER.
  shimOwners: [3],
};

const SPECS: readonly VersionSpec[] = [
  { ...BEFORE_3_11, minor: 8, lineTableFormat: 'lnotab', names: FRAME_OBJECT_NAMES },
  { ...BEFORE_3_11, minor: 9, lineTableFormat: 'lnotab', names: FRAME_OBJECT_NAMES },
  { ...BEFORE_3_11, minor: 10, lineTableFormat: 'linetable', instrKind: 'lasti-units', names: { ...FRAME_OBJECT_NAMES, codeLineTable: 'co_linetable' } },
  V3_11,
  V3_12,
  V3_13,
  V3_14,
  V3_15,
];

/** What a free-threaded build changes from the default build of its version. */
function freeThreaded(spec: VersionSpec): VersionSpec | null {
  // The first free-threaded builds are 3.13's; each has _Py_DebugOffsets, which marks the flavour.
  if (!spec.hasDebugOffsets) return null;
  return { ...spec, flavour: 'free-threaded', hasGil: false, tableApplies: false, managedDictOffset: -8 };
}

export const SUPPORTED_VERSIONS = SPECS.map((spec) => `3.${spec.minor}`);

function withFlavour(spec: VersionSpec | undefined, flavour: BuildFlavour): VersionSpec | null {
  if (!spec) return null;
  return flavour === 'default' ? spec : freeThreaded(spec);
}

export function specFor(version: PythonVersion, flavour: BuildFlavour = 'default'): VersionSpec | null {
  if (version.major !== 3) return null;
  return withFlavour(SPECS.find((spec) => spec.minor === version.minor), flavour);
}

/**
 * For a version newer than any above (3.16 and later): the newest spec, whose
 * rules are assumed to hold, when that version describes its own layout in
 * _Py_DebugOffsets (which is then read, checked and validated as that of the
 * newest known version). Null for any other version.
 */
export function newestSpecFor(version: PythonVersion, flavour: BuildFlavour = 'default'): VersionSpec | null {
  const newest = SPECS[SPECS.length - 1]!;
  return version.major === 3 && version.minor > newest.minor && newest.hasDebugOffsets ? withFlavour(newest, flavour) : null;
}

/**
 * The interpreter's own native functions, by name, for every version: the
 * eval loop (each call runs one group of Python frames; exported by every
 * CPython 3, its split-off `.cold` part named only in symbol tables of debug
 * files) and the call plumbing hidden by default so that Python frames sit
 * next to each other as in py-spy (builtins that do work, such as list sort,
 * compression or I/O, keep their names).
 */
export const INTERPRETER_FUNCTIONS = {
  evalLoop: '_PyEval_EvalFrameDefault',
  evalLoopNames: /^(_PyEval_EvalFrameDefault|PyEval_EvalFrameEx)(\.cold)?$/,
  evalLoopPart: '_PyEval_EvalFrameDefault.cold',
  plumbing:
    /^(_?PyEval_|_?PyObject_(Vectorcall|Call|FastCall|MakeTpCall)|_?PyFunction_|_?PyVectorcall|_?PyCFunction_|PyObject_Call|method_vectorcall|cfunction_(vectorcall|call)|vectorcall_|slot_tp_call|call_function|do_call_core|function_code_fastcall|_Py_(RunMain|BytesMain)|Py_(RunMain|BytesMain|Main)$|pymain_|run_mod|run_eval_code_obj|pyrun_|_?PyRun_|main$|thread_run$|t_bootstrap$|builtin_exec|exec_code_in_module|partial_(vectorcall|call))/,
} as const;
