/**
 * Runs one bpftrace program against the target and streams its records.
 *
 * bpftrace runs in its own process group, so a terminal's Ctrl-C reaches only
 * mixprof, which then asks bpftrace once (SIGINT) to print what it holds and
 * exit, and kills it if it does not within the grace period. setpriv gives it
 * a parent-death signal: if mixprof itself dies, bpftrace dies too.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { ResultPromise } from 'execa';
import { MAP_KEYS_MAX } from './program.js';
import { BpftraceStream, plainStackTexts, type StackFormat, type StackTexts } from './bpftrace-records.js';
import { restorePriority } from '../priority.js';
import { ALIVE_CHECK_MS, type RunningSampler, type SamplerEvent, type SamplerResult, type StopReason } from './sampler.js';

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

const SETPRIV = '/usr/bin/setpriv';
const NOISE = [/couldn't set RLIMIT_MEMLOCK/, /^\s*$/];
const LOST = /Lost (\d+) events/;
const STACK_ERROR = /failed to look up stack id/;

/** Starts bpftrace; execa is loaded here, not with mixprof: the DWARF sampler never needs it (about 0.2 s of start-up). */
export async function startBpftraceSampler(options: BpftraceRunOptions): Promise<RunningSampler> {
  const { execa } = await import('execa');
  // No -p: its meaning for profile probes changed between bpftrace releases
  // (0.27 opens the timers on the main thread only, and samples no other).
  // The program filters on the PID itself, and mixprof watches the target.
  const args = ['-f', 'json', '-e', options.program];
  const env = {
    BPFTRACE_NO_USER_SYMBOLS: '1',
    // bpftrace's default of 4096 keys would silently drop samples and chains.
    BPFTRACE_MAP_KEYS_MAX: String(MAP_KEYS_MAX),
    BPFTRACE_STRLEN: '64',
  };
  const [file, fileArgs] = existsSync(SETPRIV)
    ? [SETPRIV, ['--pdeathsig', 'KILL', '--', options.bpftrace, ...args]]
    : [options.bpftrace, args];
  const child: ResultPromise = execa(file, fileArgs, {
    env,
    detached: true,
    stdin: 'ignore',
    buffer: false,
    reject: false,
    stripFinalNewline: false,
  });

  let attached = false;
  let reason: StopReason | null = null;
  let killed = false;
  let durationTimer: NodeJS.Timeout | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const errors: string[] = [];
  let stackErrors = 0;
  // bpftrace stops sampling when told to; one that ended by itself stopped when it exited.
  let stoppedAt: number | null = null;
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const stop = (why: StopReason): void => {
    if (reason !== null) return;
    reason = why;
    stoppedAt = Date.now();
    clearTimeout(durationTimer);
    child.kill('SIGINT');
    killTimer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, options.stopGraceMs ?? 15_000);
  };

  const attachTimer = setTimeout(() => {
    if (!attached) {
      stop('attach-timeout');
      child.kill('SIGKILL');
    }
  }, options.attachTimeoutMs ?? 120_000);

  // Each distinct stack text parsed once.
  const stream = new BpftraceStream(options.stacks, cachedStackTexts(options.stacks));

  const aliveTimer = setInterval(() => {
    if (!options.isTargetAlive()) stop('target-exited');
  }, ALIVE_CHECK_MS);

  const stdoutDone = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stdout! });
    // MIXPROF_TRACE_RAW=FILE keeps bpftrace's raw output for debugging.
    const rawFile = process.env['MIXPROF_TRACE_RAW'];
    lines.on('line', (line) => {
      if (rawFile) appendFileSync(rawFile, line + '\n');
      const event = stream.line(line);
      if (!event) return;
      if (event.type === 'ready' && !attached) {
        attached = true;
        clearTimeout(attachTimer);
        if (child.pid !== undefined) restorePriority(child.pid);
        options.onAttached?.();
        if (options.durationSeconds !== null) {
          durationTimer = setTimeout(() => stop('duration'), options.durationSeconds * 1000);
        }
      }
      // bpftrace ends itself after an exec; the reason is said first.
      if (event.type === 'exec') stop('target-execd');
      options.onEvent(event);
    });
    lines.on('close', resolve);
  });
  const stderrDone = new Promise<void>((resolve) => {
    const lines = createInterface({ input: child.stderr! });
    lines.on('line', (line) => {
      const lost = LOST.exec(line);
      if (lost) options.onEvent({ type: 'lost', events: Number(lost[1]) });
      else if (STACK_ERROR.test(line)) stackErrors++;
      else if (!NOISE.some((re) => re.test(line))) errors.push(line);
    });
    lines.on('close', resolve);
  });

  const done = (async (): Promise<SamplerResult> => {
    const result = await child;
    stoppedAt ??= Date.now();
    await Promise.all([stdoutDone, stderrDone]);
    clearTimeout(attachTimer);
    clearTimeout(durationTimer);
    clearTimeout(killTimer);
    clearInterval(aliveTimer);
    process.off('exit', killOnExit);
    const why: StopReason = reason ?? (options.isTargetAlive() ? 'bpftrace-exited' : 'target-exited');
    return {
      attached,
      reason: why,
      exitCode: result.exitCode ?? null,
      signal: result.signal ?? null,
      errors,
      killed,
      stackErrors,
      stoppedAt,
    };
  })();

  const kill = (): void => {
    killed = true;
    child.kill('SIGKILL');
  };
  return { done, stop, kill };
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
