/**
 * One look at a running process (`mixprof dump`): a wall-clock session of a
 * fraction of a second. Its first pass over the threads takes every thread
 * off CPU where it waits (its kernel stack, its registers as saved on entry
 * to the kernel, its Python chain) without stopping it, and each thread on
 * a CPU at its next clock sample; the later passes stand in for a thread
 * the first one missed (thread-dump.ts).
 */
import { ProcessTasks, type AsyncInterpreter } from '../asyncio/process-tasks.js';
import type { AsyncTask } from '../asyncio/task-tree.js';
import { MixprofError } from '../errors.js';
import { shortenPath } from '../symbolize/short-paths.js';
import { openTarget } from '../target/process.js';
import { nativeAddon } from '../native.js';
import { processMemory } from '../target/memory.js';
import { readThreadLocals } from './frame-locals.js';
import type { OffsetSource } from '../python/find-layout.js';
import { startProcessSession } from '../session/session.js';
import { MAX_PYTHON_DEPTH } from '../session/session-options.js';
import { dumpThreads, FIRST_PASS_WEIGHT, inDumpOrder, type ProcessDump } from '../profile/thread-dump.js';

/**
 * Passes over the threads a second, and how long they go on: a thread on a
 * CPU is found by the clock within 1/DUMP_HZ of its CPU time; one taken off
 * its CPU before that is found by a later pass.
 */
export const DUMP_HZ = 100;
export const DUMP_SECONDS = 0.25;

export interface DumpOptions {
  readonly extraFiles: readonly string[];
  readonly hidePlumbing: boolean;
  readonly fullPaths: boolean;
  readonly offsetSources?: readonly OffsetSource[];
  /** Also read each Python frame's variables. */
  readonly locals?: boolean;
  /** Also read the asyncio tasks. */
  readonly async?: boolean;
}

/** The process's asyncio tasks after the look, or why there are none. */
function readTasks(pid: number, interpreter: AsyncInterpreter | null, fullPaths: boolean): readonly AsyncTask[] | { problem: string } {
  if (!interpreter) return { problem: 'no Python interpreter was read in this process' };
  const addon = nativeAddon();
  const cwd = openTarget(pid).cwd;
  const showPath = fullPaths ? (file: string): string => file : (file: string): string => shortenPath(file, cwd);
  const tasks = ProcessTasks.open(addon, processMemory(addon, pid), pid, interpreter, showPath);
  return 'problem' in tasks ? tasks : tasks.read();
}

export async function dumpProcess(pid: number, options: DumpOptions, log: (line: string) => void): Promise<ProcessDump> {
  const session = await startProcessSession(
    pid,
    {
      durationSeconds: DUMP_SECONDS,
      hz: DUMP_HZ,
      mode: 'wall',
      unwind: 'auto',
      nativeOnly: false,
      maxDepth: MAX_PYTHON_DEPTH,
      extraFiles: options.extraFiles,
      hidePlumbing: options.hidePlumbing,
      fullPaths: options.fullPaths,
      threadRoots: true,
      gil: 'when-readable',
      firstPassWeight: FIRST_PASS_WEIGHT,
      quiet: true,
      ...(options.offsetSources ? { offsetSources: options.offsetSources } : {}),
    },
    log,
  );
  const run = await session.done;
  if (run.failure !== null) throw new MixprofError('SAMPLER_FAILED', `the dump of process ${pid} failed: ${run.failure}`, 'run it again');
  if (run.profile.stacks.length === 0 && run.reason === 'target-exited') throw new MixprofError('NO_SUCH_PROCESS', `process ${pid} exited during the dump`, 'nothing is left to look at');
  const threads = inDumpOrder(run.pid, dumpThreads(run.profile, run.gil));
  const locals = options.locals && run.interpreter ? readThreadLocals(processMemory(nativeAddon(), pid), run.interpreter, threads) : null;
  return {
    pid: run.pid,
    comm: run.comm,
    python: run.pythonVersion,
    threads: locals ? threads.map((t) => ({ ...t, locals: locals.get(t.tid) ?? { missing: 'not-python' } })) : threads,
    ...(options.async ? { tasks: readTasks(pid, run.interpreter, options.fullPaths) } : {}),
  };
}
