/**
 * What every sampler (bpftrace's, the DWARF one) gives the session that runs
 * it: a way to stop it, and how and when its run ended. Records reach the
 * session through the onEvent callback each takes (records.ts).
 */
import type { NativeSymbolizer } from '../native.js';

export type StopReason = 'duration' | 'interrupted' | 'target-exited' | 'target-execd' | 'bpftrace-exited' | 'attach-timeout' | 'sampler-failed';

/**
 * How often the target is checked for having exited (a stat of /proc/PID):
 * a run that ends with its target reports a span up to this much longer
 * than the target lived.
 */
export const ALIVE_CHECK_MS = 100;

export interface SamplerResult {
  readonly attached: boolean;
  readonly reason: StopReason;
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Its error lines: bpftrace's stderr less the lines it prints on every run, or the DWARF sampler's failures. */
  readonly errors: string[];
  readonly killed: boolean;
  /** Stacks bpftrace could not look up (a full or colliding stack map): those samples lose native or kernel frames. */
  readonly stackErrors: number;
  /**
   * When sampling stopped (Date.now()): the end of the span the samples cover.
   * Reading what was collected comes after, and on a busy machine takes a
   * good part of a second that no sample stands for.
   */
  readonly stoppedAt: number;
  /** Wall-clock passes over the threads that could not run (the DWARF sampler's --mode wall). */
  readonly wallPassesFailed?: number;
}

export interface RunningSampler {
  readonly done: Promise<SamplerResult>;
  /** Asks it to deliver what it holds and end. */
  stop(reason: StopReason): void;
  /** Ends it at once (bpftrace's last second of samples is lost). */
  kill(): void;
  /** Whether pid is sampled as a process followed from the target (the DWARF sampler's fork-following). */
  follows?(pid: number): boolean;
  /** Follows a process forked from the target before sampling started; false when it cannot be. */
  adopt?(pid: number): boolean;
  /** Unwinds a followed process with a symbolizer over its own maps (null: the target's again). */
  unwindWith?(pid: number, symbolizer: NativeSymbolizer | null): void;
}
