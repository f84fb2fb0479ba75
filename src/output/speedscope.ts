/**
 * speedscope's own JSON file format (https://www.speedscope.app/file-format-schema.json),
 * read by https://www.speedscope.app and the `speedscope` command. One
 * 'sampled' profile, or one per thread when every stack starts at a thread
 * root ("comm (tid)", --threads): speedscope then offers a thread selector.
 *
 * Weights are seconds (count / hz): speedscope prints a time unit as "1.23s"
 * or "450ms" in its tooltips and tables, which reads better than a bare sample
 * count and is what one sample stands for; the count is still count = weight * hz.
 */
import type { Frame } from '../symbolize/frame.js';
import type { StackCount } from '../profile/profile.js';
import type { OutputProfile } from './output-profile.js';
import type { Timeline } from '../profile/timeline.js';
import { threadLabel } from '../sampler/sampler.js';
import { samplesByThread } from './timeline-intervals.js';

/** The file a kernel frame is shown with, so it stands apart from native code of the same name. */
export const SPEEDSCOPE_KERNEL_FILE = '[kernel.kallsyms]';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
}

interface SampledProfile {
  type: 'sampled';
  name: string;
  unit: 'seconds';
  startValue: number;
  endValue: number;
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: 'https://www.speedscope.app/file-format-schema.json';
  exporter: string;
  name: string;
  activeProfileIndex: number;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SampledProfile[];
}

/**
 * What speedscope shows for a frame. Python: the qualname, with file and line
 * in their own fields (speedscope shows "file:line" beside the name), so the
 * display name "qualname (file.py:LINE)" is rebuilt from them without loss.
 * Native: the symbol and its module; kernel: the symbol and a kernel "file".
 */
export function speedscopeFrame(frame: Frame): SpeedscopeFrame {
  switch (frame.kind) {
    case 'python': {
      const out: SpeedscopeFrame = { name: frame.func ?? frame.name };
      if (frame.file !== undefined) out.file = frame.file;
      if (frame.line !== undefined) out.line = frame.line;
      return out;
    }
    case 'native':
      return frame.file === undefined ? { name: frame.name } : { name: frame.name, file: frame.file };
    case 'kernel':
      return { name: frame.name, file: SPEEDSCOPE_KERNEL_FILE };
    case 'marker':
      return { name: frame.name };
  }
}

/** The root frame --threads puts on every stack: "comm (tid)". */
const THREAD_ROOT = /\(\d+\)$/;

function isThreadRoot(frame: Frame | undefined): boolean {
  return frame !== undefined && frame.kind === 'marker' && THREAD_ROOT.test(frame.name);
}

/**
 * --timeline: a profile per thread ("name (tid)"), its samples in the order
 * taken, so that speedscope's Time Order view is the thread's time line
 * (without its gaps: speedscope lays samples end to end). The busiest
 * thread first.
 */
function timeOrdered(timeline: Timeline, hz: number, indexOf: (frame: Frame) => number): SampledProfile[] {
  const profiles: { profile: SampledProfile; count: number }[] = [];
  const stacks = new Map<number, number[]>();
  const stackOf = (index: number): number[] => {
    let known = stacks.get(index);
    if (!known) stacks.set(index, (known = timeline.stacks[index]!.frames.map(indexOf)));
    return known;
  };
  const threads = new Map(timeline.threads.map((t) => [t.tid, t]));
  for (const [tid, samples] of samplesByThread(timeline)) {
    if (samples.length === 0) continue;
    const thread = threads.get(tid);
    let count = 0;
    for (const s of samples) count += s.weight;
    profiles.push({
      count,
      profile: {
        type: 'sampled',
        name: threadLabel(thread, tid),
        unit: 'seconds',
        startValue: 0,
        endValue: count / hz,
        samples: samples.map((s) => stackOf(s.stack)),
        weights: samples.map((s) => s.weight / hz),
      },
    });
  }
  profiles.sort((a, b) => b.count - a.count);
  return profiles.length > 0 ? profiles.map((p) => p.profile) : [{ type: 'sampled', name: 'no samples', unit: 'seconds', startValue: 0, endValue: 0, samples: [], weights: [] }];
}

export function formatSpeedscope(profile: OutputProfile): string {
  const frames: SpeedscopeFrame[] = [];
  const frameIndex = new Map<string, number>();
  // Frame objects repeat across stacks (the merge shares them): look each one up once.
  const byObject = new Map<Frame, number>();
  const indexOf = (frame: Frame): number => {
    let index = byObject.get(frame);
    if (index !== undefined) return index;
    const shown = speedscopeFrame(frame);
    const key = JSON.stringify([shown.name, shown.file ?? null, shown.line ?? null]);
    index = frameIndex.get(key);
    if (index === undefined) {
      index = frames.length;
      frames.push(shown);
      frameIndex.set(key, index);
    }
    byObject.set(frame, index);
    return index;
  };

  // Empty stacks and zero counts carry nothing speedscope can draw (it skips zero weights).
  const stacks = profile.stacks.filter((s) => s.frames.length > 0 && s.count > 0);
  const perThread = stacks.length > 0 && stacks.every((s) => isThreadRoot(s.frames[0]));

  const sampled = (name: string, group: readonly StackCount[], skipRoot: boolean): SampledProfile => {
    const samples: number[][] = [];
    const weights: number[] = [];
    let total = 0;
    for (const stack of group) {
      // The thread is the profile's name; its root frame would only take a row.
      // A stack with nothing below the thread root keeps it, as speedscope draws no empty stack.
      const shown = skipRoot && stack.frames.length > 1 ? stack.frames.slice(1) : stack.frames;
      samples.push(shown.map(indexOf));
      weights.push(stack.count / profile.hz);
      total += stack.count;
    }
    // From the count, not a sum of rounded weights.
    return { type: 'sampled', name, unit: 'seconds', startValue: 0, endValue: total / profile.hz, samples, weights };
  };

  let profiles: SampledProfile[];
  if (profile.timeline) {
    profiles = timeOrdered(profile.timeline, profile.hz, indexOf);
  } else if (perThread) {
    const threads = new Map<string, { stacks: StackCount[]; count: number }>();
    for (const stack of stacks) {
      const name = stack.frames[0]!.name;
      let thread = threads.get(name);
      if (!thread) {
        thread = { stacks: [], count: 0 };
        threads.set(name, thread);
      }
      thread.stacks.push(stack);
      thread.count += stack.count;
    }
    // The busiest thread first: speedscope opens activeProfileIndex, 0.
    profiles = [...threads]
      .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
      .map(([name, thread]) => sampled(name, thread.stacks, true));
  } else {
    // Even with no samples one (empty) profile: speedscope expects at least one to show.
    profiles = [sampled(profile.title, stacks, false)];
  }

  const file: SpeedscopeFile = {
    $schema: 'https://www.speedscope.app/file-format-schema.json',
    exporter: 'mixprof',
    name: profile.title,
    activeProfileIndex: 0,
    shared: { frames },
    profiles,
  };
  return JSON.stringify(file) + '\n';
}
