/** The target process: existence, identity, and its files as it sees them. */
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { MixprofError } from '../errors.js';

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

export function openTarget(pid: number): TargetProcess {
  try {
    statSync(procPath(pid));
  } catch {
    throw new MixprofError('NO_SUCH_PROCESS', `no process with PID ${pid}`, 'check the PID with `ps -e` or `pgrep -a python`');
  }
  let comm = '';
  let exe = '';
  try {
    comm = readFileSync(procPath(pid, 'comm'), 'utf8').trim();
    exe = readlinkSync(procPath(pid, 'exe'));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') {
      throw new MixprofError('NO_SUCH_PROCESS', `process ${pid} exited`, 'start the target again and pass its new PID');
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new MixprofError('NOT_PERMITTED', `cannot inspect process ${pid}: permission denied`, 'run mixprof as root (sudo)');
    }
    if (!exe) {
      throw new MixprofError('NO_SUCH_PROCESS', `process ${pid} has no executable (a kernel thread?)`, 'pass the PID of a user process');
    }
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
  try {
    return readFileSync(procPath(pid, 'maps'), 'utf8');
  } catch {
    return null;
  }
}

export function isAlive(pid: number): boolean {
  try {
    statSync(procPath(pid));
    return true;
  } catch {
    return false;
  }
}

/** How many threads the process has now (1 when that cannot be read). */
export function threadCount(pid: number): number {
  try {
    return Math.max(1, readdirSync(procPath(pid, 'task')).length);
  } catch {
    return 1;
  }
}
