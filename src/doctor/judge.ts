/**
 * What `mixprof doctor` makes of the machine's settings: each a pure function
 * of the text a file holds (null where the file is absent), so that every
 * verdict can be tested without changing the machine.
 */
import { effectiveCapabilities, missingCapabilities, PRIVILEGES_HINT } from '../target/privileges.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

/** One line of the doctor's report: what was checked, what was found, and what to do about it. */
export interface CheckResult {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do; only for warn and fail. */
  readonly fix?: string;
}

/** /proc/self/status: the capabilities sampling needs. */
export function judgePrivileges(status: string): CheckResult {
  const missing = missingCapabilities(effectiveCapabilities(status));
  const uid = /^Uid:\s*(\d+)/m.exec(status)?.[1];
  const who = uid === '0' ? 'root' : `uid ${uid ?? '?'}`;
  if (missing.length === 0) return { name: 'privileges', status: 'ok', detail: `${who}, with CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE` };
  return {
    name: 'privileges',
    status: 'fail',
    detail: `${who}, missing ${missing.join(', ')}`,
    fix: PRIVILEGES_HINT,
  };
}

/** Whether /sys/kernel/btf/vmlinux exists: the DWARF sampler is CO-RE and needs the kernel's types. */
export function judgeBtf(present: boolean, release: string): CheckResult {
  return present
    ? { name: 'kernel', status: 'ok', detail: `Linux ${release}, with BTF type information` }
    : {
        name: 'kernel',
        status: 'fail',
        detail: `Linux ${release} without BTF (/sys/kernel/btf/vmlinux): the DWARF sampler cannot load`,
        fix: 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu and Fedora kernels are); until then only --unwind fp works',
      };
}

/** /sys/kernel/security/lockdown, e.g. "none [integrity] confidentiality". */
export function judgeLockdown(text: string | null): CheckResult {
  const mode = text === null ? null : (/\[(\w+)\]/.exec(text)?.[1] ?? null);
  if (mode === 'confidentiality') {
    return {
      name: 'lockdown',
      status: 'fail',
      detail: 'kernel lockdown is in confidentiality mode: BPF programs may not read memory',
      fix: 'boot with lockdown=integrity or none (on Secure Boot machines: disable Secure Boot or sign a kernel without the lockdown LSM)',
    };
  }
  return { name: 'lockdown', status: 'ok', detail: mode === null ? 'no kernel lockdown' : `kernel lockdown: ${mode}, which allows BPF to read memory` };
}

/** /proc/sys/kernel/yama/ptrace_scope: 3 forbids reading another process's memory, even to root. */
export function judgePtraceScope(text: string | null): CheckResult {
  const scope = text === null ? null : Number(text.trim());
  if (scope === 3) {
    return {
      name: 'ptrace',
      status: 'fail',
      detail: 'kernel.yama.ptrace_scope is 3: no process may read another\'s memory, so Python frames cannot be named',
      fix: 'it can only be lowered by a reboot; boot with a sysctl.d setting of kernel.yama.ptrace_scope=1 (or 2, which root passes)',
    };
  }
  return { name: 'ptrace', status: 'ok', detail: scope === null ? 'no Yama ptrace restrictions' : `kernel.yama.ptrace_scope is ${scope}, which root passes` };
}

/** /proc/sys/kernel/perf_event_max_sample_rate: the kernel throttles sampling above it. */
export function judgeSampleRate(text: string | null, usualHz: number): CheckResult {
  const max = text === null ? null : Number(text.trim());
  if (max === null || !Number.isFinite(max)) return { name: 'sample rate', status: 'ok', detail: 'no perf sample rate limit to read' };
  if (max < usualHz) {
    return {
      name: 'sample rate',
      status: 'warn',
      detail: `the kernel allows at most ${max} samples a second per CPU (perf_event_max_sample_rate; it lowers it itself when its interrupts run long)`,
      fix: `raise it with \`sysctl kernel.perf_event_max_sample_rate=${usualHz * 10}\`, or sample at -F ${max} or less`,
    };
  }
  return { name: 'sample rate', status: 'ok', detail: `up to ${max} samples a second per CPU (perf_event_max_sample_rate)` };
}

/** Whether a bpftrace of this version needs tracefs, and whether it is mounted. */
export function judgeTracefs(needed: boolean | null, mounted: boolean, mount: string): CheckResult {
  if (mounted) return { name: 'tracefs', status: 'ok', detail: 'mounted' };
  if (needed !== true) return { name: 'tracefs', status: 'ok', detail: 'not mounted, and this bpftrace does not need it' };
  return {
    name: 'tracefs',
    status: 'warn',
    detail: 'not mounted, and this bpftrace needs it: mixprof mounts it when it samples with bpftrace (as root)',
    fix: `mount it now with \`${mount}\``,
  };
}

/** Exit status and summary of a report: any fail makes the machine not ready. */
export function summarize(results: readonly CheckResult[]): { ready: boolean; line: string } {
  const fails = results.filter((r) => r.status === 'fail').length;
  const warns = results.filter((r) => r.status === 'warn').length;
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
  if (fails > 0) return { ready: false, line: `not ready: ${count(fails, 'problem')}${warns ? `, ${count(warns, 'warning')}` : ''}` };
  return { ready: true, line: warns ? `ready, with ${count(warns, 'warning')}` : 'ready' };
}
