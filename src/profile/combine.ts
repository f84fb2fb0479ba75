/**
 * One profile from the profiles of several processes: equal stacks add up,
 * or, with process roots, each process's stacks sit under a "comm (pid)" frame.
 */
import { emptyStats, stackKey, type Profile, type ProfileStats, type StackCount } from './profile.js';
import type { Frame } from '../symbolize/frame.js';

export interface ProcessProfile {
  readonly pid: number;
  readonly comm: string;
  readonly profile: Profile;
}

export function processFrame(pid: number, comm: string): Frame {
  return { kind: 'marker', name: `${comm} (${pid})` };
}

export function combineStacks(processes: readonly ProcessProfile[], processRoots: boolean): StackCount[] {
  const stacks = new Map<string, StackCount>();
  for (const { pid, comm, profile } of processes) {
    const root = processRoots ? processFrame(pid, comm) : null;
    for (const stack of profile.stacks) {
      const frames = root ? [root, ...stack.frames] : stack.frames;
      const key = stackKey(frames);
      const entry = stacks.get(key);
      if (entry) entry.count += stack.count;
      else stacks.set(key, { frames, count: stack.count });
    }
  }
  return [...stacks.values()];
}

export function combineStats(all: readonly ProfileStats[]): ProfileStats {
  const total = emptyStats();
  for (const stats of all) {
    for (const key of Object.keys(total) as (keyof ProfileStats)[]) {
      const value = stats[key];
      if (typeof value === 'number') (total[key] as number) += value;
    }
  }
  // Where the unwinds stopped: the process with the most such samples says.
  const most = all.reduce<ProfileStats | null>((best, s) => (s.unwindStoppedAt !== null && s.unwindStopped > (best?.unwindStopped ?? -1) ? s : best), null);
  total.unwindStoppedAt = most?.unwindStoppedAt ?? null;
  return total;
}
