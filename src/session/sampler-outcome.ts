/** What the user is told when a sampler never attached, or ended before it was asked to. */
import { MixprofError } from '../errors.js';
import type { SamplerResult } from '../sampler/sampler.js';

/** What never started, and the line that says it has: sampling ("sampling process") or tracing ("tracing calls"). */
export interface AttachWords {
  readonly what: string;
  readonly line: string;
}

const SAMPLING: AttachWords = { what: 'sampling', line: 'sampling process' };

/** The error of a sampler (or tracer) that never attached. */
export function notAttachedError(run: Pick<SamplerResult, 'reason' | 'errors' | 'exitCode' | 'signal'>, pid: number, words: AttachWords = SAMPLING): MixprofError {
  if (run.reason === 'interrupted') {
    return new MixprofError('INTERRUPTED', `interrupted before ${words.what} started: nothing was collected`, `run again and let it attach (it says "${words.line}" when it has)`);
  }
  if (run.reason === 'target-exited') {
    return new MixprofError('NO_SUCH_PROCESS', `process ${pid} exited before ${words.what} started`, 'start the target again and pass its new PID');
  }
  // Only bpftrace can fail after it started and before it attached (the DWARF sampler throws as it starts).
  const message = run.errors.find((line) => /ERROR/.test(line)) ?? run.errors[0] ?? `bpftrace exited with ${run.exitCode ?? run.signal}`;
  // MIXPROF_DEBUG=1 prints all of bpftrace's messages, of which the line above is the first error.
  return new MixprofError(
    'BPFTRACE_FAILED',
    `bpftrace could not start: ${message.replace(/^ERROR:\s*/, '')}`,
    'check that this kernel allows BPF (root, kernel.unprivileged_bpf_disabled, lockdown) and run with MIXPROF_DEBUG=1 for all of its messages',
    run.errors.length > 0 ? { cause: `bpftrace's messages:\n${run.errors.join('\n')}` } : undefined,
  );
}

/** Why sampling ended before it was asked to, when the profiler itself failed. */
export function failureOf(run: SamplerResult): string | null {
  if (run.reason === 'sampler-failed') return run.errors[0] ?? 'the sampler failed';
  if (run.reason === 'bpftrace-exited') {
    const how = run.signal ? `killed by ${run.signal}` : `exit status ${run.exitCode}`;
    return `bpftrace ended unexpectedly (${how})${run.errors[0] ? `: ${run.errors[0]}` : ''}; the samples of its last second are lost`;
  }
  return null;
}
