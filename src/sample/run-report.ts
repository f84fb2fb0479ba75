/** The report on stderr after a run: one process's, or the processes' summed with a line for each. */
import { combineStats } from '../profile/combine.js';
import { formatReport } from '../output/report.js';
import type { StopReason } from '../sampler/sampler.js';
import type { ProcessRun } from '../session/session.js';
import type { RunOptions } from './run.js';

const STOP_TEXT: Record<StopReason, string> = {
  duration: 'duration reached',
  interrupted: 'interrupted',
  'target-exited': 'target exited',
  'target-execd': "the target exec'd another program",
  'bpftrace-exited': 'bpftrace exited',
  'attach-timeout': 'attach timed out',
  'sampler-failed': 'the sampler failed',
};

function describeStop(run: ProcessRun): string {
  return STOP_TEXT[run.reason] + (run.killed ? '; bpftrace had to be killed, its last second of samples is lost' : '');
}

/** Processes listed one per line in the report. */
const MAX_LISTED_PROCESSES = 20;

export function reportLines(runs: readonly ProcessRun[], options: Pick<RunOptions, 'hz' | 'mode'>): string[] {
  const first = runs[0]!;
  if (runs.length === 1) {
    return formatReport(first.profile.stats, {
      hz: options.hz,
      seconds: first.seconds,
      python: first.python,
      noFramePointers: first.noFramePointers,
      stopReason: describeStop(first),
      stackErrors: first.stackErrors,
      missedThreads: first.missedThreads,
      wallPassesFailed: first.wallPassesFailed,
      ...(first.unwinds ? { unwinds: first.unwinds } : {}),
      unwind: first.unwind,
      mode: options.mode,
    });
  }
  const stats = combineStats(runs.map((r) => r.profile.stats));
  const lines = formatReport(stats, {
    hz: options.hz,
    seconds: Math.max(...runs.map((r) => r.seconds)),
    python: runs.some((r) => r.python),
    noFramePointers: runs.find((r) => r.noFramePointers)?.noFramePointers ?? null,
    stopReason: `${runs.length} processes`,
    stackErrors: runs.reduce((n, r) => n + r.stackErrors, 0),
    missedThreads: runs.flatMap((r) => r.missedThreads),
    wallPassesFailed: runs.reduce((n, r) => n + r.wallPassesFailed, 0),
    unwind: first.unwind,
    mode: options.mode,
  });
  // Recycled workers can be hundreds: the busiest are listed, in PID order, and the rest summed.
  const listed = new Set(runs.length <= MAX_LISTED_PROCESSES ? runs : [...runs].sort((a, b) => b.profile.stats.samples - a.profile.stats.samples).slice(0, MAX_LISTED_PROCESSES - 1));
  for (const run of runs) {
    if (listed.has(run)) lines.push(`  process ${run.pid} (${run.comm}): ${run.profile.stats.samples} samples over ${run.seconds.toFixed(1)} s (${describeStop(run)})`);
  }
  const rest = runs.filter((r) => !listed.has(r));
  if (rest.length > 0) lines.push(`  ${rest.length} more processes: ${rest.reduce((n, r) => n + r.profile.stats.samples, 0)} samples (--pid-root shows each)`);
  return lines;
}
