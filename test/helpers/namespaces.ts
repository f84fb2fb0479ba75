/** Thread ids across PID namespaces, read from /proc as the test's own check. */
import { readdir, readFile } from 'node:fs/promises';

/** The kernel's id of each thread of pid, by the id the thread has inside its PID namespace (NSpid's last field). */
export async function tidsByNamespaceTid(pid: number): Promise<Map<number, number>> {
  const map = new Map<number, number>();
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const nspid = /^NSpid:\s+(.*)$/m.exec(await readFile(`/proc/${pid}/task/${task}/status`, 'utf8'))?.[1]?.trim().split(/\s+/);
    if (nspid) map.set(Number(nspid.at(-1)), Number(nspid[0]));
  }
  return map;
}
