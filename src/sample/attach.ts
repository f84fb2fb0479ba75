/**
 * Everything about a target that is settled before sampling: its interpreter
 * and layout (or why there is none), its memory, and the symbolizer over its
 * maps. Shared by `mixprof sample` and the benchmark's replay of recorded runs.
 */
import type { NativeAddon } from '../native.js';
import { ProfileBuilder, type ProfileOptions } from '../profile/profile.js';
import { attachLayout, UnsupportedVersionError, type OffsetSource } from '../python/attach.js';
import { CodeObjectReader } from '../python/code-objects.js';
import { versionString, type PythonLayout } from '../python/layout.js';
import { SUPPORTED_VERSIONS } from '../python/versions.js';
import { NativeFrames } from '../symbolize/native.js';
import { findInterpreter, versionFromFileNames, type InterpreterModule } from '../target/interpreter.js';
import { parseMaps } from '../target/maps.js';
import { processMemory, type MemoryReader } from '../target/memory.js';
import type { TargetProcess } from '../target/process.js';

export interface AttachOptions {
  readonly extraFiles: readonly string[];
  readonly nativeOnly: boolean;
  readonly offsetSources?: readonly OffsetSource[];
}

export interface Attachment {
  readonly target: TargetProcess;
  /** null when the target is profiled without Python frames. */
  readonly interpreter: InterpreterModule | null;
  readonly layout: PythonLayout | null;
  readonly memory: MemoryReader;
  readonly native: NativeFrames;
  /** The interpreter's eval loop keeps no frame pointer: native unwinds stop at the leaf. */
  readonly noFramePointers: boolean;
  /** It does, for certain (false when unknown, e.g. no symbol for the eval loop). */
  readonly framePointers: boolean;
  newBuilder(options: ProfileOptions): ProfileBuilder;
}

export function attachTarget(addon: NativeAddon, target: TargetProcess, mapsText: string, options: AttachOptions, log: (line: string) => void): Attachment {
  const memory = processMemory(addon, target.pid);
  const mappings = parseMaps(mapsText);
  let interpreter = options.nativeOnly ? null : findInterpreter(addon, memory, target, mappings);
  let layout: PythonLayout | null = null;
  if (interpreter) {
    try {
      layout = attachLayout(addon, memory, target, interpreter, { extraFiles: options.extraFiles, ...(options.offsetSources ? { sources: options.offsetSources } : {}) });
      log(`mixprof: Python ${versionString(layout.version)} in ${interpreter.path}; offsets from ${layout.source}`);
    } catch (error) {
      if (!(error instanceof UnsupportedVersionError)) throw error;
      log(`mixprof: ${error.message}; profiling native and kernel frames only`);
      interpreter = null;
    }
  } else if (!options.nativeOnly) {
    const named = versionFromFileNames(target, mappings);
    log(
      named
        ? `mixprof: Python ${versionString(named.version)} (${named.path}) is not supported; supported: ${SUPPORTED_VERSIONS.join(', ')}; profiling native and kernel frames only`
        : `mixprof: process ${target.pid} (${target.comm}) runs no CPython interpreter that mixprof recognises; profiling native and kernel frames only`,
    );
  }
  const native = new NativeFrames(addon, mapsText, { target, extraFiles: options.extraFiles, interpreterPath: interpreter?.path ?? null });
  const evalFramePointer = interpreter === null ? null : evalLoopFramePointer(native, interpreter);
  const apiFramePointers = interpreter === null ? [] : native.frames(interpreter.apiAddresses).map((f) => f.framePointer);
  return {
    target,
    interpreter,
    layout,
    memory,
    native,
    noFramePointers: evalFramePointer === false || apiFramePointers.includes(false),
    framePointers: evalFramePointer === true && apiFramePointers.length > 0 && apiFramePointers.every((fp) => fp === true),
    newBuilder: (profileOptions) => {
      const python = layout ? { layout: layout.frame, reader: new CodeObjectReader(memory, layout) } : null;
      return new ProfileBuilder(python, native, profileOptions);
    },
  };
}

/** Whether the eval loop sets up a frame pointer; null when it cannot be told. */
function evalLoopFramePointer(native: NativeFrames, interpreter: InterpreterModule): boolean | null {
  if (interpreter.evalLoopAddress === null) return null;
  const [frame] = native.frames([interpreter.evalLoopAddress]);
  return frame?.framePointer ?? null;
}
