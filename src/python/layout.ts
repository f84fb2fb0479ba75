/**
 * Everything mixprof needs to know about one interpreter build: where its
 * runtime lives in the target and the offsets of the fields the in-kernel walk
 * and the code-object reader touch. Built once per target (python/offsets.ts),
 * then read by the BPF program renderer and the code-object reader.
 */
import type { LineTableFormat } from './linetable.js';
import type { LocalsOffsets, ObjectOffsets } from './offsets.js';
import type { BuildFlavour, InstanceAttributes } from './versions.js';

export interface PythonVersion {
  readonly major: number;
  readonly minor: number;
  readonly micro: number;
  /** PY_VERSION_HEX when known (Py_Version, 3.11+), else 0. */
  readonly hex: number;
}

/** How a frame records the current instruction. */
export type InstructionKind =
  /** 3.11+: a pointer into the code object's bytecode. */
  | 'pointer'
  /** 3.10: f_lasti, an int counting 2-byte code units. */
  | 'lasti-units'
  /** 3.8/3.9: f_lasti, an int counting bytes. */
  | 'lasti-bytes';

/**
 * How a chain's frames split into the groups one eval-loop call runs:
 * before 3.11 one frame per call; 3.11 marks each group's oldest frame with
 * is_entry; 3.12+ puts a shim frame owned by the C stack between groups.
 */
export type FrameGrouping = 'per-frame' | 'entry-flag' | 'shim-frames';

export interface ThreadStateLayout {
  readonly prev: number;
  readonly next: number;
  /** Field that identifies the OS thread: native_thread_id (3.11+) or thread_id. */
  readonly threadKey: number;
  /** thread_id holds the pthread_t, which on x86-64 glibc equals the task's fsbase. */
  readonly threadKeyIsFsbase: boolean;
  /** Field holding the current frame, or the cframe that points at it. */
  readonly frame: number;
  /** 3.11/3.12: tstate->cframe->current_frame. */
  readonly cframeCurrentFrame: number | null;
}

export interface FrameLayout {
  readonly code: number;
  /** 3.14 tags f_executable as a stack reference; its low bits are masked off. */
  readonly codeMask: bigint;
  readonly instr: number;
  readonly instrMask: bigint;
  readonly instrKind: InstructionKind;
  readonly previous: number;
  /** Offset of the 8 bytes captured as "flags" (holds is_entry / owner). */
  readonly flags: number;
  /** Byte positions inside those 8 bytes, when the version has the field. */
  readonly isEntryByte: number | null;
  readonly ownerByte: number | null;
  /** Owner values of frames that are not Python code (3.12+ shims). */
  readonly shimOwners: readonly number[];
  /** The owner value of a generator's or coroutine's frame (3.11+); null before. */
  readonly generatorOwner: number | null;
  readonly grouping: FrameGrouping;
}

export interface CodeLayout {
  readonly filename: number;
  readonly name: number;
  readonly qualname: number | null;
  readonly lineTable: number;
  readonly lineTableFormat: LineTableFormat;
  readonly firstLineNo: number;
  /** 3.11: frames whose instruction is before this index have not started yet. */
  readonly firstTraceable: number | null;
  /** Offset of the bytecode inside the code object (3.11+), for 'pointer' instructions. */
  readonly bytecode: number | null;
  /** Bytes to read to cover every field above. */
  readonly readSize: number;
}

export interface UnicodeLayout {
  readonly length: number;
  readonly state: number;
  readonly kindShift: number;
  readonly compactShift: number;
  readonly asciiShift: number;
  /** sizeof(PyASCIIObject): compact ASCII data starts here. */
  readonly asciiSize: number;
  /** sizeof(PyCompactUnicodeObject): other compact data starts here. */
  readonly compactSize: number;
}

export interface BytesLayout {
  readonly size: number;
  readonly data: number;
}

export interface RuntimeLayout {
  readonly interpretersHead: number;
  readonly threadsHead: number;
}

/**
 * Where the GIL's state is and which of its fields tell who holds it
 * (struct _gil_runtime_state). Before 3.12 it sits inside _PyRuntime; from
 * 3.12 each interpreter points at the one it uses (its own, or the main
 * interpreter's when it shares it), so it is found through that pointer.
 */
export interface GilLayout {
  /** runtime: at `offset` inside _PyRuntime; interpreter-pointer: the pointer at `offset` inside the interpreter state. */
  readonly location: 'runtime' | 'interpreter-pointer';
  readonly offset: number;
  /** The PyThreadState that took the GIL last (still its holder while it is locked). */
  readonly lastHolder: number;
  /** An int: non-zero while some thread holds the GIL. */
  readonly locked: number;
}

export interface PythonLayout {
  readonly version: PythonVersion;
  readonly flavour: BuildFlavour;
  /** Where the offsets came from, e.g. "DWARF in /usr/lib/debug/.build-id/..". */
  readonly source: string;
  readonly runtime: RuntimeLayout;
  readonly thread: ThreadStateLayout;
  readonly frame: FrameLayout;
  readonly code: CodeLayout;
  readonly unicode: UnicodeLayout;
  readonly bytes: BytesLayout;
  /** Runtime address of PyCode_Type: a frame whose code object has another type is not trusted. */
  readonly codeTypeAddress: bigint | null;
  /** Offset of ob_type in every object (moves in Py_TRACE_REFS builds). */
  readonly objectType: number;
  /** null when the offsets' source does not say where the GIL is (only --gil needs it), or there is none (free-threaded). */
  readonly gil: GilLayout | null;
  /** null when the offsets' source does not give them (only Python thread names need them). */
  readonly objects: ObjectLayout | null;
  /** null when the offsets' source does not give them (only dump --locals needs them). */
  readonly locals: LocalsOffsets | null;
}

/** The object offsets, with the version's rules for reading them. */
export interface ObjectLayout extends ObjectOffsets {
  readonly keysSizeIsLog2: boolean;
  /** 3.12+: an int's size field is lv_tag (digit count << 3 | sign). */
  readonly longSizeIsTag: boolean;
  readonly instanceAttributes: InstanceAttributes;
  readonly managedDictOffset: number;
}

/** "3.13.5 (free-threaded)" for a free-threaded build, else the version. */
export function buildString(layout: Pick<PythonLayout, 'version' | 'flavour'>): string {
  return layout.flavour === 'free-threaded' ? `${versionString(layout.version)} (free-threaded)` : versionString(layout.version);
}

/** "3.11.7", or "3.9" when only the minor version is known (read from a file name). */
export function versionString(version: PythonVersion): string {
  return version.hex === 0 && version.micro === 0 ? `${version.major}.${version.minor}` : `${version.major}.${version.minor}.${version.micro}`;
}
