/**
 * The priority mixprof was started with, read before anything else runs, and
 * the raise `mixprof sample` gets from its very start (src/priority.ts
 * says why): loading mixprof's code is a good part of attaching. No imports
 * but node:os, so that bin/mixprof can load it first.
 */
import { getPriority, setPriority } from 'node:os';

/** As bin/mixprof found it before raising it; read once, and not passed on to what mixprof starts. */
export const STARTED_NICE = startedNice();

export const ATTACH_NICE = -10;

/** Raises this thread's priority to ATTACH_NICE where allowed (root); whoever raised it lowers it again. */
export function raisePriority(): boolean {
  if (STARTED_NICE <= ATTACH_NICE) return false;
  try {
    setPriority(ATTACH_NICE);
    return true;
  } catch {
    return false;
  }
}

function startedNice(): number {
  const told = process.env['MIXPROF_STARTED_NICE'];
  delete process.env['MIXPROF_STARTED_NICE'];
  const nice = told !== undefined && /^-?\d+$/.test(told) ? Number(told) : NaN;
  return Number.isInteger(nice) && nice >= -20 && nice <= 19 ? nice : getPriority();
}
