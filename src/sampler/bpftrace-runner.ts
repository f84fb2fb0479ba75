/**
 * Runs one sampling program (bpftrace-process.ts) and streams its records.
 */
import { MAP_KEYS_MAX } from './program.js';
import { BpftraceStream, plainStackTexts, type StackFormat, type StackTexts } from './bpftrace-records.js';
import { startBpftrace } from './bpftrace-process.js';
import type { RunningSampler, SamplerEvent, SamplerResult } from './sampler.js';

export interface BpftraceRunOptions {
  readonly bpftrace: string;
  readonly program: string;
  readonly pid: number;
  /** Seconds of sampling after the probes attach; null runs until stopped. */
  readonly durationSeconds: number | null;
  readonly onEvent: (event: SamplerEvent) => void;
  readonly onAttached?: () => void;
  readonly attachTimeoutMs?: number;
  readonly stopGraceMs?: number;
  /** Tells whether the target is still alive, to name why bpftrace ended. */
  readonly isTargetAlive: () => boolean;
  /** How the program prints stacks (program.ts renders it for this bpftrace). */
  readonly stacks: StackFormat;
}

const LOST = /Lost (\d+) events/;
const STACK_ERROR = /failed to look up stack id/;

export async function startBpftraceSampler(options: BpftraceRunOptions): Promise<RunningSampler> {
  // Each distinct stack text parsed once.
  const stream = new BpftraceStream(options.stacks, cachedStackTexts(options.stacks));
  let stackErrors = 0;
  const running = await startBpftrace({
    bpftrace: options.bpftrace,
    // No -p: its meaning for profile probes changed between bpftrace releases
    // (0.27 opens the timers on the main thread only, and samples no other).
    // The program filters on the PID itself, and mixprof watches the target.
    args: ['-f', 'json', '-e', options.program],
    env: {
      BPFTRACE_NO_USER_SYMBOLS: '1',
      // bpftrace's default of 4096 keys would silently drop samples and chains.
      BPFTRACE_MAP_KEYS_MAX: String(MAP_KEYS_MAX),
      BPFTRACE_STRLEN: '64',
    },
    durationSeconds: options.durationSeconds,
    isTargetAlive: options.isTargetAlive,
    ...(options.onAttached ? { onAttached: options.onAttached } : {}),
    ...(options.attachTimeoutMs !== undefined ? { attachTimeoutMs: options.attachTimeoutMs } : {}),
    ...(options.stopGraceMs !== undefined ? { stopGraceMs: options.stopGraceMs } : {}),
    parseLine: (line) => stream.line(line),
    signalOf: (event) => (event.type === 'ready' ? 'ready' : event.type === 'exec' ? 'exec' : null),
    onRecord: options.onEvent,
    onStderrLine: (line) => {
      const lost = LOST.exec(line);
      if (lost) options.onEvent({ type: 'lost', events: Number(lost[1]) });
      else if (STACK_ERROR.test(line)) stackErrors++;
      else return false;
      return true;
    },
  });
  const done = running.done.then((result): SamplerResult => ({ ...result, stackErrors }));
  return { done, stop: running.stop, kill: running.kill };
}

/** Distinct stack texts kept parsed; past this many they are parsed afresh (a run whose stacks never repeat). */
const STACK_TEXTS_KEPT = 100_000;

/**
 * The stacks as this bpftrace prints them, parsed once per distinct text:
 * the same stacks come back every second, as the same arrays (which the
 * resolver's kernel names are kept by).
 */
export function cachedStackTexts(stacks: StackFormat): StackTexts {
  const plain = plainStackTexts(stacks);
  const cached = <T>(parse: (text: string) => T): ((text: string) => T) => {
    const known = new Map<string, T>();
    return (text) => {
      let value = known.get(text);
      if (value === undefined) {
        if (known.size >= STACK_TEXTS_KEPT) known.clear();
        known.set(text, (value = parse(text)));
      }
      return value;
    };
  };
  return { user: cached(plain.user), kernel: cached(plain.kernel) };
}
