/** Whether a target lives in another PID namespace (a container), where its own tids differ from the kernel's. */
import { readlinkSync } from 'node:fs';
import { procPath } from './process.js';

export function inOtherPidNamespace(pid: number): boolean {
  try {
    return readlinkSync(procPath(pid, 'ns', 'pid')) !== readlinkSync('/proc/self/ns/pid');
  } catch {
    return false;
  }
}
