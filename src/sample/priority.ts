/**
 * Attaching ahead of a busy machine's other work. Attaching costs about half a
 * second of CPU (loading mixprof, reading the target's files, loading the BPF
 * program, for bpftrace compiling it); on two CPUs kept busy by ten other
 * tasks at the same priority that took five seconds of the clock, and a
 * short-lived process was gone before it was sampled. As root, mixprof runs
 * at nice -10 while it attaches (`sample` from its start, see bin/mixprof)
 * and goes back to the priority it was started with once the samplers run;
 * sampling itself runs at that priority. Linux's nice is per thread: this is
 * the main thread's, where attaching runs, and what a bpftrace started
 * meanwhile inherits (it is put back too).
 */
import { getPriority, setPriority } from 'node:os';
import { raisePriority, STARTED_NICE } from '../startup-priority.js';

/** Raises this thread's priority (if not raised already) until the returned function is called. */
export function raisePriorityWhileAttaching(): () => void {
  raisePriority();
  return () => {
    try {
      if (getPriority() < STARTED_NICE) setPriority(STARTED_NICE);
    } catch {
      // Lowering one's own priority is always allowed.
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
