/**
 * Newer bpftrace reads the kernel's event list from tracefs as it starts
 * (0.27 fails without it: "Error reading events from
 * /sys/kernel/tracing/available_events"), and machines without systemd often
 * do not mount it. mixprof mounts it, as root anyway, and says so.
 */
import { existsSync } from 'node:fs';
import { MixprofError } from '../errors.js';
import { older, type Bpftrace } from './bpftrace.js';

const TRACEFS = '/sys/kernel/tracing';
/** The older place, under debugfs, which bpftrace also reads. */
const DEBUGFS_TRACING = '/sys/kernel/debug/tracing';
/** The first release after the newest seen to start without tracefs (Debian 13's 0.23). */
const NEEDS_TRACEFS_FROM = [0, 24, 0] as const;

export function tracefsMounted(): boolean {
  return existsSync(`${TRACEFS}/available_events`) || existsSync(`${DEBUGFS_TRACING}/available_events`);
}

/** This bpftrace reads the kernel's event list from tracefs as it starts. */
export function needsTracefs(bpftrace: Bpftrace): boolean {
  return !older(bpftrace.version, NEEDS_TRACEFS_FROM);
}

export const MOUNT_TRACEFS = `mount -t tracefs nodev ${TRACEFS}`;

/**
 * Mounts tracefs when this bpftrace needs it and it is not there; throws one
 * line when that fails. `otherwise`: what else the user can do, for the hint
 * (sampling can do without bpftrace; `trace` cannot).
 */
export async function ensureTracefs(bpftrace: Bpftrace, log: (line: string) => void, otherwise = 'or use --unwind dwarf, which does not use bpftrace'): Promise<void> {
  if (!needsTracefs(bpftrace) || tracefsMounted()) return;
  const how = `mount it with \`${MOUNT_TRACEFS}\` (${otherwise})`;
  const { execa } = await import('execa');
  const result = await execa('mount', ['-t', 'tracefs', 'nodev', TRACEFS], { reject: false, timeout: 10_000 });
  if (result.failed || !tracefsMounted()) {
    const why = (result.stderr || result.shortMessage || 'no event list after mounting').split('\n')[0];
    throw new MixprofError('TRACEFS_MISSING', `bpftrace ${bpftrace.version.join('.')} needs tracefs, which is not mounted, and mounting it on ${TRACEFS} failed: ${why}`, how);
  }
  log(`mixprof: mounted tracefs on ${TRACEFS} (bpftrace ${bpftrace.version.join('.')} reads the kernel's events there)`);
}
