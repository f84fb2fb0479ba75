/**
 * One profiling run, stage by stage: target -> interpreter and offsets -> BPF
 * program -> raw records -> symbols -> merged stacks -> folded output.
 */
import { writeFileSync } from 'node:fs';
import { findBpftrace } from '../bpf/bpftrace.js';
import { startDwarfSampler } from '../bpf/dwarf-runner.js';
import { FULL_USER_STACK_DEPTH, SHORT_USER_STACK_DEPTH, nativeProgram, pythonProgram, walkConstants } from '../bpf/program.js';
import type { BpfEvent } from '../bpf/records.js';
import { startSampler, type RunningSampler, type StopReason } from '../bpf/runner.js';
import { MixprofError } from '../errors.js';
import { nativeAddon } from '../native.js';
import { formatFolded } from '../output/folded.js';
import { formatReport } from '../output/report.js';
import type { Profile } from '../profile/profile.js';
import type { OffsetSource } from '../python/attach.js';
import { attachTarget } from './attach.js';
import { chooseUnwind, type UnwindChoice } from './unwind.js';
import { checkPrivileges } from '../target/privileges.js';
import { isAlive, openTarget, readMapsText } from '../target/process.js';

export interface SampleOptions {
  readonly pid: number;
  readonly durationSeconds: number | null;
  readonly hz: number;
  readonly extraFiles: readonly string[];
  /** null writes to stdout. */
  readonly output: string | null;
  readonly hidePlumbing: boolean;
  readonly markPython: boolean;
  readonly threadRoots: boolean;
  readonly maxDepth: number;
  readonly nativeOnly: boolean;
  readonly quiet: boolean;
  /** Where offsets may come from, in order (default: all). */
  readonly offsetSources?: readonly OffsetSource[];
  readonly unwind?: UnwindChoice;
}

export interface SampleResult {
  readonly profile: Profile;
  readonly reason: StopReason;
}

export const MAX_PYTHON_DEPTH = 128;
const MAX_THREADS_SEARCHED = 512;
/** Native frames kept by a DWARF unwind. */
const DWARF_MAX_FRAMES = 1024;
/**
 * Stack copied per DWARF sample, perf's default: the frames of a thread's
 * leaf functions and eval loops fit; words deeper than that (outer frames,
 * which stay put while a thread runs below them) are read from the live process.
 */
const DWARF_STACK_BYTES = 8192;

