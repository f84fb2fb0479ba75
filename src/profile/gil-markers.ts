/**
 * The GIL view (--gil): each stack gets a marker frame at its root saying
 * whether the thread held the GIL at the sample, so a flame graph splits into
 * one tree per state (inside each thread's tree with --threads).
 */
import type { Frame } from '../symbolize/frame.js';
import type { GilState } from '../sampler/sampler.js';

export const GIL_MARKERS: Readonly<Record<GilState, Frame>> = {
  held: { kind: 'marker', name: '[GIL held]' },
  released: { kind: 'marker', name: '[GIL released]' },
  // Not folded into "released": a thread the interpreter does not know (a
  // native library's worker, a thread before or after its Python life) never
  // takes the GIL, while a released Python thread may be waiting for it.
  'no-thread': { kind: 'marker', name: '[no Python thread]' },
};

/** A sample whose record carried no GIL state (not expected with --gil): said so, not guessed. */
export const GIL_UNKNOWN: Frame = { kind: 'marker', name: '[GIL unknown]' };

export function gilFrame(state: GilState | undefined): Frame {
  return state ? GIL_MARKERS[state] : GIL_UNKNOWN;
}

/** Samples per GIL state, for the report. */
export interface GilCounts {
  gilHeld: number;
  gilReleased: number;
  noPythonThread: number;
}

const COUNT_OF: Readonly<Record<GilState, keyof GilCounts>> = { held: 'gilHeld', released: 'gilReleased', 'no-thread': 'noPythonThread' };

export function countGil(counts: GilCounts, state: GilState | undefined, samples: number): void {
  if (state) counts[COUNT_OF[state]] += samples;
}
