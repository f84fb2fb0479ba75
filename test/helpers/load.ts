/**
 * A loaded host, for tests that must hold on one: spinning processes, a few
 * per CPU, that die with the test process (a parent-death signal) if it ends
 * without stopping them.
 */
import { cpus } from 'node:os';
import { startWorkload, type Workload } from './processes.js';

const SPIN = 'import ctypes, json, os\nctypes.CDLL(None).prctl(1, 9)\nprint("READY " + json.dumps({"pid": os.getpid()}), flush=True)\nwhile True:\n    pass\n';

export interface Load {
  readonly pids: readonly number[];
  stop(): Promise<void>;
}

/** Starts perCpu spinning processes per CPU and resolves once all of them spin. */
export async function startLoad(perCpu = 2): Promise<Load> {
  const spinners: Workload<{ pid: number }>[] = [];
  try {
    for (let i = 0; i < perCpu * cpus().length; i++) spinners.push(await startWorkload<{ pid: number }>('/usr/bin/python3', ['-c', SPIN]));
  } catch (error) {
    await Promise.all(spinners.map((s) => s.stop()));
    throw error;
  }
  return { pids: spinners.map((s) => s.pid), stop: async () => void (await Promise.all(spinners.map((s) => s.stop()))) };
}
