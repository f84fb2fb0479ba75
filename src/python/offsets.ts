/**
 * The offsets the sampler needs, as one flat record whatever their source
 * (DWARF, the interpreter's own _Py_DebugOffsets, or a built-in table), and
 * the PythonLayout built from them and the version's facts.
 */
import type { GilLayout, ObjectLayout, PythonLayout, PythonVersion } from './layout.js';
import type { VersionSpec } from './versions.js';

export interface StructOffsets {
  readonly runtimeInterpretersHead: number;
  readonly interpThreadsHead: number;
  /** The list's links: a thread state still linked is one not yet freed. */
  readonly threadPrev: number;
  readonly threadNext: number;
  /** pthread_t of the thread (its fsbase on x86-64). */
  readonly threadId: number;
  /** The kernel's thread id (3.11+). */
  readonly threadNativeId: number | null;
  /** tstate->frame (before 3.11), ->cframe (3.11, 3.12) or ->current_frame (3.13+). */
  readonly threadFrame: number;
  readonly cframeCurrentFrame: number | null;
  readonly frameCode: number;
  readonly frameInstr: number;
  readonly framePrevious: number;
  readonly frameIsEntry: number | null;
  readonly frameOwner: number | null;
  readonly codeFilename: number;
  readonly codeName: number;
  readonly codeQualname: number | null;
  readonly codeLineTable: number;
  readonly codeFirstLineNo: number;
  readonly codeFirstTraceable: number | null;
  readonly codeBytecode: number | null;
  readonly unicodeLength: number;
  readonly unicodeState: number;
  readonly unicodeKindShift: number;
  readonly unicodeCompactShift: number;
  readonly unicodeAsciiShift: number;
  readonly unicodeAsciiSize: number;
  readonly unicodeCompactSize: number;
  readonly bytesSize: number;
  readonly bytesData: number;
  readonly objectType: number;
  /** _PyRuntime.ceval.gil, the GIL's state itself (3.8-3.11). */
  readonly runtimeGil: number | null;
  /** PyInterpreterState.ceval.gil, a pointer to the GIL's state (3.12+). */
  readonly interpGil: number | null;
  /** Inside struct _gil_runtime_state: the thread state that took it last, and whether it is taken. */
  readonly gilLastHolder: number | null;
  readonly gilLocked: number | null;
  /** For Python thread names (--threads); null when the source does not give them all. */
  readonly objects: ObjectOffsets | null;
  /** For a frame's local variables (dump --locals); null when the source does not give them all. */
  readonly locals: LocalsOffsets | null;
}

/**
 * A frame's local variables and what their values are: the frame's array of
 * them (3.11+ localsplus, before f_localsplus), the code object's tuple of
 * their names (3.11+ co_localsplusnames, cells and free variables too;
 * before co_varnames) and its argument count; and the objects a value is
 * shown from (a tuple's items, any variable-size object's size, a float's
 * value, a type's name, a cell's content, a dict's and a set's sizes).
 */
export interface LocalsOffsets {
  readonly frameLocals: number;
  readonly codeLocalNames: number;
  readonly codeArgCount: number;
  readonly varSize: number;
  readonly tupleItems: number;
  readonly floatValue: number;
  readonly typeName: number;
  readonly cellRef: number;
  readonly dictUsed: number;
  readonly setUsed: number;
}

/**
 * The objects between the interpreter and a Thread's name: sys.modules (a
 * dict of modules), a module's dict, a class (for where its instances keep
 * their attributes), a dict's keys and values, and a small int.
 */
export interface ObjectOffsets {
  readonly interpModules: number;
  readonly moduleDict: number;
  readonly typeBasicSize: number;
  readonly typeFlags: number;
  readonly typeDictOffset: number;
  readonly heapTypeCachedKeys: number;
  readonly dictKeys: number;
  readonly dictValues: number;
  /** dk_size (before 3.11) or dk_log2_size (3.11+), as the version's spec says. */
  readonly keysSize: number;
  /** 3.11+: the log2 of the index table's bytes, and the kind of the entries. */
  readonly keysLog2IndexBytes: number | null;
  readonly keysKind: number | null;
  readonly keysEntryCount: number;
  readonly keysIndices: number;
  /** 3.11+: the values array inside struct _dictvalues. */
  readonly valuesArray: number | null;
  /** 3.13+: the byte that says an object's inline values are in use (not moved to a dict). */
  readonly valuesValid: number | null;
  readonly longSize: number;
  readonly longDigit: number;
}

