/**
 * The trace's report: a table on stderr (as `sample` reports), and the JSON
 * that -o writes.
 */
import { shortenPath } from '../symbolize/short-paths.js';
import type { ProbeGroups } from './usdt-probes.js';
import type { FunctionRow, SortKey } from './function-rows.js';
import { sortRows } from './function-rows.js';
import type { GcCounts, ImportCounts } from './trace-counts.js';

export interface TraceReport {
  readonly pid: number;
  readonly comm: string;
  /** The target's working directory, which the table's short paths are relative to. */
  readonly cwd: string | null;
  readonly python: string;
  /** From the start of counting to the end of the program (the calls counted fall in it). */
  readonly seconds: number;
  readonly traced: ProbeGroups;
  /** Matching functions (all with no --match). */
  readonly functions: readonly FunctionRow[];
  /** Functions called, matching or not. */
  readonly functionCount: number;
  /** Whether --match chose the functions. */
  readonly matched: boolean;
  /** Calls of every function, matching or not. */
  readonly calls: number;
  /** Calls the program could not tie to a code object. */
  readonly unattributedCalls: number;
  /** Calls of code objects whose names could not be read (freed before they were). */
  readonly unnamedCalls: number;
  /** Calls past the depth the program times. */
  readonly deeperCalls: number;
  /** Calls still open at the end: counted, and timed up to the end. */
  readonly openCalls: number;
  readonly gc: readonly GcCounts[];
  readonly imports: readonly ImportCounts[];
}

export function traceJson(report: TraceReport): string {
  const ns = (n: bigint): number => Number(n);
  return (
    JSON.stringify(
      {
        pid: report.pid,
        comm: report.comm,
        python: report.python,
        seconds: report.seconds,
        traced: { functions: report.traced.functions, gc: report.traced.gc, imports: report.traced.imports },
        calls: report.calls,
        function_count: report.functionCount,
        unattributed_calls: report.unattributedCalls,
        unnamed_calls: report.unnamedCalls,
        deeper_calls: report.deeperCalls,
        open_calls: report.openCalls,
        functions: report.functions.map((f) => ({ function: f.function, module: f.module, qualname: f.qualname, file: f.file, line: f.line, calls: f.calls, own_ns: ns(f.ownNs), total_ns: ns(f.totalNs) })),
        gc: report.gc.map((g) => ({ generation: g.generation, pauses: g.pauses, total_ns: ns(g.totalNs), longest_ns: ns(g.longestNs), collected: ns(g.collected) })),
        imports: report.imports.map((i) => ({ module: i.module, imports: i.imports, ns: ns(i.ns) })),
      },
      null,
      2,
    ) + '\n'
  );
}

/** "1.23 s", "45.6 ms", "789 µs", "12 ns": three significant digits. */
export function formatDuration(ns: bigint | number): string {
  const n = Number(ns);
  const units: [number, string][] = [
    [1e9, 's'],
    [1e6, 'ms'],
    [1e3, 'µs'],
  ];
  for (const [scale, unit] of units) if (Math.abs(n) >= scale) return `${(n / scale).toPrecision(3)} ${unit}`;
  return `${Math.round(n)} ns`;
}

const perCall = (ns: bigint, calls: number): bigint => (calls > 0 ? ns / BigInt(calls) : 0n);

export interface TableOptions {
  readonly sort: SortKey;
  /** Function rows shown; the rest are counted in a line. */
  readonly limit: number;
  /** Where the whole report went, for that line (null: nowhere). */
  readonly output: string | null;
}

export function traceTable(report: TraceReport, options: TableOptions): string[] {
  const lines: string[] = [];
  const functions = report.traced.functions;
  const summary = [`mixprof: traced process ${report.pid} (${report.comm}, Python ${report.python}) for ${report.seconds.toFixed(1)} s`];
  if (functions) summary.push(`${report.calls.toLocaleString('en-US')} calls of ${report.functionCount} functions${report.matched ? `, ${report.functions.length} of them matching --match` : ''}`);
  lines.push(summary.join(': '));
  if (functions && report.functions.length > 0) {
    const rows = sortRows(report.functions, options.sort).slice(0, options.limit);
    const table = [['CALLS', 'OWN', 'OWN/CALL', 'TOTAL', 'TOTAL/CALL', 'FUNCTION']];
    for (const r of rows) {
      table.push([r.calls.toLocaleString('en-US'), formatDuration(r.ownNs), formatDuration(perCall(r.ownNs, r.calls)), formatDuration(r.totalNs), formatDuration(perCall(r.totalNs, r.calls)), `${r.function} (${shortenPath(r.file, report.cwd)}:${r.line})`]);
    }
    lines.push(...alignColumns(table));
    const more = report.functions.length - rows.length;
    if (more > 0) lines.push(`... and ${more} more functions${options.output ? ` (all in ${options.output})` : ' (-o FILE.json writes all)'}`);
  }
  const notes: string[] = [];
  if (report.unattributedCalls > 0) notes.push(`${report.unattributedCalls.toLocaleString('en-US')} calls could not be tied to a function`);
  if (report.unnamedCalls > 0) notes.push(`${report.unnamedCalls.toLocaleString('en-US')} calls were of code objects freed before their names were read`);
  if (report.deeperCalls > 0) notes.push(`${report.deeperCalls.toLocaleString('en-US')} calls deeper than the timed depth were counted but not timed`);
  if (report.openCalls > 0) notes.push(`${report.openCalls} calls still running at the end are timed up to it`);
  for (const note of notes) lines.push(`mixprof: ${note}`);
  if (report.traced.gc) {
    if (report.gc.length === 0) lines.push('garbage collections: none');
    else {
      lines.push('garbage collections:');
      const table = [['GENERATION', 'PAUSES', 'TOTAL', 'LONGEST', 'COLLECTED']];
      for (const g of report.gc) table.push([String(g.generation), g.pauses.toLocaleString('en-US'), formatDuration(g.totalNs), formatDuration(g.longestNs), g.collected.toLocaleString('en-US')]);
      lines.push(...alignColumns(table));
    }
  }
  if (report.traced.imports && report.imports.length > 0) {
    lines.push('imports (time includes the imports they make):');
    const sorted = [...report.imports].sort((a, b) => (b.ns > a.ns ? 1 : b.ns < a.ns ? -1 : a.module.localeCompare(b.module)));
    const table = [['TIME', 'MODULE']];
    for (const i of sorted.slice(0, options.limit)) table.push([formatDuration(i.ns), i.imports > 1 ? `${i.module} (${i.imports} times)` : i.module]);
    lines.push(...alignColumns(table));
    if (sorted.length > options.limit) lines.push(`... and ${sorted.length - options.limit} more modules`);
  }
  return lines;
}

/** Right-aligned columns, the last left-aligned. */
function alignColumns(rows: readonly string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padStart(widths[i]!))).join('  '));
}
