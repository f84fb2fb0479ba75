/** Checks that this process may load BPF programs and read the target's memory. */
import { readFileSync } from 'node:fs';
import { MixprofError } from '../errors.js';

const CAP_SYS_PTRACE = 19;
const CAP_SYS_ADMIN = 21;
const CAP_PERFMON = 38;
const CAP_BPF = 39;

export function effectiveCapabilities(status: string): bigint {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m ? BigInt('0x' + m[1]) : 0n;
}

export function missingCapabilities(caps: bigint): string[] {
  const has = (bit: number): boolean => ((caps >> BigInt(bit)) & 1n) === 1n;
  const missing: string[] = [];
  // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON on older kernels.
  if (!has(CAP_BPF) && !has(CAP_SYS_ADMIN)) missing.push('CAP_BPF');
  if (!has(CAP_PERFMON) && !has(CAP_SYS_ADMIN)) missing.push('CAP_PERFMON');
  if (!has(CAP_SYS_PTRACE)) missing.push('CAP_SYS_PTRACE');
  return missing;
}

/** What to do about missing capabilities: the one hint `sample` and `doctor` give. */
export const PRIVILEGES_HINT = 'run mixprof as root (sudo mixprof ...) or grant CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE';

export function checkPrivileges(): void {
  const caps = effectiveCapabilities(readFileSync('/proc/self/status', 'utf8'));
  const missing = missingCapabilities(caps);
  if (missing.length > 0) {
    throw new MixprofError(
      'NOT_PERMITTED',
      `not permitted to profile: missing ${missing.join(', ')}`,
      PRIVILEGES_HINT,
    );
  }
}
