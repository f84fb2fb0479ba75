/**
 * Offsets from the interpreter itself: CPython 3.13+ starts _PyRuntime with
 * _Py_DebugOffsets ("xdebugpy", the version, then offsetof() of the fields
 * debuggers need). Where a field sits inside that struct differs between
 * minor versions; those positions are generated from DWARF (tables.generated.ts).
 * The few offsets it does not carry come from the version's built-in table.
 */
import type { MemoryReader } from '../../target/memory.js';
import type { LocalsOffsets, ObjectOffsets, StructOffsets } from '../offsets.js';
import type { BuildFlavour } from '../versions.js';
import { DEBUG_OFFSETS_POSITIONS, type DebugOffsetsField, type DebugOffsetsPositions } from './tables.generated.js';

export const DEBUG_COOKIE = 'xdebugpy';

/** A version newer than mixprof knows whose _Py_DebugOffsets cannot be read as the newest known one's. */
export class NewerLayoutError extends Error {}

export interface DebugOffsetsResult {
  readonly offsets: StructOffsets;
  /** PY_VERSION_HEX as the struct records it. */
  readonly versionHex: number;
}

/** Which struct each part of _Py_DebugOffsets describes: its `size`, and the members whose offsets it gives. */
const PARTS: readonly { readonly size: DebugOffsetsField; readonly members: readonly DebugOffsetsField[] }[] = [
  { size: 'runtime_state.size', members: ['runtime_state.interpreters_head'] },
  { size: 'interpreter_state.size', members: ['interpreter_state.threads_head', 'interpreter_state.imports_modules', 'interpreter_state.ceval_gil'] },
  { size: 'thread_state.size', members: ['thread_state.prev', 'thread_state.next', 'thread_state.thread_id', 'thread_state.native_thread_id', 'thread_state.current_frame'] },
  { size: 'interpreter_frame.size', members: ['interpreter_frame.previous', 'interpreter_frame.executable', 'interpreter_frame.instr_ptr', 'interpreter_frame.owner'] },
  { size: 'code_object.size', members: ['code_object.filename', 'code_object.name', 'code_object.qualname', 'code_object.linetable', 'code_object.firstlineno', 'code_object.co_code_adaptive'] },
  { size: 'pyobject.size', members: ['pyobject.ob_type'] },
  { size: 'bytes_object.size', members: ['bytes_object.ob_size', 'bytes_object.ob_sval'] },
  { size: 'unicode_object.size', members: ['unicode_object.state', 'unicode_object.length'] },
];

/**
 * The build's flavour as its _Py_DebugOffsets record it (read at 3.`minor`'s
 * positions, or the newest known version's for a newer one); null when the
 * runtime does not start with the struct.
 */
export function readBuildFlavour(memory: MemoryReader, runtimeAddress: bigint, minor: number): BuildFlavour | null {
  const positions = DEBUG_OFFSETS_POSITIONS[minor];
  if (!positions) return null;
  const at = positions.fields.free_threaded;
  const bytes = memory.read(runtimeAddress, at + 8);
  if (!bytes || bytes.subarray(0, 8).toString('latin1') !== DEBUG_COOKIE) return null;
  return bytes.readBigUInt64LE(at) !== 0n ? 'free-threaded' : 'default';
}

/** No interpreter struct is larger (PyInterpreterState is the largest, some hundred KiB). */
const MAX_STRUCT_SIZE = 1 << 22;

/**
 * Why a newer version's struct does not read as the known one (null when it
 * does): its version field must name that newer version, and each part's
 * size must be a struct's, larger than every member offset it gives.
 */
function newerProblem(field: (name: DebugOffsetsField) => number, minor: number): string | null {
  const version = field('version');
  if (version >>> 24 !== 3 || ((version >>> 16) & 0xff) <= minor) return `its version field reads 0x${version.toString(16)}`;
  for (const part of PARTS) {
    const size = field(part.size);
    if (size < 8 || size > MAX_STRUCT_SIZE) return `${part.size} reads ${size}`;
    for (const member of part.members) {
      if (field(member) >= size) return `${member} (${field(member)}) is past the struct's size (${size})`;
    }
  }
  return null;
}

/**
 * Reads and decodes the struct, or returns null when the runtime does not
 * start with the cookie (a build older than 3.13, or not CPython). `newer`:
 * the interpreter is a version newer than 3.`minor`, whose struct is read as
 * 3.`minor`'s was; when it does not read so, a NewerLayoutError says why.
 */
