/**
 * Attaching ahead of a busy machine's other work. Attaching costs about half a
 * second of CPU (loading mixprof, reading the target's files, loading the BPF
 * program, for bpftrace compiling it); on two CPUs kept busy by ten other
 * tasks at the same priority that took five seconds of the clock, and a
 * short-lived process was gone before it was sampled. As root, mixprof runs
 * at nice -10 while it attaches (`sample` and `record` from node's first
 * instruction, see bin/mixprof) and goes back to the priority it was started
 * with once the samplers run; sampling itself runs at that priority. Linux's
 * nice is per thread: each of mixprof's threads is put back, and a bpftrace
 * or command started meanwhile, which inherited the raise, is put back too.
 */
import { getPriority, setPriority } from 'node:os';
import { readTextOrNull } from './read-text.js';
import { raisePriority, STARTED_NICE } from './startup-priority.js';
import { threadIds } from './target/process.js';

/** The wall-clock ticker's thread (native/src/dwarf_sampler.cc): it keeps the raise. */
const KEEPS_RAISE = 'mixprof-wall';

/**
 * Raises this thread's priority (if not raised already) until the returned
 * function is called, which puts every thread of mixprof back (bin/mixprof
 * raised node's helper threads from their start too), but the wall-clock
 * ticker: its passes must keep their schedule on a busy machine, and one
 * costs a few microseconds a thread.
 */
export function raisePriorityWhileAttaching(): () => void {
  raisePriority();
  return () => {
    // setpriority() with a thread id sets that thread's nice.
    for (const tid of [process.pid, ...threadIds(process.pid).filter((tid) => tid !== process.pid)]) {
      if (tid !== process.pid && readTextOrNull(`/proc/self/task/${tid}/comm`)?.trim() === KEEPS_RAISE) continue;
      restorePriority(tid);
    }
  };
}

/** Puts a process started while attaching (bpftrace, record's command) back at mixprof's starting priority. */
export function restorePriority(pid: number): void {
  try {
    if (getPriority(pid) < STARTED_NICE) setPriority(pid, STARTED_NICE);
  } catch {
    // It may have exited.
  }
}
