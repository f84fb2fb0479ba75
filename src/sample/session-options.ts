/** A session's options from the choices every sampling command offers, and the command's own: built in one place. */
import { MAX_PYTHON_DEPTH, type SampleMode, type SessionOptions } from './session.js';
import type { UnwindChoice } from './unwind.js';

/** What -F aside, every command that samples lets its user choose (src/cli/sampling-options.ts). */
export interface SamplingChoices {
  readonly mode: SampleMode;
  readonly unwind: UnwindChoice;
  readonly nativeOnly?: boolean;
  readonly fullPaths?: boolean;
}

/** What a session needs besides those: the command's own settings. */
export type SessionExtras = Omit<SessionOptions, 'hz' | 'mode' | 'unwind' | 'nativeOnly' | 'fullPaths' | 'maxDepth'>;

export function sessionOptions(choices: SamplingChoices, hz: number, extras: SessionExtras): SessionOptions {
  return {
    ...extras,
    hz,
    mode: choices.mode,
    unwind: choices.unwind,
    nativeOnly: choices.nativeOnly ?? false,
    fullPaths: choices.fullPaths ?? false,
    maxDepth: MAX_PYTHON_DEPTH,
  };
}
