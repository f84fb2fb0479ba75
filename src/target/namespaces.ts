/** Whether a target lives in another PID namespace (a container), where its own tids differ from the kernel's. */
import { readFileSync, readlinkSync } from 'node:fs';
import { procPath, threadIds } from './process.js';

export function inOtherPidNamespace(pid: number): boolean {
  try {
    return readlinkSync(procPath(pid, 'ns', 'pid')) !== readlinkSync('/proc/self/ns/pid');
  } catch {
    return false;
  }
}

/** Whether a target lives in another mount namespace (a container), where its files have other paths. */
export function inOtherMountNamespace(pid: number): boolean {
  try {
    return readlinkSync(procPath(pid, 'ns', 'mnt')) !== readlinkSync('/proc/self/ns/mnt');
  } catch {
    return false;
  }
}

/**
 * The kernel's id of each of a process's threads, by the id the process
 * itself sees (the last field of NSpid); ids seen from this namespace map to
 * themselves.
 */
export function hostThreadIds(pid: number): Map<number, number> {
  const ids = new Map<number, number>();
  for (const tid of threadIds(pid)) {
    try {
      const nspid = /^NSpid:\s*(.+)$/m.exec(readFileSync(procPath(pid, 'task', String(tid), 'status'), 'utf8'))?.[1];
      const own = nspid ? Number(nspid.trim().split(/\s+/).pop()) : tid;
      ids.set(own, tid);
    } catch {
      // The thread ended: it needs no name.
    }
  }
  return ids;
}
