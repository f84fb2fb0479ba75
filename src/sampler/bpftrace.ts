/** Finds bpftrace and checks that it is new enough. */
import { MixprofError } from '../errors.js';
import type { StackFormat } from './bpftrace-records.js';

export const MIN_BPFTRACE = [0, 17, 0] as const;
const INSTALL_HINT = 'install it with `apt-get install bpftrace` (Debian/Ubuntu) or `dnf install bpftrace`, or set MIXPROF_BPFTRACE to its path';

export interface Bpftrace {
  readonly path: string;
  readonly version: readonly [number, number, number];
}

/** How this bpftrace is asked for stacks: raw addresses where it has them (0.18 and later). */
export function stackFormatOf(bpftrace: Bpftrace): StackFormat {
  return older(bpftrace.version, [0, 18, 0]) ? 'text' : 'raw';
}

export function parseBpftraceVersion(text: string): [number, number, number] | null {
  const m = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** Version a comes before version b ([major, minor, patch]). */
export function older(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return false;
}

export async function findBpftrace(): Promise<Bpftrace> {
  const path = process.env['MIXPROF_BPFTRACE'] || 'bpftrace';
  let stdout: string;
  try {
    // Loaded when needed: the DWARF sampler's runs never start a process.
    const { execa } = await import('execa');
    ({ stdout } = await execa(path, ['--version'], { timeout: 10_000 }));
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ENOENT') throw new MixprofError('BPFTRACE_MISSING', `bpftrace was not found (${path})`, INSTALL_HINT);
    throw new MixprofError('BPFTRACE_MISSING', `bpftrace --version failed: ${(error as Error).message.split('\n')[0]}`, INSTALL_HINT);
  }
  const version = parseBpftraceVersion(stdout);
  if (!version || older(version, MIN_BPFTRACE)) {
    throw new MixprofError(
      'BPFTRACE_TOO_OLD',
      `bpftrace ${stdout.trim()} is too old: mixprof needs ${MIN_BPFTRACE.join('.')} or newer`,
      INSTALL_HINT,
    );
  }
  return { path, version };
}
