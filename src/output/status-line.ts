/**
 * The one line that shows progress while sampling on a terminal, redrawn in
 * place about once a second ("\r" and erase-line), as perf top and py-spy
 * record do.
 */
import { terminalText } from './terminal-text.js';

export interface Progress {
  readonly elapsedSeconds: number;
  /** null when sampling runs until stopped. */
  readonly durationSeconds: number | null;
  readonly samples: number;
  readonly lost: number;
  readonly processes: number;
  readonly hottest: { readonly name: string; readonly share: number } | null;
}

export function formatProgress(p: Progress, width: number): string {
  const time = p.durationSeconds === null ? `${p.elapsedSeconds.toFixed(0)} s` : `${Math.min(p.elapsedSeconds, p.durationSeconds).toFixed(0)}/${p.durationSeconds} s`;
  const parts = [`mixprof: ${time}`, `${p.samples} samples`, `${p.lost} lost`];
  if (p.processes > 1) parts.push(`${p.processes} processes`);
  if (p.hottest) {
    // The target names its functions: escaped, a name cannot end the line or draw over it.
    const name = terminalText(p.hottest.name);
    const share = ` ${(100 * p.hottest.share).toFixed(0)}%`;
    // A long name is shortened, not the share after it.
    const room = width - 1 - [...parts, 'hottest: '].join(' | ').length - share.length;
    parts.push(`hottest: ${name.length <= room ? name : name.slice(0, Math.max(0, room - 2)) + '..'}${share}`);
  }
  const line = parts.join(' | ');
  // Wider than the terminal, the line would wrap and "\r" would no longer redraw it.
  return line.length < width ? line : line.slice(0, Math.max(0, width - 3)) + '..';
}

export class StatusLine {
  private shown = false;

  constructor(private readonly stream: NodeJS.WriteStream) {}

  show(progress: Progress): void {
    this.stream.write(`\r\x1b[K${formatProgress(progress, this.stream.columns || 80)}`);
    this.shown = true;
  }

  /** Erases the line, before other output or at the end. */
  clear(): void {
    if (!this.shown) return;
    this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
