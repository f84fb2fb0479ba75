/**
 * Chrome's Trace Event Format (JSON object form), as py-spy's chrometrace
 * writes it: opened by Perfetto (ui.perfetto.dev), chrome://tracing and
 * speedscope. Each thread is a track of its own ("thread_name" metadata,
 * grouped by process); the functions on its stack are duration events
 * ("B" when a frame appears between two samples, "E" when it goes), so a
 * function that runs for a while is one bar, nested in its callers.
 *
 * A frame is the function, not the line running: a loop does not split into
 * bars at every line. Where a thread's samples stop (off CPU in CPU mode,
 * or the end) its frames end one period after its last sample.
 */
import type { Frame } from '../symbolize/frame.js';
import { threadLabel } from '../sampler/sampler.js';
import type { OutputProfile } from './output-profile.js';
import { samplesByThread, sampleEnd, timelineOf } from './timeline-intervals.js';

export interface TraceEvent {
  name: string;
  ph: 'B' | 'E' | 'M';
  pid: number;
  tid: number;
  /** Microseconds from the start of sampling. */
  ts: number;
  cat?: string;
  args?: Record<string, string | number>;
}

/** What identifies a frame on a track: equal frames at one depth are one bar. */
function barKey(frame: Frame): string {
  return `${frame.kind}\u0000${frame.func ?? frame.name}\u0000${frame.file ?? ''}`;
}

function beginEvent(frame: Frame, pid: number, tid: number, ts: number): TraceEvent {
  const args: Record<string, string | number> = {};
  if (frame.file !== undefined) args['file'] = frame.file;
  if (frame.kind === 'python' && frame.line !== undefined) args['line'] = frame.line;
  return { name: frame.func ?? frame.name, cat: frame.kind, ph: 'B', pid, tid, ts, ...(Object.keys(args).length > 0 ? { args } : {}) };
}

/** Microseconds, to a tenth (the format's unit; viewers take fractions). */
function micros(ms: number): number {
  return Math.round(ms * 10_000) / 10;
}

export function formatChrometrace(profile: OutputProfile): string {
  const { timeline, periodMs, start } = timelineOf(profile);
  const events: TraceEvent[] = [];
  const processes = new Map<number, string>();
  for (const t of timeline.threads) processes.set(t.pid, t.process);
  for (const [pid, name] of processes) events.push({ name: 'process_name', ph: 'M', pid, tid: 0, ts: 0, args: { name: `${name} (${pid})` } });
  for (const t of timeline.threads) {
    events.push({ name: 'thread_name', ph: 'M', pid: t.pid, tid: t.tid, ts: 0, args: { name: threadLabel(t, t.tid) } });
    // The main thread first, then in the order first sampled.
    events.push({ name: 'thread_sort_index', ph: 'M', pid: t.pid, tid: t.tid, ts: 0, args: { sort_index: t.tid === t.pid ? -1 : events.length } });
  }
  const keys = timeline.stacks.map((s) => s.frames.map(barKey));
  for (const samples of samplesByThread(timeline).values()) {
    // The frames open on this track, root first.
    let open: { frames: readonly Frame[]; keys: readonly string[] } = { frames: [], keys: [] };
    const close = (depth: number, ts: number, pid: number, tid: number): void => {
      for (let d = open.frames.length - 1; d >= depth; d--) {
        const f = open.frames[d]!;
        events.push({ name: f.func ?? f.name, cat: f.kind, ph: 'E', pid, tid, ts });
      }
    };
    samples.forEach((sample, i) => {
      const frames = timeline.stacks[sample.stack]!.frames;
      const k = keys[sample.stack]!;
      const ts = micros(sample.time - start);
      let common = 0;
      while (common < open.keys.length && common < k.length && open.keys[common] === k[common]) common++;
      close(common, ts, sample.pid, sample.tid);
      for (let d = common; d < frames.length; d++) events.push(beginEvent(frames[d]!, sample.pid, sample.tid, ts));
      open = { frames, keys: k };
      const next = samples[i + 1];
      const end = sampleEnd(sample, next, periodMs);
      if (next === undefined || end < next.time) {
        close(0, micros(end - start), sample.pid, sample.tid);
        open = { frames: [], keys: [] };
      }
    });
  }
  const file = {
    traceEvents: events,
    displayTimeUnit: 'ms',
    otherData: { exporter: 'mixprof', title: profile.title, hz: profile.hz, ...(profile.startTime !== null ? { startTime: new Date(profile.startTime).toISOString() } : {}) },
  };
  return JSON.stringify(file) + '\n';
}
