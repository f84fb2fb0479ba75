/**
 * The one place that knows how CPython versions differ. Each supported minor
 * version names the structs and members the sampler needs (looked up in DWARF)
 * and the facts DWARF cannot give (line table format, how instructions and
 * entry frames are recorded).
 */
import type { InstructionKind, PythonVersion } from './layout.js';
import type { LineTableFormat } from './linetable.js';

export interface VersionSpec {
  readonly minor: number;
  readonly lineTableFormat: LineTableFormat;
  readonly instrKind: InstructionKind;
  readonly threadKeyIsFsbase: boolean;
  /** Struct and member names, keyed by role. A dotted member goes through nested structs. */
  readonly names: {
    readonly runtime: string;
    readonly interpretersHead: string;
    readonly interp: string;
    readonly threadsHead: string;
    readonly thread: string;
    readonly threadNext: string;
    readonly threadKey: string;
    readonly threadFrame: string;
    readonly cframe: { readonly type: string; readonly currentFrame: string } | null;
    readonly frame: string;
    readonly frameCode: string;
    readonly frameInstr: string;
    readonly framePrevious: string;
    readonly frameIsEntry: string | null;
    readonly frameOwner: string | null;
    readonly code: string;
    readonly codeQualname: string | null;
    readonly codeLineTable: string;
    readonly codeFirstTraceable: string | null;
    readonly codeBytecode: string | null;
  };
  readonly ownerCStack: number | null;
}

const V3_11: VersionSpec = {
  minor: 11,
  lineTableFormat: 'locations',
  instrKind: 'pointer',
  threadKeyIsFsbase: false,
  names: {
    runtime: '_PyRuntimeState',
    interpretersHead: 'interpreters.head',
    interp: 'PyInterpreterState',
    threadsHead: 'threads.head',
    thread: 'PyThreadState',
    threadNext: 'next',
    threadKey: 'native_thread_id',
    threadFrame: 'cframe',
    cframe: { type: '_PyCFrame', currentFrame: 'current_frame' },
    frame: '_PyInterpreterFrame',
    frameCode: 'f_code',
    frameInstr: 'prev_instr',
    framePrevious: 'previous',
    frameIsEntry: 'is_entry',
    frameOwner: 'owner',
    code: 'PyCodeObject',
    codeQualname: 'co_qualname',
    codeLineTable: 'co_linetable',
    codeFirstTraceable: '_co_firsttraceable',
    codeBytecode: 'co_code_adaptive',
  },
  ownerCStack: null,
};

const SPECS: readonly VersionSpec[] = [V3_11];

export const SUPPORTED_VERSIONS = SPECS.map((spec) => `3.${spec.minor}`);

export function specFor(version: PythonVersion): VersionSpec | null {
  if (version.major !== 3) return null;
  return SPECS.find((spec) => spec.minor === version.minor) ?? null;
}
