/**
 * Finds the CPython interpreter inside a target: the ELF (libpython or the
 * executable itself) that defines _PyRuntime, where it is loaded, and which
 * version it is.
 */
import path from 'node:path';
import type { ElfInfo, ElfSymbol, NativeAddon } from '../native.js';
import type { PythonVersion } from '../python/layout.js';
import { INTERPRETER_FUNCTIONS } from '../python/versions.js';
import { processMemory, type MemoryReader } from './memory.js';
import { loadBias } from './elf-load.js';
import { isFileMapping, parseMaps, type Mapping } from './maps.js';
import { readableFile } from './files.js';
import { openTarget, readMapsText, type TargetProcess } from './process.js';

export interface InterpreterModule {
  /** Path inside the target's mount namespace, as in its maps. */
  readonly path: string;
  /** The same file, readable from here. */
  readonly file: string;
  readonly elf: ElfInfo;
  readonly loadBias: bigint;
  readonly runtimeAddress: bigint;
  /** Runtime address of PyCode_Type, when the symbol is there. */
  readonly codeTypeAddress: bigint | null;
  /** Runtime address of the eval loop, to tell whether the build keeps frame pointers. */
  readonly evalLoopAddress: bigint | null;
  /**
   * Runtime [start, end) of the eval loop's split-off parts (GCC's
   * `_PyEval_EvalFrameDefault.cold`), which a stripped build leaves unnamed.
   */
  readonly evalLoopParts: readonly AddressRange[];
  /**
   * Runtime addresses of a few small C API functions: the eval loop may keep a
   * frame pointer in a build that omits them (GCC uses one for its large frame).
   */
  readonly apiAddresses: bigint[];
  readonly version: PythonVersion;
  /** How the version was learnt: "Py_Version" or "file name". */
  readonly versionSource: string;
}

export interface AddressRange {
  readonly start: bigint;
  readonly end: bigint;
}

/** Exported by every CPython 3.x, small, and called everywhere. */
const API_PROBES = ['PyNumber_Add', 'PyObject_GetAttr', 'PyDict_SetItem', 'PyObject_Call'];
const SYMBOLS = ['_PyRuntime', 'Py_Version', 'PyCode_Type', INTERPRETER_FUNCTIONS.evalLoop, ...API_PROBES];
const LIBPYTHON = /^libpython(\d+)\.(\d+)/;
const PYTHON_EXE = /^python(\d+)\.(\d+)/;

/** Candidate files, most likely first: a shared libpython, then the executable. */
function candidates(target: TargetProcess, mappings: readonly Mapping[]): string[] {
  const paths = [...new Set(mappings.filter(isFileMapping).map((m) => m.path))];
  const libs = paths.filter((p) => LIBPYTHON.test(path.basename(p)));
  const exe = paths.includes(target.exe) ? [target.exe] : [];
  const pythons = paths.filter((p) => PYTHON_EXE.test(path.basename(p)) && p !== target.exe);
  return [...new Set([...libs, ...exe, ...pythons])];
}

function versionFromName(file: string): PythonVersion | null {
  const m = LIBPYTHON.exec(path.basename(file)) ?? PYTHON_EXE.exec(path.basename(file));
  return m ? { major: Number(m[1]), minor: Number(m[2]), micro: 0, hex: 0 } : null;
}

export function versionFromHex(hex: number): PythonVersion {
  return { major: (hex >>> 24) & 0xff, minor: (hex >>> 16) & 0xff, micro: (hex >>> 8) & 0xff, hex };
}

export function findInterpreter(
  addon: NativeAddon,
  memory: MemoryReader,
  target: TargetProcess,
  mappings: readonly Mapping[],
): InterpreterModule | null {
  for (const candidate of candidates(target, mappings)) {
    const file = readableFile(addon, target, mappings.find((m) => m.path === candidate)!);
    let elf: ElfInfo;
    let symbols: Record<string, ElfSymbol>;
    try {
      elf = addon.elfInfo(file);
      symbols = addon.lookupSymbols(file, SYMBOLS);
    } catch {
      continue;
    }
    const runtime = symbols['_PyRuntime'];
    if (!runtime) continue;
    const bias = loadBias(
      elf,
      mappings.filter((m) => m.path === candidate),
    );
    if (bias === null) continue;
    let version: PythonVersion | null = null;
    let versionSource = 'file name';
    const pyVersion = symbols['Py_Version'];
    if (pyVersion) {
      const bytes = memory.read(bias + pyVersion.value, 4);
      if (bytes) {
        version = versionFromHex(bytes.readUInt32LE(0));
        versionSource = 'Py_Version';
      }
    }
    version ??= versionFromName(candidate);
    if (!version) continue;
    const codeType = symbols['PyCode_Type'];
    const evalLoop = symbols[INTERPRETER_FUNCTIONS.evalLoop];
    return {
      path: candidate,
      file,
      elf,
      loadBias: bias,
      runtimeAddress: bias + runtime.value,
      codeTypeAddress: codeType ? bias + codeType.value : null,
      evalLoopAddress: evalLoop ? bias + evalLoop.value : null,
      evalLoopParts: evalLoop ? evalLoopParts(addon, file, evalLoop, bias) : [],
      apiAddresses: API_PROBES.flatMap((name) => (symbols[name] ? [bias + symbols[name].value] : [])),
      version,
      versionSource,
    };
  }
  return null;
}

function evalLoopParts(addon: NativeAddon, file: string, evalLoop: ElfSymbol, bias: bigint): AddressRange[] {
  try {
    return addon.functionParts(file, evalLoop.value, evalLoop.size).map((r) => ({ start: bias + r.start, end: bias + r.end }));
  } catch {
    return [];
  }
}

/**
 * The version a python or libpython file name gives, for a process whose
 * interpreter defines no _PyRuntime (Python 2 and 3 before 3.7): it is named
 * in the message that explains why its Python frames are missing.
 */
export function versionFromFileNames(target: TargetProcess, mappings: readonly Mapping[]): { path: string; version: PythonVersion } | null {
  for (const candidate of candidates(target, mappings)) {
    const version = versionFromName(candidate);
    if (version) return { path: candidate, version };
  }
  return null;
}

/**
 * Whether the process maps a CPython interpreter now (looked at anew each
 * time: an exec changes it); false for one gone or mid-exec.
 */
export function mapsInterpreter(addon: NativeAddon, pid: number): boolean {
  try {
    const maps = readMapsText(pid);
    return maps !== null && findInterpreter(addon, processMemory(addon, pid), openTarget(pid), parseMaps(maps)) !== null;
  } catch {
    return false;
  }
}
