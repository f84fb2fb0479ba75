/** The short summary printed on stderr after sampling. */
import { MISMATCH_FRAME } from '../profile/merge.js';
import type { UnwindCounts } from '../native.js';
import type { ProfileStats } from '../profile/profile.js';

/** A thread that ran and got (almost) no samples. */
export interface MissedThread {
  readonly tid: number;
  readonly comm: string;
  /** CPU seconds it ran while sampled (wall mode: the seconds it was there). */
  readonly seconds: number;
  readonly samples: number;
  readonly expected: number;
}

export interface ReportContext {
  readonly hz: number;
  readonly seconds: number;
  readonly python: boolean;
  /** Set when the interpreter's eval loop keeps no frame pointer. */
  readonly noFramePointers: string | null;
  readonly stopReason: string;
  readonly stackErrors: number;
  /** Threads that ran and got (almost) no samples, and the unwinder that missed them. */
  readonly missedThreads?: readonly MissedThread[];
  readonly unwind?: 'fp' | 'dwarf';
  readonly mode?: 'cpu' | 'wall';
  /** Wall-clock passes over the threads that could not run. */
  readonly wallPassesFailed?: number;
  /** How the DWARF sampler's stacks were unwound (the target's). */
  readonly unwinds?: UnwindCounts;
}

/** Threads named in the warning; the rest are counted. */
const MISSED_SHOWN = 3;

