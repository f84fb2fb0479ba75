/** mixprof run where tracefs is not mounted, whatever the machine has. */
import { execa } from 'execa';
import { MIXPROF } from './paths.js';
import type { MixprofResult } from './processes.js';

/** Runs in a private mount namespace with tracefs unmounted (and, with hideSysKernel, no /sys/kernel at all). */
export async function runWithoutTracefs(args: string[], env: Record<string, string>, hideSysKernel = false): Promise<MixprofResult> {
  const script = [
    'umount /sys/kernel/debug/tracing 2>/dev/null',
    'umount /sys/kernel/tracing 2>/dev/null',
    ...(hideSysKernel ? ['mount -t tmpfs -o ro none /sys/kernel || exit 97'] : []),
    'test ! -e /sys/kernel/tracing/available_events || exit 98',
    'exec "$@"',
  ].join('; ');
  return execa('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', MIXPROF, ...args], {
    reject: false,
    timeout: 120_000,
    env,
    stdin: 'ignore',
  }) as Promise<MixprofResult>;
}