export async function sample(options: SampleOptions, log: (line: string) => void): Promise<SampleResult> {
  checkPrivileges();
  const target = openTarget(options.pid);
  // Known to be needed before anything else is done: fail first if it is missing.
  const early = options.unwind === 'fp' ? await findBpftrace() : null;
  const addon = nativeAddon();
  const mapsText = readMapsText(target.pid);
  if (mapsText === null) throw new MixprofError('NO_SUCH_PROCESS', `process ${target.pid} exited`, 'start the target again and pass its new PID');

  const attached = attachTarget(addon, target, mapsText, options, options.quiet ? () => undefined : log);
  const { interpreter, layout, native, framePointers } = attached;
  const noFramePointers = framePointers === false;
  try {
    const { unwind, why } = chooseUnwind(options.unwind ?? 'auto', interpreter?.path ?? null, framePointers);
    if (!options.quiet) log(`mixprof: native stacks unwound with ${unwind === 'dwarf' ? 'DWARF call frame information' : 'frame pointers'} (${why})`);
    const settings = {
      pid: target.pid,
      hz: options.hz,
      maxDepth: options.maxDepth,
      maxThreads: MAX_THREADS_SEARCHED,
      userDepth: unwind === 'dwarf' ? DWARF_MAX_FRAMES : noFramePointers ? SHORT_USER_STACK_DEPTH : FULL_USER_STACK_DEPTH,
    };
    const builder = attached.newBuilder({ hidePlumbing: options.hidePlumbing, maxNativeDepth: settings.userDepth, nativeUnwind: unwind, threadRoots: options.threadRoots });
    let startedAt = 0;
    const common = {
      pid: target.pid,
      durationSeconds: options.durationSeconds,
      onEvent: (event: BpfEvent) => builder.apply(event),
      onAttached: () => {
        startedAt = Date.now();
        if (!options.quiet) log(`mixprof: sampling process ${target.pid} at ${options.hz} Hz${options.durationSeconds ? ` for ${options.durationSeconds} s` : ''}; Ctrl-C to stop`);
      },
      isTargetAlive: () => isAlive(target.pid),
    };
    const python = layout && interpreter ? layout : null;
    const sampler: RunningSampler =
      unwind === 'dwarf'
        ? startDwarfSampler({
            ...common,
            addon,
            symbolizer: native.symbolizerForUnwinding(),
            hz: options.hz,
            python: python && interpreter ? walkConstants(python, interpreter.runtimeAddress, settings) : null,
            maxFrames: DWARF_MAX_FRAMES,
            stackBytes: DWARF_STACK_BYTES,
          })
        : startSampler({
            ...common,
            bpftrace: (early ?? (await findBpftrace())).path,
            program: python && interpreter ? pythonProgram(python, interpreter.runtimeAddress, settings) : nativeProgram(settings),
          });
    const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
    // The first Ctrl-C stops cleanly; a second one does not wait for bpftrace.
    let signalled = 0;
    const onSignal = (): void => {
      if (signalled++ === 0) sampler.stop('interrupted');
      else sampler.kill();
    };
    for (const s of signals) process.on(s, onSignal);
    const run = await sampler.done.finally(() => {
      for (const s of signals) process.off(s, onSignal);
    });

    if (!run.attached) {
      const message = run.errors.find((line) => /ERROR/.test(line)) ?? run.errors[0] ?? `bpftrace exited with ${run.exitCode ?? run.signal}`;
      if (run.reason === 'target-exited' || run.reason === 'interrupted') {
        throw new MixprofError('NO_SUCH_PROCESS', `process ${target.pid} exited before sampling started`, 'start the target again and pass its new PID');
      }
      throw new MixprofError('BPFTRACE_FAILED', `bpftrace could not start: ${message.replace(/^ERROR:\s*/, '')}`, 'check that this kernel allows BPF (root, kernel.unprivileged_bpf_disabled, lockdown) and run with MIXPROF_DEBUG=1 for details');
    }
    const seconds = startedAt ? (Date.now() - startedAt) / 1000 : 0;
    const profile = builder.finish();
    writeOutput(options.output, formatFolded(profile.stacks, { markPython: options.markPython }));
    if (!options.quiet) {
      for (const line of formatReport(profile.stats, { hz: options.hz, seconds, python: layout !== null, noFramePointers: noFramePointers && unwind === 'fp' ? interpreter!.path : null, stopReason: describeStop(run.reason, run.killed), stackErrors: run.stackErrors })) log(line);
    }
    // The samples are written; the fault that ended sampling early still fails the run.
    if (run.reason === 'sampler-failed') {
      throw new MixprofError('SAMPLER_FAILED', `sampling stopped early: ${run.errors[0] ?? 'the sampler failed'}`, 'the samples collected until then were written; run again, or pass --unwind fp');
    }
    return { profile, reason: run.reason };
  } finally {
    native.close();
  }
}

function describeStop(reason: StopReason, killed: boolean): string {
  const text: Record<StopReason, string> = {
    duration: 'duration reached',
    interrupted: 'interrupted',
    'target-exited': 'target exited',
    'bpftrace-exited': 'bpftrace exited',
    'attach-timeout': 'attach timed out',
    'sampler-failed': 'the sampler failed',
  };
  return text[reason] + (killed ? '; bpftrace had to be killed, its last second of samples is lost' : '');
}

function writeOutput(file: string | null, text: string): void {
  if (file === null) {
    process.stdout.write(text);
    return;
  }
  try {
    writeFileSync(file, text);
  } catch (error) {
    process.stdout.write(text);
    throw new MixprofError('OUTPUT_FAILED', `cannot write ${file}: ${(error as Error).message}`, 'the profile was written to stdout instead; choose another -o path', { cause: error });
  }
}
