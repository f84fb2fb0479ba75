/**
 * From a found interpreter to a checked PythonLayout: pick the version's spec,
 * find its debug info, read the offsets, then check them against the live
 * process so that a wrong layout is reported instead of sampling garbage.
 */
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { MixprofError } from '../errors.js';
import type { NativeAddon } from '../native.js';
import { findDebugFile } from '../target/debug-files.js';
import type { InterpreterModule } from '../target/interpreter.js';
import { procPath, type TargetProcess } from '../target/process.js';
import type { PythonLayout } from './layout.js';
import { versionString } from './layout.js';
import { layoutFromDwarf } from './offsets.js';
import { SUPPORTED_VERSIONS, specFor } from './versions.js';

export function attachLayout(
  addon: NativeAddon,
  target: TargetProcess,
  interpreter: InterpreterModule,
  extraFiles: readonly string[],
): PythonLayout {
  const { version } = interpreter;
  const spec = specFor(version);
  if (!spec) {
    throw new MixprofError(
      'UNSUPPORTED_PYTHON',
      `Python ${versionString(version)} (${interpreter.path}) is not supported yet; supported: ${SUPPORTED_VERSIONS.join(', ')}`,
      'use --native-only to profile its native and kernel frames',
    );
  }
  const debugFile = findDebugFile(addon, {
    file: interpreter.file,
    pathInTarget: interpreter.path,
    elf: interpreter.elf,
    root: target.root,
    extraFiles,
  });
  if (!debugFile) {
    const base = path.basename(interpreter.path);
    const debian = /^(lib)?python3\.\d+/.exec(base) ? `install python3.${version.minor}-dbg matching the running build, or ` : '';
    throw new MixprofError(
      'NO_DEBUG_INFO',
      `no debug info for ${interpreter.path}${interpreter.elf.buildId ? ` (build-id ${interpreter.elf.buildId})` : ''}`,
      `${debian}pass its debug file with -d FILE`,
    );
  }
  const label = debugFile.startsWith(target.root + '/') ? debugFile.slice(target.root.length) : debugFile;
  const layout = layoutFromDwarf(addon, debugFile, version, spec, interpreter.codeTypeAddress, label);
  checkLayout(addon, target, interpreter, layout);
  return layout;
}

/** The first thread state must name one of the target's threads. */
function checkLayout(addon: NativeAddon, target: TargetProcess, interpreter: InterpreterModule, layout: PythonLayout): void {
  const pointer = (address: bigint): bigint | null => addon.readMemory(target.pid, address, 8)?.readBigUInt64LE(0) ?? null;
  const interp = pointer(interpreter.runtimeAddress + BigInt(layout.runtime.interpretersHead));
  const fail = (what: string): never => {
    throw new MixprofError(
      'UNSUPPORTED_PYTHON',
      `the offsets from ${layout.source} do not match the running interpreter (${what})`,
      'pass the debug file of this exact build with -d FILE',
    );
  };
  if (!interp) fail('no interpreter state; is the interpreter initialised?');
  const tstate = pointer(interp! + BigInt(layout.runtime.threadsHead));
  if (!tstate) fail('no thread state');
  if (layout.thread.threadKeyIsFsbase) return;
  const key = pointer(tstate! + BigInt(layout.thread.threadKey));
  const tids = new Set(readdirSync(procPath(target.pid, 'task')).map(Number));
  if (key === null || !tids.has(Number(key))) fail(`thread state names thread ${String(key)}, not one of the process's`);
}