export function readDebugOffsets(memory: MemoryReader, runtimeAddress: bigint, minor: number, extras: StructOffsets, newer = false): DebugOffsetsResult | null {
  const positions: DebugOffsetsPositions | undefined = DEBUG_OFFSETS_POSITIONS[minor];
  if (!positions) return null;
  const bytes = memory.read(runtimeAddress, positions.size);
  if (!bytes || bytes.subarray(0, 8).toString('latin1') !== DEBUG_COOKIE) return null;
  const field = (name: DebugOffsetsField): number => Number(bytes.readBigUInt64LE(positions.fields[name]));
  if (newer) {
    const problem = newerProblem(field, minor);
    if (problem) throw new NewerLayoutError(`its _Py_DebugOffsets do not read as 3.${minor}'s: ${problem}`);
  }
  return {
    versionHex: field('version'),
    offsets: {
      ...extras,
      runtimeInterpretersHead: field('runtime_state.interpreters_head'),
      interpThreadsHead: field('interpreter_state.threads_head'),
      threadPrev: field('thread_state.prev'),
      threadNext: field('thread_state.next'),
      threadId: field('thread_state.thread_id'),
      threadNativeId: field('thread_state.native_thread_id'),
      threadFrame: field('thread_state.current_frame'),
      cframeCurrentFrame: null,
      frameCode: field('interpreter_frame.executable'),
      frameInstr: field('interpreter_frame.instr_ptr'),
      framePrevious: field('interpreter_frame.previous'),
      frameIsEntry: null,
      frameOwner: field('interpreter_frame.owner'),
      codeFilename: field('code_object.filename'),
      codeName: field('code_object.name'),
      codeQualname: field('code_object.qualname'),
      codeLineTable: field('code_object.linetable'),
      codeFirstLineNo: field('code_object.firstlineno'),
      codeBytecode: field('code_object.co_code_adaptive'),
      unicodeLength: field('unicode_object.length'),
      unicodeState: field('unicode_object.state'),
      unicodeAsciiSize: field('unicode_object.asciiobject_size'),
      // PyCompactUnicodeObject is PyASCIIObject plus utf8_length and utf8 (3.12+);
      // derived, since the header before them grows in free-threaded builds.
      unicodeCompactSize: field('unicode_object.asciiobject_size') + 16,
      bytesSize: field('bytes_object.ob_size'),
      bytesData: field('bytes_object.ob_sval'),
      objectType: field('pyobject.ob_type'),
      // The interpreter's pointer to the GIL it uses; locked and last_holder
      // are given inside the interpreter's own GIL, whose start is given too.
      runtimeGil: null,
      interpGil: field('interpreter_state.ceval_gil'),
      gilLastHolder: inside(field('interpreter_state.gil_runtime_state_holder'), field('interpreter_state.gil_runtime_state')),
      gilLocked: inside(field('interpreter_state.gil_runtime_state_locked'), field('interpreter_state.gil_runtime_state')),
      objects: objectOffsets(extras.objects, field('pyobject.ob_type') - extras.objectType, field('interpreter_state.imports_modules')),
      locals: localsOffsets(extras.locals, field('pyobject.ob_type') - extras.objectType, {
        frameLocals: field('interpreter_frame.localsplus'),
        codeLocalNames: field('code_object.localsplusnames'),
        codeArgCount: field('code_object.argcount'),
      }),
    },
  };
}

/**
 * The table's object offsets are a default build's: in a build whose object
 * header is larger (free-threaded), each field of an object moves by the
 * difference; the dict keys and values structs have no header and stay.
 */
function objectOffsets(table: ObjectOffsets | null, headerGrowth: number, interpModules: number): ObjectOffsets | null {
  if (!table || headerGrowth < 0) return null;
  const moved = (offset: number): number => offset + headerGrowth;
  return {
    ...table,
    interpModules,
    moduleDict: moved(table.moduleDict),
    typeBasicSize: moved(table.typeBasicSize),
    typeFlags: moved(table.typeFlags),
    typeDictOffset: moved(table.typeDictOffset),
    heapTypeCachedKeys: moved(table.heapTypeCachedKeys),
    dictKeys: moved(table.dictKeys),
    dictValues: moved(table.dictValues),
    longSize: moved(table.longSize),
    longDigit: moved(table.longDigit),
  };
}

/**
 * The frame's and the code object's fields as the interpreter gives them;
 * the other objects' from the table, moved as objectOffsets moves them.
 */
function localsOffsets(table: LocalsOffsets | null, headerGrowth: number, given: Pick<LocalsOffsets, 'frameLocals' | 'codeLocalNames' | 'codeArgCount'>): LocalsOffsets | null {
  if (!table || headerGrowth < 0) return null;
  const moved = (offset: number): number => offset + headerGrowth;
  return {
    ...given,
    varSize: moved(table.varSize),
    tupleItems: moved(table.tupleItems),
    floatValue: moved(table.floatValue),
    typeName: moved(table.typeName),
    cellRef: moved(table.cellRef),
    dictUsed: moved(table.dictUsed),
    setUsed: moved(table.setUsed),
  };
}

/** struct _gil_runtime_state is about 200 bytes; a larger distance means the fields were not filled in. */
const GIL_STATE_MAX_SIZE = 4096;

/** A member's offset inside its struct, from both offsets in the enclosing one; null when that makes no sense. */
function inside(member: number, struct: number): number | null {
  const offset = member - struct;
  return offset >= 0 && offset < GIL_STATE_MAX_SIZE ? offset : null;
}
