/**
 * From a found interpreter to a checked PythonLayout. Offsets come from, in
 * order: the interpreter's own _Py_DebugOffsets (3.13+), DWARF (in the file,
 * a -d file, or a debug file found by build-id or debuglink), and the built-in
 * table of the minor version. The first whose layout passes the check against
 * the live process is used; if none does, mixprof says so and stops.
 */
import path from 'node:path';
import { readdirSync } from 'node:fs';
import { MixprofError } from '../errors.js';
import type { NativeAddon } from '../native.js';
import { findDebugFile } from '../target/debug-files.js';
import type { InterpreterModule } from '../target/interpreter.js';
import { versionFromHex } from '../target/interpreter.js';
import { inOtherPidNamespace } from '../target/namespaces.js';
import { procPath, type TargetProcess } from '../target/process.js';
import type { PythonLayout, PythonVersion } from './layout.js';
import { versionString } from './layout.js';
import type { MemoryReader } from '../target/memory.js';
import { buildLayout, type StructOffsets } from './offsets.js';
import { NewerLayoutError, readBuildFlavour, readDebugOffsets } from './sources/debug-offsets.js';
import { offsetsFromDwarf } from './sources/dwarf.js';
import { tableFor } from './sources/tables.js';
import { checkLayout } from './validate.js';
import { newestSpecFor, SUPPORTED_VERSIONS, specFor, type BuildFlavour, type VersionSpec } from './versions.js';

export type OffsetSource = 'debug-offsets' | 'dwarf' | 'table';
export const OFFSET_SOURCES: readonly OffsetSource[] = ['debug-offsets', 'dwarf', 'table'];

export interface LayoutOptions {
  readonly extraFiles: readonly string[];
  /** Only these sources, in this order (default: all). */
  readonly sources?: readonly OffsetSource[];
}

interface Candidate {
  readonly offsets: StructOffsets;
  readonly source: string;
  readonly version: PythonVersion;
}

/** The interpreter has not set up its state yet (a process just started): try again shortly. */
export class InterpreterStartingError extends MixprofError {
  constructor(message: string) {
    super('NO_SUCH_PROCESS', message, 'attach once the interpreter has started');
  }
}

export class UnsupportedVersionError extends MixprofError {
  constructor(version: PythonVersion, where: string, why?: string) {
    super(
      'UNSUPPORTED_PYTHON',
      why
        ? `Python ${versionString(version)} (${where}) is newer than mixprof knows (${SUPPORTED_VERSIONS.join(', ')}) and ${why}`
        : `Python ${versionString(version)} (${where}) is not supported; supported: ${SUPPORTED_VERSIONS.join(', ')}`,
      'its native and kernel frames are profiled without Python frames',
    );
  }
}

export function findLayout(addon: NativeAddon, memory: MemoryReader, target: TargetProcess, interpreter: InterpreterModule, options: LayoutOptions): PythonLayout {
  const flavour = buildFlavour(memory, interpreter);
  const known = specFor(interpreter.version, flavour);
  // A version newer than any known is read through its own _Py_DebugOffsets only, with the newest known version's rules.
  const spec = known ?? newestSpecFor(interpreter.version, flavour);
  if (!spec) throw new UnsupportedVersionError(interpreter.version, interpreter.path);
  const newer = known === null;
  if (newer) {
    const layout = attachNewer(memory, target, interpreter, spec, options);
    if (typeof layout === 'string') throw new UnsupportedVersionError(interpreter.version, interpreter.path, layout);
    return layout;
  }
  // The table still gives what _Py_DebugOffsets leaves out (unicode state bits), which no flavour changes.
  const table = tableFor(spec.minor);
  const wanted = options.sources ?? OFFSET_SOURCES;
  let debugFile: string | null | undefined;
  const candidates = function* (): Generator<Candidate> {
    for (const source of wanted) {
      if (source === 'debug-offsets' && spec.hasDebugOffsets && table) {
        const found = readDebugOffsets(memory, interpreter.runtimeAddress, spec.minor, table);
        if (found) {
          const version = interpreter.version.hex ? interpreter.version : versionFromHex(found.versionHex);
          yield { offsets: found.offsets, source: "the interpreter's _Py_DebugOffsets", version };
        }
      } else if (source === 'dwarf') {
        debugFile = findDebugFile(addon, { file: interpreter.file, pathInTarget: interpreter.path, elf: interpreter.elf, root: target.root, extraFiles: options.extraFiles });
        if (debugFile) {
          const label = debugFile.startsWith(target.root + '/') ? debugFile.slice(target.root.length) : debugFile;
          yield { offsets: offsetsFromDwarf(addon, debugFile, spec, label), source: `DWARF in ${label}`, version: interpreter.version };
        }
      } else if (source === 'table' && table && spec.tableApplies) {
        yield { offsets: table, source: `the built-in table for 3.${spec.minor}`, version: interpreter.version };
      }
    }
  };

  const matchByFsbase = inOtherPidNamespace(target.pid);
  const problems: string[] = [];
  let starting = false;
  for (const candidate of candidates()) {
    const check = checkCandidate(memory, target, interpreter, spec, candidate, matchByFsbase);
    if ('layout' in check) return check.layout;
    starting ||= check.starting;
    problems.push(`${candidate.source}: ${check.problem}`);
  }
  if (problems.length === 0 && wanted.includes('table') && table && !spec.tableApplies) {
    throw new MixprofError(
      'UNSUPPORTED_PYTHON',
      `the built-in offset tables describe GIL builds, not the free-threaded Python ${versionString(interpreter.version)} in ${interpreter.path}`,
      'take its offsets from the interpreter itself or its DWARF: --offsets-from debug-offsets (or dwarf)',
    );
  }
  if (starting) throw new InterpreterStartingError(`Python in ${interpreter.path} is still starting: ${problems.join('; ')}`);
  const where = `Python ${versionString(interpreter.version)} in ${interpreter.path}${interpreter.elf.buildId ? ` (build-id ${interpreter.elf.buildId})` : ''}`;
  const debian = /^(lib)?python3\.\d+/.test(path.basename(interpreter.path)) ? `install python3.${spec.minor}-dbg matching the running build, or ` : '';
  if (problems.length === 0 || debugFile === null) {
    throw new MixprofError(
      'NO_DEBUG_INFO',
      `no debug info for ${where}${problems.length ? ` and ${problems.join('; ')}` : ''}`,
      `${debian}pass its debug file with -d FILE`,
    );
  }
  throw new MixprofError('UNSUPPORTED_PYTHON', `no offsets match ${where}: ${problems.join('; ')}`, `${debian}pass the debug file of this exact build with -d FILE`);
}

