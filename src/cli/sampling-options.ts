/**
 * The options every command that samples shares (sample, record, top,
 * collect): defined once, so that their names, checks, defaults and help
 * agree (src/session/session-options.ts turns them into a session's options).
 */
import { Option, type Command } from 'commander';
import { SAMPLE_MODES } from '../session/session-options.js';
import type { SamplingChoices } from '../session/session-options.js';
import { UNWIND_CHOICES } from '../session/unwind.js';
import { positiveInteger } from './options.js';

/** The highest -F any command takes. */
export const MAX_HZ = 10_000;
export const DEFAULT_HZ = 99;

export interface SamplingFlags extends SamplingChoices {
  /** Undefined only where the command has no default (collect's depends on --continuous). */
  readonly frequency?: number;
}

export interface SamplingOptionHelp {
  /** -F's help, when it says more than the rate (collect's default). */
  readonly frequency?: string;
  /** null: -F has no default (the command picks one). */
  readonly defaultHz?: number | null;
}

/**
 * Adds -F, --mode, --unwind, --native-only, --full-paths and --async, in that order.
 * --native-only and --full-paths are commander's plain flags: undefined when not given.
 */
export function addSamplingOptions(command: Command, help: SamplingOptionHelp = {}): Command {
  const frequency = new Option('-F, --frequency <HZ>', help.frequency ?? 'samples per second on each CPU the target runs on (with --mode wall: of each thread)').argParser(positiveInteger('--frequency', MAX_HZ));
  return command
    .addOption(help.defaultHz === null ? frequency : frequency.default(help.defaultHz ?? DEFAULT_HZ))
    .addOption(
      new Option('--mode <MODE>', 'cpu: where threads run on a CPU; wall: where every thread spends its time, also sleeping, blocked on I/O or locks, or waiting for the GIL')
        .choices(SAMPLE_MODES)
        .default('cpu'),
    )
    .addOption(
      new Option('--unwind <HOW>', 'native stacks: dwarf (the C sampler: CFI of a copy of the stack, whole with or without frame pointers), fp (bpftrace follows frame pointers in the kernel), auto (dwarf)')
        .choices(UNWIND_CHOICES)
        .default('auto'),
    )
    .option('--native-only', 'do not walk Python frames: native and kernel frames only')
    .option('--full-paths', 'name Python source files by their full path (default: short, relative to site-packages, the standard library or the working directory)')
    .option('--async', 'asyncio tasks (3.11+): a task\'s stacks under the tasks awaiting it, marked [task NAME]; with --mode wall, suspended tasks are sampled too');
}
