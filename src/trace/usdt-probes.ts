/**
 * Which of the interpreter's USDT probes `mixprof trace` can use. Debian's,
 * Ubuntu's and Fedora's builds have them (--with-dtrace); pyenv's and
 * python.org's do not. CPython 3.12 to 3.14 fire no function__entry/return
 * (their eval loop dropped the calls; 3.15 has them again): only their GC
 * and import probes remain.
 */
import { readlinkSync } from 'node:fs';
import { MixprofError } from '../errors.js';
import type { NativeAddon } from '../native.js';
import type { InterpreterModule } from '../target/interpreter.js';
import { older, type Bpftrace } from '../sampler/bpftrace.js';
import { isPlainPath, type ProbePath } from '../sampler/program.js';
import { inOtherMountNamespace } from '../target/namespaces.js';
import { procPath, type TargetProcess } from '../target/process.js';
import { versionString, type PythonVersion } from '../python/layout.js';

export interface ProbeGroups {
  /** function__entry and function__return. */
  readonly functions: boolean;
  /**
   * 3.11 fires function__entry only on the eval loop's tracing path, which
   * it takes only while the line probe is enabled: that probe is enabled too
   * (every line then traps into the kernel: the cost of calls on 3.11).
   */
  readonly entryNeedsLine: boolean;
  /** gc__start and gc__done. */
  readonly gc: boolean;
  /** import__find__load__start and import__find__load__done. */
  readonly imports: boolean;
}

const GROUPS = {
  functions: ['function__entry', 'function__return'],
  gc: ['gc__start', 'gc__done'],
  imports: ['import__find__load__start', 'import__find__load__done'],
} as const;

/** The groups whose probes the file names (provider "python"), both ends of each. */
export function probeGroups(names: ReadonlySet<string>, minor: number): ProbeGroups {
  const has = (group: keyof typeof GROUPS): boolean => GROUPS[group].every((n) => names.has(n));
  const functions = has('functions') && (minor !== 11 || names.has('line'));
  return { functions, entryNeedsLine: functions && minor === 11, gc: has('gc'), imports: has('imports') };
}

const USE_SAMPLE = 'use `mixprof sample` to see where the time goes (it needs no probes)';

/**
 * The probe groups of the target's interpreter. They must be in the
 * executable (Debian and Ubuntu link libpython into it: see probeFile);
 * throws when none can be traced.
 */
export function interpreterProbes(addon: NativeAddon, target: TargetProcess, interpreter: InterpreterModule): ProbeGroups {
  const python = `Python ${versionString(interpreter.version)} (${interpreter.path})`;
  const names = new Set(
    addon
      .usdtProbes(interpreter.file)
      .filter((p) => p.provider === 'python')
      .map((p) => p.name),
  );
  const groups = probeGroups(names, interpreter.version.minor);
  if (!groups.functions && !groups.gc && !groups.imports) {
    throw new MixprofError('UNSUPPORTED_PYTHON', `${python} has no USDT probes to trace: it was built without --with-dtrace, as pyenv's and python.org's builds are (Debian's and Ubuntu's have them)`, USE_SAMPLE);
  }
  if (interpreter.path !== target.exe) {
    throw new MixprofError('UNSUPPORTED_PYTHON', `${python}: its probes are in a shared library, which mixprof trace does not attach to yet (only to probes in the executable, as Debian's and Ubuntu's builds have them)`, USE_SAMPLE);
  }
  return groups;
}

/** The oldest bpftrace seen to attach to the probes of a process in a container with -p (0.17 and 0.23 find none). */
export const CONTAINER_PROBES_FROM = [0, 27, 0] as const;

/**
 * The interpreter's file as the program names it: /proc/PID/exe, which
 * holds no path at all, for a process in mixprof's own mount namespace; for
 * one in a container, its path inside the container, which is where bpftrace
 * looks for it (through the process's root).
 */
export function probeFile(target: TargetProcess, bpftrace: Bpftrace): ProbePath {
  if (!inOtherMountNamespace(target.pid)) return { path: `/proc/${target.pid}/exe` };
  if (older(bpftrace.version, CONTAINER_PROBES_FROM)) {
    throw new MixprofError(
      'BPFTRACE_TOO_OLD',
      `process ${target.pid} runs in a container (another mount namespace), whose USDT probes bpftrace ${bpftrace.version.join('.')} cannot attach to`,
      `use bpftrace ${CONTAINER_PROBES_FROM.join('.')} or newer (MIXPROF_BPFTRACE=/path/to/bpftrace), or run mixprof trace inside the container`,
    );
  }
  let root = '/';
  try {
    root = readlinkSync(procPath(target.pid, 'root'));
  } catch {
    // Gone meanwhile: bpftrace will say so.
  }
  // The executable as seen from here lies under the container's root, when that is reachable from here.
  const inside = root !== '/' && target.exe.startsWith(`${root}/`) ? target.exe.slice(root.length) : target.exe;
  if (!isPlainPath(inside)) {
    throw new MixprofError('UNSUPPORTED_PYTHON', `process ${target.pid}'s interpreter, ${JSON.stringify(inside)} in its container, has characters in its path that a bpftrace probe cannot name`, USE_SAMPLE);
  }
  return { path: inside };
}

/** The line said when calls cannot be traced but collections or imports can. */
export function noCallsLine(version: PythonVersion): string {
  const why = version.minor >= 12 && version.minor <= 14 ? 'fires no function__entry/return probes (CPython 3.12 to 3.14 dropped them)' : 'has no function__entry/return probes to trace';
  return `mixprof: Python ${versionString(version)} ${why}: calls are not traced, only garbage collections and imports; ${USE_SAMPLE}`;
}