/**
 * Which build: 3.13+ record it in _Py_DebugOffsets; a free-threaded build
 * is also named so (python3.13t, libpython3.13t.so) where the struct cannot be read.
 */
function buildFlavour(memory: MemoryReader, interpreter: InterpreterModule): BuildFlavour {
  const { minor } = interpreter.version;
  const positions = specFor(interpreter.version) ?? newestSpecFor(interpreter.version);
  const recorded = positions?.hasDebugOffsets ? readBuildFlavour(memory, interpreter.runtimeAddress, positions.minor) : null;
  if (recorded) return recorded;
  return new RegExp(`python3\\.${minor}t(\\.so|$)`).test(path.basename(interpreter.path)) ? 'free-threaded' : 'default';
}

/** The candidate's layout when it passes the check against the live process; else what failed, and whether the interpreter is still starting. */
function checkCandidate(
  memory: MemoryReader,
  target: TargetProcess,
  interpreter: InterpreterModule,
  spec: VersionSpec,
  candidate: Candidate,
  matchByFsbase: boolean,
): { readonly layout: PythonLayout } | { readonly problem: string; readonly starting: boolean } {
  const layout = buildLayout(candidate.offsets, {
    version: candidate.version,
    spec,
    source: candidate.source,
    codeTypeAddress: interpreter.codeTypeAddress,
    matchByFsbase,
  });
  const check = checkLayout(memory, layout, interpreter.runtimeAddress, () => new Set(readdirSync(procPath(target.pid, 'task')).map(Number)));
  return check.ok ? { layout } : { problem: check.problem ?? 'it does not match', starting: check.starting === true };
}

/**
 * A version newer than any known: its _Py_DebugOffsets read as the newest
 * known version's, checked to read so, and the layout validated against the
 * live process like any other. The layout, or why it cannot be had.
 */
function attachNewer(memory: MemoryReader, target: TargetProcess, interpreter: InterpreterModule, spec: VersionSpec, options: LayoutOptions): PythonLayout | string {
  if (options.sources && !options.sources.includes('debug-offsets')) return 'only its _Py_DebugOffsets can describe it (not --offsets-from dwarf or table)';
  const table = tableFor(spec.minor);
  let found;
  try {
    found = table ? readDebugOffsets(memory, interpreter.runtimeAddress, spec.minor, table, true) : null;
  } catch (error) {
    if (error instanceof NewerLayoutError) return error.message;
    throw error;
  }
  if (!found) return 'its runtime does not start with _Py_DebugOffsets';
  const source = `the interpreter's _Py_DebugOffsets, read as 3.${spec.minor}'s (a version newer than mixprof knows: its frames are walked with 3.${spec.minor}'s rules)`;
  const check = checkCandidate(memory, target, interpreter, spec, { offsets: found.offsets, source, version: interpreter.version }, inOtherPidNamespace(target.pid));
  if ('layout' in check) return check.layout;
  if (check.starting) throw new InterpreterStartingError(`Python in ${interpreter.path} is still starting: ${check.problem}`);
  return `a layout read from its _Py_DebugOffsets as 3.${spec.minor}'s does not match the process: ${check.problem}`;
}
