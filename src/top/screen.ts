/**
 * One frame of `mixprof top` as lines of text for a terminal of a given size:
 * the header, the column titles, the rows that fit (scrolled to keep the
 * cursor in view, the cursor's row in reverse video) and a status line.
 * Pure: the terminal module writes it.
 */
import cliTruncate from 'cli-truncate';
import stringWidth from 'string-width';
import { terminalText } from '../output/terminal-text.js';
import type { FrameKind } from '../symbolize/frame.js';
import type { Row, SortColumn } from './function-view.js';

/** What the view shows: a process sampled now, or a profile saved to a file. */
export type Shown = { readonly kind: 'process'; readonly pid: number; readonly comm: string; readonly python: string | null; readonly hz: number } | { readonly kind: 'file'; readonly name: string };

export interface Header {
  readonly shown: Shown;
  readonly threads: number;
  readonly lost: number;
  /** Samples shown, and over how long (ms); windowMs null: cumulative. */
  readonly samples: number;
  readonly coveredMs: number;
  readonly windowMs: number | null;
  readonly sort: SortColumn;
  /** The thread shown, or null for all. */
  readonly thread: string | null;
  readonly paused: boolean;
  /** "process 12 exited" and the like. */
  readonly ended: string | null;
}

/** One screenful of the view, drawn whole. */
export interface ScreenContent {
  readonly header: Header;
  readonly rows: readonly Row[];
  readonly cursor: number;
  /** First row shown. */
  readonly scroll: number;
  /** One line under the list: what a key did. */
  readonly message: string;
}

const REVERSE = '\u001b[7m';
const BOLD = '\u001b[1m';
const RESET = '\u001b[0m';
const KIND_TAG: Record<FrameKind, string> = { python: 'py', native: 'native', kernel: 'kernel', marker: '' };
const COLUMNS: readonly { readonly title: string; readonly sort: SortColumn; readonly width: number }[] = [
  { title: 'OWN%', sort: 'own%', width: 6 },
  { title: 'TOTAL%', sort: 'total%', width: 7 },
  { title: 'OWN', sort: 'own', width: 8 },
  { title: 'TOTAL', sort: 'total', width: 8 },
];
/** Lines above the list: two of header, the column titles; one below it. */
export const CHROME_LINES = 4;

function percent(part: number, whole: number): string {
  return whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : '-';
}

/**
 * Exactly `width` columns: cut with an ellipsis, or padded. Every text the
 * screen shows passes here, names of the target's functions, threads and
 * process among them: escaped first (terminal-text.ts), so that none acts on
 * the terminal and the width measured is the width shown.
 */
function fit(raw: string, width: number): string {
  const text = terminalText(raw);
  const cut = stringWidth(text) > width ? cliTruncate(text, width) : text;
  return cut + ' '.repeat(Math.max(0, width - stringWidth(cut)));
}

function seconds(ms: number): string {
  return ms < 10_000 ? (ms / 1000).toFixed(1) : String(Math.round(ms / 1000));
}

function headerLines(h: Header): [string, string] {
  const threads = `${h.threads} thread${h.threads === 1 ? '' : 's'}`;
  const shown = h.shown;
  const first = (
    shown.kind === 'file'
      ? [`mixprof top - ${shown.name}`, ...(h.threads > 0 ? [threads] : [])]
      : [`mixprof top - process ${shown.pid} (${shown.comm})`, shown.python ? `Python ${shown.python}` : 'no Python', threads, `${shown.hz} Hz`, `lost ${h.lost}`]
  ).join(' \u00b7 ');
  const span = shown.kind === 'file' ? 'saved' : h.windowMs === null ? `cumulative, ${seconds(h.coveredMs)} s` : `last ${seconds(Math.min(h.coveredMs, h.windowMs))} s`;
  const second = [
    `${h.samples} samples (${span})`,
    `sort ${h.sort.toUpperCase()}`,
    `thread: ${h.thread ?? 'all'}`,
    ...(h.paused ? ['PAUSED'] : []),
    ...(h.ended ? [h.ended] : []),
  ].join(' \u00b7 ');
  return [first, second];
}

/** Rows that fit under the chrome, and the first one shown so that the cursor is in view. */
export function scrollFor(cursor: number, scroll: number, rowCount: number, height: number): number {
  const room = Math.max(1, height - CHROME_LINES);
  let first = Math.min(scroll, Math.max(0, rowCount - room));
  if (cursor < first) first = cursor;
  if (cursor >= first + room) first = cursor - room + 1;
  return Math.max(0, first);
}

export function renderFrame(frame: ScreenContent, width: number, height: number): string[] {
  const { header, rows, cursor, scroll } = frame;
  const lines: string[] = headerLines(header).map((l) => fit(l, width));
  const titles = COLUMNS.map((c) => {
    const title = c.sort === header.sort ? `${c.title}\u25bc` : c.title;
    return title.padStart(c.width);
  });
  const functionTitle = header.sort === 'function' ? 'FUNCTION\u25b2' : 'FUNCTION';
  lines.push(BOLD + fit(`${titles.join(' ')}  ${functionTitle}`, width) + RESET);
  const nameWidth = Math.max(10, width - COLUMNS.reduce((n, c) => n + c.width + 1, 0) - 1);
  const room = Math.max(1, height - CHROME_LINES);
  for (let i = scroll; i < Math.min(rows.length, scroll + room); i++) {
    const row = rows[i]!;
    const own = row.own === null ? ['', ''] : [percent(row.own, header.samples), String(row.own)];
    const cells = [own[0]!, row.total === null ? '' : percent(row.total, header.samples), own[1]!, row.total === null ? '' : String(row.total)];
    const numbers = COLUMNS.map((c, k) => cells[k]!.padStart(c.width)).join(' ');
    const marker = row.openable ? (row.open ? '\u25be ' : '\u25b8 ') : '  ';
    const tag = row.kind && KIND_TAG[row.kind] ? ` [${KIND_TAG[row.kind]}]` : '';
    const name = fit(`${'  '.repeat(row.depth)}${marker}${row.label}${tag}`, nameWidth);
    const line = `${numbers}  ${name}`;
    lines.push(i === cursor ? REVERSE + line + RESET : line);
  }
  while (lines.length < height - 1) lines.push('');
  lines.push(fit(frame.message || 'q quit \u00b7 space pause \u00b7 \u2191\u2193 move \u00b7 enter open/close \u00b7 s [ ] sort \u00b7 t thread \u00b7 r reset \u00b7 w write folded', width));
  return lines.slice(0, height);
}
