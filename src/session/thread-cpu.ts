/**
 * What each thread of a process ran, from /proc: the check that the sampler
 * saw every thread that did work. A sampler that misses threads (a bpftrace
 * whose filter matches only the main thread, a thread state never found)
 * gives a profile that looks fine; the CPU time the kernel kept says it is not.
 */
import { procPath, threadIds } from '../target/process.js';
import { readTextOrNull as readText } from '../read-text.js';
import { splitStat } from '../target/proc-stat.js';
import type { MissedThread } from '../output/report.js';

export interface ThreadCpu {
  readonly comm: string;
  /** CPU seconds the thread has used since it started. */
  readonly seconds: number;
}

/** USER_HZ, the unit of utime and stime: 100 on every Linux architecture mixprof runs on. */
const USER_HZ = 100;

/** One thread's CPU time: schedstat's nanoseconds when the kernel keeps them, else utime + stime. */
function threadCpu(dir: string): ThreadCpu | null {
  const text = readText(`${dir}/stat`);
  const stat = text === null ? null : splitStat(text);
  if (!stat) return null;
  const { comm, fields } = stat;
  const schedstat = readText(`${dir}/schedstat`)?.split(' ')[0];
  const ns = schedstat === undefined ? NaN : Number(schedstat);
  if (Number.isFinite(ns)) return { comm, seconds: ns / 1e9 };
  // utime and stime: fields 14 and 15.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? { comm, seconds: ticks / USER_HZ } : null;
}

/** Every thread of pid now; an empty map once the process is gone. */
export function readThreadsCpu(pid: number): Map<number, ThreadCpu> {
  const threads = new Map<number, ThreadCpu>();
  for (const tid of threadIds(pid)) {
    const cpu = threadCpu(procPath(pid, 'task', String(tid)));
    if (cpu) threads.set(tid, cpu);
  }
  return threads;
}

export interface MissedThreadsCheck {
  readonly hz: number;
  /** Wall-clock seconds sampled. */
  readonly seconds: number;
  /** cpu: a thread is sampled while it runs; wall: all the time. */
  readonly mode: 'cpu' | 'wall';
}

/** A thread that ran at least this share of the run (of one CPU) counts as noticeable... */
const NOTICEABLE_SHARE = 0.1;
/** ...when that is worth at least this many samples... */
const MIN_EXPECTED = 20;
/** ...and it is missed when it got fewer than this share of them. */
const MISSED_SHARE = 0.2;

/**
 * Threads there at the start and at the end of the run that ran a noticeable
 * share of it and got (almost) no samples, most missed first. Threads that
 * came or went meanwhile are not judged: their CPU time while sampled is not known.
 */
export function missedThreads(
  before: ReadonlyMap<number, ThreadCpu>,
  after: ReadonlyMap<number, ThreadCpu>,
  samplesByThread: ReadonlyMap<number, number>,
  check: MissedThreadsCheck,
): MissedThread[] {
  const missed: MissedThread[] = [];
  for (const [tid, end] of after) {
    const start = before.get(tid);
    if (!start) continue;
    const seconds = check.mode === 'wall' ? check.seconds : Math.max(0, end.seconds - start.seconds);
    const expected = seconds * check.hz;
    const samples = samplesByThread.get(tid) ?? 0;
    if (seconds >= NOTICEABLE_SHARE * check.seconds && expected >= MIN_EXPECTED && samples < MISSED_SHARE * expected) {
      missed.push({ tid, comm: end.comm, seconds, samples, expected });
    }
  }
  return missed.sort((a, b) => b.expected - b.samples - (a.expected - a.samples) || a.tid - b.tid);
}
