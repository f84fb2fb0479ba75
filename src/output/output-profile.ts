/**
 * What every output format is written from: merged stacks (root first) with
 * their sample counts, and what is known about how they were taken.
 */
import type { StackCount } from '../profile/profile.js';
import type { Timeline } from '../profile/timeline.js';
import type { BinaryMapping } from '../target/maps.js';

export interface OutputProfile {
  /** Frames root first; one entry per distinct stack. */
  readonly stacks: readonly StackCount[];
  /** Samples per second per thread: one sample stands for 1/hz s of a thread's time. */
  readonly hz: number;
  /** When sampling started, in ms since the epoch; null when unknown (a converted file). */
  readonly startTime: number | null;
  /** How long sampling ran, in seconds; null when unknown. */
  readonly durationSeconds: number | null;
  /** A title for viewers, e.g. "python3 app.py (1234)". */
  readonly title: string;
  /** What a sample's time is: time on a CPU, or wall-clock time (--mode wall). Default cpu. */
  readonly time?: 'cpu' | 'wall';
  /**
   * The target's program file first (the main binary), then the files its
   * native frames may be in, each where its code is mapped (pprof's
   * mappings); absent when unknown (a converted file).
   */
  readonly binaries?: readonly BinaryMapping[];
  /** --timeline: the samples in time order (gecko and chrometrace need it; speedscope then keeps the order). */
  readonly timeline?: Timeline;
}

/** The formats written from stacks and counts alone (what convert and serve offer). */
export const AGGREGATE_FORMATS = ['folded', 'svg', 'speedscope', 'pprof', 'cpuprofile'] as const;
export type AggregateFormat = (typeof AGGREGATE_FORMATS)[number];
/** The formats that show samples in time order: written only from a timeline (sample --timeline). */
export const TIMELINE_FORMATS = ['gecko', 'chrometrace'] as const;
export const OUTPUT_FORMATS = [...AGGREGATE_FORMATS, ...TIMELINE_FORMATS] as const;
/** The formats that can hold a timeline: speedscope then keeps the samples in the order taken. */
export const TIME_ORDER_FORMATS: readonly OutputFormat[] = [...TIMELINE_FORMATS, 'speedscope'];
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];
