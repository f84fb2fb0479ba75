/**
 * How a process is sampled (SessionOptions): built in one place from the
 * choices every sampling command offers and the command's own, and checked
 * for combinations that cannot work before anything is attached.
 */
import { MixprofError } from '../errors.js';
import type { OffsetSource } from '../python/find-layout.js';
import type { UnwindChoice } from './unwind.js';

export const MAX_PYTHON_DEPTH = 128;

/** How each process is sampled and its stacks merged. */
export interface SessionOptions {
  /** null samples until stopped (or the target exits). */
  readonly durationSeconds: number | null;
  readonly hz: number;
  readonly extraFiles: readonly string[];
  readonly hidePlumbing: boolean;
  readonly threadRoots: boolean;
  readonly fullPaths: boolean;
  readonly maxDepth: number;
  readonly nativeOnly: boolean;
  readonly quiet: boolean;
  /** Where offsets may come from, in order (default: all). */
  readonly offsetSources?: readonly OffsetSource[];
  readonly unwind?: UnwindChoice;
  /** cpu: threads on a CPU; wall: every thread, also while it sleeps or waits. */
  readonly mode?: SampleMode;
  /**
   * The GIL view: read at each sample whether the thread held the GIL, and
   * root its stack in a marker saying so. 'when-readable': where the
   * interpreter has a GIL mixprof can read, else without (a dump).
   */
  readonly gil?: boolean | 'when-readable';
  /**
   * Also sample the processes the target forks, from their first instruction,
   * with its DWARF sampler (CPU mode; --subprocesses). Each is a run of its own.
   */
  readonly follow?: boolean;
  /**
   * Wall-clock mode: the first pass over the threads counts this many
   * times, so that its samples stand out (a dump, which shows each thread
   * where that pass found it).
   */
  readonly firstPassWeight?: number;
  /** asyncio tasks: a running task's stacks under the tasks awaiting it; in wall mode, suspended tasks sampled too. */
  readonly async?: boolean;
  /** Keep every sample's time and thread (ProcessRun.timeline): the DWARF sampler's alone. */
  readonly timeline?: boolean;
}

export const SAMPLE_MODES = ['cpu', 'wall'] as const;
export type SampleMode = (typeof SAMPLE_MODES)[number];

/** Throws for options that cannot be used together. */
export function checkSessionOptions(options: SessionOptions): void {
  if (options.mode === 'wall' && options.unwind === 'fp') {
    throw new MixprofError('BAD_OPTION', '--mode wall cannot be used with --unwind fp', 'leave --unwind at auto (or dwarf): wall-clock mode samples sleeping threads with the DWARF sampler');
  }
  if (options.timeline && options.unwind === 'fp') {
    throw new MixprofError('BAD_OPTION', '--timeline cannot be used with --unwind fp', "leave --unwind at auto (or dwarf): bpftrace's sampler counts stacks in the kernel and keeps no sample's time");
  }
  if (options.async && options.nativeOnly) {
    throw new MixprofError('BAD_OPTION', '--async cannot be used with --native-only', 'the tasks are read with the Python frames: leave out --native-only');
  }
  if (options.gil === true && options.nativeOnly) {
    throw new MixprofError('BAD_OPTION', '--gil cannot be used with --native-only', 'the GIL view needs the Python walk: leave out --native-only');
  }
}

/** What -F aside, every command that samples lets its user choose (src/cli/sampling-options.ts). */
export interface SamplingChoices {
  readonly mode: SampleMode;
  readonly unwind: UnwindChoice;
  readonly nativeOnly?: boolean;
  readonly fullPaths?: boolean;
  readonly async?: boolean;
}

/** What a session needs besides those: the command's own settings. */
export type SessionExtras = Omit<SessionOptions, 'hz' | 'mode' | 'unwind' | 'nativeOnly' | 'fullPaths' | 'maxDepth' | 'async'>;

export function sessionOptions(choices: SamplingChoices, hz: number, extras: SessionExtras): SessionOptions {
  return {
    ...extras,
    hz,
    mode: choices.mode,
    unwind: choices.unwind,
    nativeOnly: choices.nativeOnly ?? false,
    fullPaths: choices.fullPaths ?? false,
    maxDepth: MAX_PYTHON_DEPTH,
    ...(choices.async ? { async: true } : {}),
  };
}
