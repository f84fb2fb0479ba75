/**
 * `mixprof record -- command ...`: starts the command with mixprof's own
 * stdin, stdout and stderr, profiles it from as early as its interpreter can
 * be read until it exits (or for -t seconds), and hands back its exit status.
 */
import { constants } from 'node:os';
import type { Duplex } from 'node:stream';
import { MixprofError } from '../errors.js';
import { nativeAddon } from '../native.js';
import { mapsInterpreter } from '../target/interpreter.js';
import { onStopSignals } from '../stop-signals.js';
import { checkPrivileges } from '../target/privileges.js';
import { isAlive } from '../target/process.js';
import { HOLD_FD, prepareHold, type Hold } from './hold.js';
import { restorePriority } from '../priority.js';
import { profileProcesses, type RunOptions } from './run.js';

export interface RecordOptions extends Omit<RunOptions, 'pids'> {
  /** The command and its arguments, run without a shell. */
  readonly command: readonly string[];
}

/** How long a starting command may take to map an interpreter, and then to set it up enough to check. */
const INTERPRETER_WAIT_MS = 1000;
const STARTING_WAIT_MS = 5000;
const RETRY_MS = 10;
/** How long an interpreter may take from being mapped to importing site, on a busy machine. */
const HOLD_WAIT_MS = 2000;
/** How often a command not yet held is looked at (the hold itself is an event). */
const CHECK_MS = 50;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RecordResult {
  /** The exit status mixprof should return: the command's. */
  readonly status: number;
  /** Where the profile went, or undefined when the command ended before it could be sampled. */
  readonly written?: string | null;
}

/** Runs the command under the profiler. */
export async function record(options: RecordOptions, log: (line: string) => void): Promise<RecordResult> {
  checkPrivileges();
  const [file, ...args] = options.command;
  if (!file) throw new MixprofError('BAD_OPTION', 'no command to record', 'put the command after --, e.g. mixprof record -- python3 app.py');
  // Held at its first line until the sampler is attached (a Python command that imports site).
  const hold = options.nativeOnly ? null : prepareHold();
  // Loaded here, not with mixprof: sample and the other commands never need it (about 0.1 s of start-up).
  const { execa } = await import('execa');
  const child = hold
    ? execa(file, args, { stdio: ['inherit', 'inherit', 'inherit', 'pipe'], reject: false, env: hold.env })
    : execa(file, args, { stdio: 'inherit', reject: false });
  // The command runs at the priority mixprof was started with, not the one it
  // attaches at; a held one from its release: until its first line, starting
  // it is part of attaching (on two CPUs busy with eight other tasks, Python's
  // start-up took 0.45-0.57 s at the usual priority, 0.1-0.2 s raised).
  let released = false;
  const release = (): void => {
    // Once, and only while the command is ours: a reaped one's PID may be another process's.
    if (!released && child.pid !== undefined && child.exitCode === null && child.signalCode === null) restorePriority(child.pid);
    released = true;
    hold?.release();
  };
  if (!hold) release();
  // The terminal's Ctrl-C reaches the command itself; mixprof waits for it
  // to end. A SIGTERM or SIGHUP sent to mixprof alone is passed on.
  const removeSignals = onStopSignals((_, signal) => {
    if (signal === 'SIGINT') return;
    release();
    child.kill(signal);
  });
  try {
    const pid = child.pid;
    let written: string | null | undefined;
    if (pid !== undefined) {
      const held = hold ? await waitForHold(hold, child.stdio[HOLD_FD] as Duplex, pid) : false;
      if (!held) {
        release();
        await waitForInterpreter(pid, options.nativeOnly);
      }
      // Released as soon as the sampler is attached; before, were it to fail.
      const onAttached = (attached: number): void => {
        if (attached === pid) release();
      };
      try {
        written = (await profileProcesses({ ...options, pids: [pid], startingWaitMs: STARTING_WAIT_MS, handleSignals: false, onAttached }, log)).written;
      } catch (error) {
        release();
        if (!isAlive(pid)) {
          if (!options.quiet) log(`mixprof: ${file} exited before sampling started; nothing was recorded`);
        } else {
          // The profiler failed: the command is not left running on its own.
          child.kill('SIGTERM');
          await child;
          throw error;
        }
      }
    }
    const result = await child;
    if (result.failed && result.exitCode === undefined && result.signal === undefined) {
      const code = (result.cause as NodeJS.ErrnoException | undefined)?.code;
      const why = code === 'ENOENT' ? 'no such command' : code === 'EACCES' ? 'permission denied' : (String(result.shortMessage ?? result.message ?? '').split('\n')[0] ?? '');
      throw new MixprofError('BAD_OPTION', `cannot run ${file}: ${why}`, 'check the command name and PATH');
    }
    const status = result.signal ? 128 + (constants.signals[result.signal as keyof typeof constants.signals] ?? 0) : (result.exitCode ?? 1);
    return written === undefined ? { status } : { status, written };
  } finally {
    release();
    hold?.dispose();
    removeSignals();
  }
}

/**
 * Whether the command is held at its first line: it says so on the socket. A
 * command that has mapped no interpreter after INTERPRETER_WAIT_MS, or an
 * interpreter that has not reached its site module HOLD_WAIT_MS after being
 * mapped (-S, -I, -E), is not waited for.
 */
async function waitForHold(hold: Hold, socket: Duplex, pid: number): Promise<boolean> {
  const addon = nativeAddon();
  const started = Date.now();
  let mapped: number | null = null;
  let timer: NodeJS.Timeout | undefined;
  const givenUp = new Promise<boolean>((resolve) => {
    const check = (): void => {
      const now = Date.now();
      if (mapped === null && mapsInterpreter(addon, pid)) mapped = now;
      const noPython = mapped === null && now - started > INTERPRETER_WAIT_MS;
      const noSite = mapped !== null && now - mapped > HOLD_WAIT_MS;
      if (!isAlive(pid) || noPython || noSite) resolve(false);
      else timer = setTimeout(check, CHECK_MS);
    };
    timer = setTimeout(check, CHECK_MS);
  });
  try {
    return await Promise.race([hold.waiting(socket), givenUp]);
  } finally {
    clearTimeout(timer);
  }
}

/** Until the command (once exec'd through `env` or a wrapper) maps a CPython interpreter. */
async function waitForInterpreter(pid: number, nativeOnly: boolean): Promise<void> {
  if (nativeOnly) return;
  const addon = nativeAddon();
  const deadline = Date.now() + INTERPRETER_WAIT_MS;
  while (Date.now() < deadline && isAlive(pid)) {
    if (mapsInterpreter(addon, pid)) return;
    await pause(RETRY_MS);
  }
}
