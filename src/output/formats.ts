/**
 * Which format a profile is written in (--format, else the -o extension,
 * else folded) and the one place each format's writer is called from.
 */
import { MixprofError } from '../errors.js';
import { formatChrometrace } from './chrometrace.js';
import { formatCpuprofile } from './cpuprofile.js';
import { formatGecko } from './gecko.js';
import { formatFolded } from './folded.js';
import { OUTPUT_FORMATS, type OutputFormat, type OutputProfile } from './output-profile.js';
import { formatPprof } from './pprof.js';
import { formatSpeedscope } from './speedscope.js';
import { formatSvg } from './svg.js';

/** Longest suffix first: ".speedscope.json" before ".json". */
const EXTENSIONS: readonly (readonly [string, OutputFormat])[] = [
  ['.speedscope.json', 'speedscope'],
  ['.gecko.json', 'gecko'],
  ['.trace.json', 'chrometrace'],
  ['.cpuprofile', 'cpuprofile'],
  ['.collapsed', 'folded'],
  ['.folded', 'folded'],
  ['.pb.gz', 'pprof'],
  ['.pprof', 'pprof'],
  ['.json', 'speedscope'],
  ['.txt', 'folded'],
  ['.svg', 'svg'],
  ['.pb', 'pprof'],
];

/** The usual file name ending for each format, for defaults and fallbacks. */
export const FORMAT_EXTENSION: Readonly<Record<OutputFormat, string>> = {
  folded: '.folded',
  svg: '.svg',
  speedscope: '.speedscope.json',
  pprof: '.pb.gz',
  cpuprofile: '.cpuprofile',
  gecko: '.gecko.json',
  chrometrace: '.trace.json',
};

export function formatFromFileName(file: string): OutputFormat | null {
  const lower = file.toLowerCase();
  return EXTENSIONS.find(([suffix]) => lower.endsWith(suffix))?.[1] ?? null;
}

/**
 * --format wins; then the output's extension; folded otherwise (and on
 * stdout). offered: what the command can write (the timeline formats need
 * each sample's time, which only sampling keeps).
 */
export function chooseFormat(explicit: string | undefined, output: string | null, offered: readonly OutputFormat[] = OUTPUT_FORMATS): OutputFormat {
  if (explicit !== undefined && !(OUTPUT_FORMATS as readonly string[]).includes(explicit)) {
    throw new MixprofError('BAD_OPTION', `--format ${explicit}: unknown format`, `choose one of ${offered.join(', ')}`);
  }
  const format = (explicit as OutputFormat | undefined) ?? (output === null ? null : formatFromFileName(output)) ?? 'folded';
  if (!offered.includes(format)) {
    const how = explicit !== undefined ? `--format ${format}` : `${output} (the ${format} format)`;
    throw new MixprofError('BAD_OPTION', `${how}: shows samples in time order, which folded stacks do not keep`, `write it with \`mixprof sample --timeline\`, or choose one of ${offered.join(', ')}`);
  }
  return format;
}

export interface RenderOptions {
  /** Folded only: suffix Python frames with _[j]. */
  readonly markPython: boolean;
}

export function renderProfile(profile: OutputProfile, format: OutputFormat, options: RenderOptions): string | Uint8Array {
  switch (format) {
    case 'folded':
      return formatFolded(profile.stacks, { markPython: options.markPython });
    case 'svg':
      return formatSvg(profile);
    case 'speedscope':
      return formatSpeedscope(profile);
    case 'pprof':
      return formatPprof(profile);
    case 'cpuprofile':
      return formatCpuprofile(profile);
    case 'gecko':
      return formatGecko(profile);
    case 'chrometrace':
      return formatChrometrace(profile);
  }
}
