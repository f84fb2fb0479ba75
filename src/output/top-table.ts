/**
 * The table printed after sampling: the functions most often running
 * (self: innermost frame) and most often on the stack (total), like perf
 * report's children/self columns (counted in profile/function-counts.ts).
 */
import type { Frame } from '../symbolize/frame.js';
import type { StackCount } from '../profile/profile.js';
import { topFunctions } from '../profile/function-counts.js';
import { terminalText } from './terminal-text.js';

const KIND_TAG: Record<Frame['kind'], string> = { python: 'py', native: 'native', kernel: 'kernel', marker: '' };

function percent(part: number, whole: number): string {
  return whole === 0 ? '0.0%' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** The table as lines, for a terminal of `width` columns; names escaped for it (terminal-text.ts). */
export function formatTopTable(stacks: readonly StackCount[], limit: number, width = 100): string[] {
  const { rows, samples } = topFunctions(stacks, limit);
  if (rows.length === 0) return [];
  const cells = rows.map((r) => [percent(r.self, samples), String(r.self), percent(r.total, samples), String(r.total)]);
  const headers = ['SELF%', 'SELF', 'TOTAL%', 'TOTAL'];
  const widths = headers.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)));
  const pad = (row: readonly string[]): string => row.map((cell, c) => cell.padStart(widths[c]!)).join('  ');
  const room = Math.max(20, width - widths.reduce((a, b) => a + b + 2, 2));
  const clip = (text: string): string => (text.length <= room ? text : text.slice(0, room - 2) + '..');
  const lines = [`  ${pad(headers)}  FUNCTION`];
  rows.forEach((row, i) => {
    const tag = KIND_TAG[row.kind];
    // Escaped before it is clipped: the width is that of what the terminal shows.
    lines.push(`  ${pad(cells[i]!)}  ${clip(terminalText(tag ? `${row.name} [${tag}]` : row.name))}`);
  });
  return lines;
}
