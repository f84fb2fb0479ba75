/** The target process: existence, identity, and its files as it sees them. */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { MixprofError } from '../errors.js';
import { readTextOrNull } from '../read-text.js';
import { splitStat } from './proc-stat.js';

export interface TargetProcess {
  readonly pid: number;
  readonly comm: string;
  /** /proc/PID/exe as the process sees it (inside its mount namespace). */
  readonly exe: string;
  /** Prefix under which the target's own files are read (its mount namespace). */
  readonly root: string;
  /** Its working directory, which short source paths are relative to; null when unreadable. */
  readonly cwd: string | null;
}

export function procPath(pid: number, ...parts: string[]): string {
  return ['/proc', String(pid), ...parts].join('/');
}

/** PF_KTHREAD in a task's flags (field 9 of /proc/PID/stat). */
const PF_KTHREAD = 0x00200000;

/** What /proc/PID/stat says about a process that rules it out as a target, or null when it can be one. */
export function unprofilable(pid: number, statText: string | null): MixprofError | null {
  const stat = statText === null ? null : splitStat(statText);
  if (stat === null) return null;
  const state = stat.fields[0];
  const flags = Number(stat.fields[6] ?? 0);
  if ((flags & PF_KTHREAD) !== 0) {
    return new MixprofError('NO_SUCH_PROCESS', `process ${pid} (${stat.comm}) is a kernel thread: it runs no user code to profile`, 'pass the PID of a user process (`pgrep -a python`); perf record -a shows kernel threads');
  }
  if (state === 'Z' || state === 'X') {
    return new MixprofError('NO_SUCH_PROCESS', `process ${pid} (${stat.comm}) has exited: it is a zombie, waiting for its parent to collect its status`, 'profile a running process; its parent (the PPid in /proc/PID/status) may be the one to look at');
  }
  return null;
}

/** Why the kernel refused to show a process: the hint depends on who asked. */
function permissionDenied(pid: number): MixprofError {
  if (process.geteuid?.() !== 0) return new MixprofError('NOT_PERMITTED', `cannot inspect process ${pid}: permission denied`, 'run mixprof as root (sudo)');
  return new MixprofError(
    'NOT_PERMITTED',
    `cannot inspect process ${pid}: permission denied, even to root`,
    'something stronger than root forbids it: kernel.yama.ptrace_scope=3, an LSM (AppArmor, SELinux) or a process of another user namespace; `mixprof doctor` checks the first',
  );
}

function readStat(pid: number): string | null {
  return readTextOrNull(procPath(pid, 'stat'));
}

export function openTarget(pid: number): TargetProcess {
  try {
    statSync(procPath(pid));
  } catch {
    throw new MixprofError('NO_SUCH_PROCESS', `no process with PID ${pid}`, 'check the PID with `ps -e` or `pgrep -a python`');
  }
  const refused = unprofilable(pid, readStat(pid));
  if (refused) throw refused;
  let comm = '';
  let exe = '';
  try {
    comm = readFileSync(procPath(pid, 'comm'), 'utf8').trim();
    exe = readlinkSync(procPath(pid, 'exe'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') throw permissionDenied(pid);
    // Gone meanwhile, or became a zombie (which has no executable) while being looked at.
    const now = readStat(pid);
    if (now === null) throw new MixprofError('NO_SUCH_PROCESS', `process ${pid} exited`, 'start the target again and pass its new PID');
    throw unprofilable(pid, now) ?? new MixprofError('NO_SUCH_PROCESS', `process ${pid} has no executable to read (${code ?? (error as Error).message})`, 'pass the PID of a user process');
  }
  return { pid, comm, exe: exe.replace(/ \(deleted\)$/, ''), root: procPath(pid, 'root'), cwd: readCwd(pid) };
}

function readCwd(pid: number): string | null {
  try {
    return readlinkSync(procPath(pid, 'cwd'));
  } catch {
    return null;
  }
}

export function readMapsText(pid: number): string | null {
  return readTextOrNull(procPath(pid, 'maps'));
}

export function isAlive(pid: number): boolean {
  try {
    statSync(procPath(pid));
    return true;
  } catch {
    return false;
  }
}

/** The process's thread ids now (empty when they cannot be read). */
export function threadIds(pid: number): number[] {
  try {
    return readdirSync(procPath(pid, 'task')).map(Number).filter((tid) => Number.isInteger(tid) && tid > 0);
  } catch {
    return [];
  }
}

/** How many threads the process has now (1 when that cannot be read). */
export function threadCount(pid: number): number {
  return Math.max(1, threadIds(pid).length);
}

/**
 * Still has its memory: not exited, not a zombie, not in the middle of its
 * exit (whose memory goes before /proc shows it gone); statm is all zeros then.
 */
export function hasMemory(pid: number): boolean {
  const size = Number(readTextOrNull(procPath(pid, 'statm'))?.split(' ')[0] ?? 0);
  return size > 0;
}