/** The sampler missed threads that did work: never silently. */
function missedThreadsLine(missed: readonly MissedThread[], context: ReportContext): string {
  const ran = context.mode === 'wall' ? 'there' : 'on CPU';
  const shown = missed.slice(0, MISSED_SHOWN).map((t) => `${t.comm} (${t.tid}: ${t.seconds.toFixed(1)} s ${ran}, ${t.samples} of ~${Math.round(t.expected)} samples)`);
  const more = missed.length > MISSED_SHOWN ? ` and ${missed.length - MISSED_SHOWN} more` : '';
  const them = missed.length === 1 ? 'it' : 'them';
  // Wall-clock mode has one sampler; in CPU mode the other one may see them.
  const instead = context.mode === 'wall' ? `Sampling in CPU mode (without --mode wall) may see ${them}` : `Sampling with --unwind ${context.unwind === 'fp' ? 'dwarf' : 'fp'} may see ${them}`;
  return (
    `  warning: the sampler missed ${missed.length === 1 ? 'a thread that' : `${missed.length} threads that`} ran: ${shown.join(', ')}${more}; ` +
    `their work is not in this profile. ${instead}; please report this.`
  );
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** "1 sample", "2 samples". */
function samplesCount(n: number): string {
  return `${n} sample${n === 1 ? '' : 's'}`;
}

/** Share of samples without a known eval-loop frame from which the build is said to lack its name. */
const EVAL_UNKNOWN_SHARE = 0.01;

export function formatReport(stats: ProfileStats, context: ReportContext): string[] {
  const lines = [
    `mixprof: ${stats.samples} samples at ${context.hz} Hz over ${context.seconds.toFixed(1)} s (${context.stopReason}), ${stats.threads} thread${stats.threads === 1 ? '' : 's'}, lost events: ${stats.lostEvents}`,
  ];
  if (context.python) {
    lines.push(
      `  with Python frames: ${percent(stats.withPython, stats.samples)}; native stack complete: ${percent(stats.nativeComplete, stats.samples)}` +
        (stats.truncated ? `; truncated Python stacks: ${percent(stats.truncated, stats.samples)}` : ''),
    );
    const problems: string[] = [];
    if (stats.missingChains) problems.push(`${samplesCount(stats.missingChains)} lost their Python frames (events dropped)`);
    if (stats.unknownPythonFrames) problems.push(`${samplesCount(stats.unknownPythonFrames)} with unreadable Python frames`);
    if (stats.mismatched) problems.push(`${samplesCount(stats.mismatched)} where native eval-loop frames and Python frames disagree (kept apart, under ${MISMATCH_FRAME})`);
    // A few such samples (a thread caught where its stack holds no eval-loop
    // frame mixprof can name) say nothing about the build; many say its eval loop has no name.
    const evalUnnamed = stats.evalUnknown >= EVAL_UNKNOWN_SHARE * stats.samples;
    if (stats.evalUnknown && !evalUnnamed) problems.push(`${samplesCount(stats.evalUnknown)} with Python frames but no eval-loop frame in their native stack`);
    const stoppedMany = stats.unwindStopped >= EVAL_UNKNOWN_SHARE * stats.samples;
    if (stats.unwindStopped && !stoppedMany) problems.push(`${samplesCount(stats.unwindStopped)} whose native unwind stopped before the interpreter`);
    if (stats.unwoundBeforeMapped) {
      problems.push(`${samplesCount(stats.unwoundBeforeMapped)} taken in code loaded just before (a library, or a C extension a forked worker imported), unwound before mixprof had read where it was: their C frames between it and the Python code are not shown`);
    }
    if (stats.unwoundBeyondCopy) {
      problems.push(`${samplesCount(stats.unwoundBeyondCopy)} whose stack went deeper than the part copied at the sample, the rest read later from a process that had moved on or ended: their C frames below the copy are not shown`);
    }
    if (stats.unwoundShort) {
      problems.push(
        `${samplesCount(stats.unwoundShort)} kept only the native frames the kernel could unwind, not a stack copy: the ring buffer was nearly full (mixprof drained it late), and a copy could have crowded out the samples after it`,
      );
    }
    if (problems.length) lines.push(`  note: ${problems.join('; ')}`);
    if (stoppedMany && stats.unwindStopped) {
      lines.push(
        `  warning: in ${percent(stats.unwindStopped, stats.samples)} of samples the native unwind stopped before it reached the interpreter, most often at ${stats.unwindStoppedAt ?? 'code without a name'}, ` +
          'which has no call frame information (hand-written assembly often has none): the C frames between it and the Python code are not shown. Its own time is counted under its Python caller.',
      );
    }
    if (evalUnnamed && stats.evalUnknown) {
      lines.push(
        `  warning: in ${percent(stats.evalUnknown, stats.samples)} of samples the interpreter's eval loop has no symbol, so native frames inside the interpreter are left out ` +
          "(C frames between Python frames are not shown); install the interpreter's -dbg package or pass its debug file with -d.",
      );
    }
  } else {
    lines.push(`  native stack complete: ${percent(stats.nativeComplete, stats.samples)}`);
  }
  const gilKnown = stats.gilHeld + stats.gilReleased + stats.noPythonThread;
  // Only --gil reads the GIL's state; the shares are of the samples that read it.
  if (gilKnown > 0) {
    lines.push(
      `  GIL: held in ${percent(stats.gilHeld, gilKnown)} of samples, released in ${percent(stats.gilReleased, gilKnown)}` +
        (stats.noPythonThread ? `, no Python thread in ${percent(stats.noPythonThread, gilKnown)}` : ''),
    );
  }
  const unwound = context.unwinds ? context.unwinds.kernel + context.unwinds.tables + context.unwinds.libdwfl : 0;
  if (context.unwinds && unwound > 0) {
    lines.push(`  native stacks unwound in the kernel: ${percent(context.unwinds.kernel, unwound)} (the rest copied and unwound by mixprof)`);
  }
  if (context.stackErrors) lines.push(`  note: bpftrace could not look up ${context.stackErrors} stacks; those samples miss their native or kernel frames`);
  if (stats.malformedRecords) lines.push(`  note: ${stats.malformedRecords} malformed records from bpftrace were skipped`);
  if (context.missedThreads?.length) lines.push(missedThreadsLine(context.missedThreads, context));
  if (context.wallPassesFailed) {
    const n = context.wallPassesFailed;
    lines.push(
      `  warning: ${n} wall-clock pass${n === 1 ? '' : 'es'} over the threads (${context.hz} a second) could not run (the kernel refused the thread iterator): threads off CPU were not sampled in ${n === 1 ? 'it' : 'them'}, so time spent waiting counts less than it took. ` +
        'Check the kernel log (dmesg) and the open-file limit (ulimit -n); please report this.',
    );
  }
  if (context.noFramePointers) {
    lines.push(
      `  warning: ${context.noFramePointers} is built without frame pointers, so native stacks stop at the leaf function: ` +
        'Python frames are complete, native callers between and above them are not shown. A build with -fno-omit-frame-pointer gives full native stacks.',
    );
  }
  return lines;
}
