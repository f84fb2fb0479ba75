/**
 * Everything about a target that is settled before sampling: its interpreter
 * and layout (or why there is none), its memory, and the symbolizer over its
 * maps. Shared by `mixprof sample` and the benchmark's replay of recorded runs.
 */
import { MixprofError } from '../errors.js';
import type { NativeAddon } from '../native.js';
import { ProfileBuilder, type ProfileOptions } from '../profile/profile.js';
import { findLayout, UnsupportedVersionError, type OffsetSource } from '../python/find-layout.js';
import { CodeObjectReader } from '../python/code-objects.js';
import { buildString, versionString, type PythonLayout } from '../python/layout.js';
import { SUPPORTED_VERSIONS } from '../python/versions.js';
import { NativeFrames } from '../symbolize/native.js';
import { findInterpreter, versionFromFileNames, type InterpreterModule } from '../target/interpreter.js';
import { parseMaps, type Mapping } from '../target/maps.js';
import { processMemory, type MemoryReader } from '../target/memory.js';
import type { TargetProcess } from '../target/process.js';

export interface AttachOptions {
  readonly extraFiles: readonly string[];
  readonly nativeOnly: boolean;
  readonly offsetSources?: readonly OffsetSource[];
  /**
   * The option that needs the Python walk (e.g. "--gil"): a target without a
   * readable interpreter is then an error, not a native-only profile.
   */
  readonly pythonRequiredBy?: string;
}

export interface Attachment {
  readonly target: TargetProcess;
  /** null when the target is profiled without Python frames. */
  readonly interpreter: InterpreterModule | null;
  readonly layout: PythonLayout | null;
  readonly memory: MemoryReader;
  /** The target's maps when it was attached. */
  readonly mappings: readonly Mapping[];
  readonly native: NativeFrames;
  /**
   * Whether the interpreter keeps frame pointers: false when its eval loop or
   * a C API function does not (frame-pointer unwinds then stop at the leaf),
   * true when all of them do, null when that cannot be told (no symbols).
   */
  readonly framePointers: boolean | null;
  /**
   * Stacks merged for the target, or for a process forked from it (same
   * layout and mappings, its own memory for the code objects it runs).
   */
  /** A forked process's builder reads its code objects through memory and names its native frames with native. */
  newBuilder(options: ProfileOptions, forked?: { memory: MemoryReader; cwd: string | null; native: NativeFrames }): ProfileBuilder;
}

/** The target's interpreter and the layout its structures have; or, when Python cannot be read, why (none found, or a version not supported). */
export type FoundPython =
  | { readonly interpreter: InterpreterModule; readonly layout: PythonLayout }
  | { readonly interpreter: null; readonly layout: null; readonly why: string; readonly found: boolean };

export function findPython(addon: NativeAddon, memory: MemoryReader, target: TargetProcess, mappings: readonly Mapping[], options: Pick<AttachOptions, 'extraFiles' | 'offsetSources'>): FoundPython {
  const interpreter = findInterpreter(addon, memory, target, mappings);
  if (!interpreter) {
    const named = versionFromFileNames(target, mappings);
    return named
      ? { interpreter: null, layout: null, found: true, why: `Python ${versionString(named.version)} (${named.path}) is not supported; supported: ${SUPPORTED_VERSIONS.join(', ')}` }
      : { interpreter: null, layout: null, found: false, why: `process ${target.pid} (${target.comm}) runs no CPython interpreter that mixprof recognises` };
  }
  try {
    return { interpreter, layout: findLayout(addon, memory, target, interpreter, { extraFiles: options.extraFiles, ...(options.offsetSources ? { sources: options.offsetSources } : {}) }) };
  } catch (error) {
    if (!(error instanceof UnsupportedVersionError)) throw error;
    return { interpreter: null, layout: null, found: true, why: error.message };
  }
}

export function attachTarget(addon: NativeAddon, target: TargetProcess, mapsText: string, options: AttachOptions, log: (line: string) => void): Attachment {
  const memory = processMemory(addon, target.pid);
  const mappings = parseMaps(mapsText);
  let interpreter: InterpreterModule | null = null;
  let layout: PythonLayout | null = null;
  if (!options.nativeOnly) {
    const found = findPython(addon, memory, target, mappings, options);
    if (found.interpreter) {
      ({ interpreter, layout } = found);
      log(`mixprof: Python ${buildString(found.layout)} in ${found.interpreter.path}; offsets from ${found.layout.source}`);
    } else withoutPython(found.why, options, log);
  }
  const native = new NativeFrames(addon, mapsText, { target, extraFiles: options.extraFiles, interpreterPath: interpreter?.path ?? null, evalLoopParts: interpreter?.evalLoopParts ?? [] });
  return {
    target,
    interpreter,
    layout,
    memory,
    mappings,
    native,
    framePointers: interpreter === null ? null : interpreterFramePointers(native, interpreter),
    newBuilder: (profileOptions, forked) => {
      const python = layout ? { layout: layout.frame, reader: new CodeObjectReader(forked?.memory ?? memory, layout), cwd: forked?.cwd ?? target.cwd } : null;
      return new ProfileBuilder(python, forked?.native ?? native, profileOptions);
    },
  };
}

/** No Python walk for this target: said, and profiled without it, unless an option needs it. */
function withoutPython(why: string, options: AttachOptions, log: (line: string) => void): void {
  if (options.pythonRequiredBy) {
    throw new MixprofError('UNSUPPORTED_PYTHON', `${options.pythonRequiredBy} needs the Python interpreter's state: ${why}`, `profile it without ${options.pythonRequiredBy}`);
  }
  log(`mixprof: ${why}; profiling native and kernel frames only`);
}

/** The eval loop and the C API probes, symbolized in one batch (see Attachment.framePointers). */
function interpreterFramePointers(native: NativeFrames, interpreter: InterpreterModule): boolean | null {
  const evalLoop = interpreter.evalLoopAddress;
  const frames = native.frames([...(evalLoop === null ? [] : [evalLoop]), ...interpreter.apiAddresses]);
  if (frames.some((f) => f.functionFramePointer === false)) return false;
  const api = evalLoop === null ? frames : frames.slice(1);
  return evalLoop !== null && frames[0]?.functionFramePointer === true && api.length > 0 && api.every((f) => f.functionFramePointer === true) ? true : null;
}