const LOW_32_BITS = (1n << 32n) - 1n;
const ALL_BITS = (1n << 64n) - 1n;

export interface LayoutContext {
  readonly version: PythonVersion;
  readonly spec: VersionSpec;
  /** e.g. "DWARF in /usr/lib/debug/.build-id/..". */
  readonly source: string;
  readonly codeTypeAddress: bigint | null;
  /**
   * Match threads by pthread_t (fsbase) even where native_thread_id exists:
   * a target in another PID namespace records tids the kernel probe does not see.
   */
  readonly matchByFsbase: boolean;
}

export function buildLayout(o: StructOffsets, context: LayoutContext): PythonLayout {
  const { spec } = context;
  const byFsbase = context.matchByFsbase || !spec.hasNativeThreadId || o.threadNativeId === null;
  const flagFields = [o.frameIsEntry, o.frameOwner].filter((v): v is number => v !== null);
  const flags = flagFields.length > 0 ? Math.min(...flagFields) : o.framePrevious;
  const codeFields = [o.codeFilename, o.codeName, o.codeFirstLineNo, o.codeLineTable, o.codeQualname, o.codeFirstTraceable, o.objectType].filter(
    (v): v is number => v !== null,
  );
  return {
    version: context.version,
    flavour: spec.flavour,
    source: context.source,
    runtime: { interpretersHead: o.runtimeInterpretersHead, threadsHead: o.interpThreadsHead },
    thread: {
      prev: o.threadPrev,
      next: o.threadNext,
      threadKey: byFsbase ? o.threadId : o.threadNativeId!,
      threadKeyIsFsbase: byFsbase,
      frame: o.threadFrame,
      cframeCurrentFrame: o.cframeCurrentFrame,
    },
    frame: {
      code: o.frameCode,
      codeMask: spec.codeMask,
      instr: o.frameInstr,
      instrMask: spec.instrKind === 'pointer' ? ALL_BITS : LOW_32_BITS,
      instrKind: spec.instrKind,
      previous: o.framePrevious,
      flags,
      isEntryByte: o.frameIsEntry === null ? null : o.frameIsEntry - flags,
      ownerByte: o.frameOwner === null ? null : o.frameOwner - flags,
      shimOwners: spec.shimOwners,
      generatorOwner: spec.generatorOwner,
      grouping: spec.grouping,
    },
    code: {
      filename: o.codeFilename,
      name: o.codeName,
      qualname: o.codeQualname,
      lineTable: o.codeLineTable,
      lineTableFormat: spec.lineTableFormat,
      firstLineNo: o.codeFirstLineNo,
      firstTraceable: o.codeFirstTraceable,
      bytecode: o.codeBytecode,
      readSize: Math.max(...codeFields) + 8,
    },
    unicode: {
      length: o.unicodeLength,
      state: o.unicodeState,
      kindShift: o.unicodeKindShift,
      compactShift: o.unicodeCompactShift,
      asciiShift: o.unicodeAsciiShift,
      asciiSize: o.unicodeAsciiSize,
      compactSize: o.unicodeCompactSize,
    },
    bytes: { size: o.bytesSize, data: o.bytesData },
    codeTypeAddress: context.codeTypeAddress,
    objectType: o.objectType,
    gil: spec.hasGil ? gilLayout(o) : null,
    objects: o.objects ? objectLayout(o.objects, spec) : null,
    locals: o.locals,
  };
}

function objectLayout(o: ObjectOffsets, spec: VersionSpec): ObjectLayout {
  return {
    ...o,
    keysSizeIsLog2: spec.names.objects.keysSize === 'dk_log2_size',
    longSizeIsTag: spec.names.objects.longSize === 'long_value.lv_tag',
    instanceAttributes: spec.instanceAttributes,
    managedDictOffset: spec.managedDictOffset,
  };
}

/**
 * The GIL's place, when the offsets give all of it: one of the two locations
 * (a source gives the one its version has) and both fields.
 */
export function gilLayout(o: StructOffsets): GilLayout | null {
  if (o.gilLastHolder === null || o.gilLocked === null) return null;
  const fields = { lastHolder: o.gilLastHolder, locked: o.gilLocked };
  if (o.runtimeGil !== null) return { location: 'runtime', offset: o.runtimeGil, ...fields };
  if (o.interpGil !== null) return { location: 'interpreter-pointer', offset: o.interpGil, ...fields };
  return null;
}
