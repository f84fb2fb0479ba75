/**
 * The traced functions as rows: each code object's counts under its name
 * (module.qualname, file, first line), code objects of one function added
 * together (a module imported twice, code re-created by exec), filtered by
 * --match.
 */
import type { CodeCounts } from './trace-counts.js';

export interface FunctionName {
  readonly qualname: string;
  readonly filename: string;
  readonly firstLineNo: number;
}

export interface FunctionRow {
  /** module.qualname: what --match is matched against. */
  readonly function: string;
  readonly module: string;
  readonly qualname: string;
  readonly file: string;
  readonly line: number;
  readonly calls: number;
  readonly ownNs: bigint;
  readonly totalNs: bigint;
}

const FROZEN = /^<frozen (.+)>$/;
const PACKAGES_DIR = /\/(?:site|dist)-packages\//g;
const STDLIB_DIR = /\/lib(?:64)?\/python\d+\.\d+[a-z]*\//;

/** Whether a folder of the target's is a package (holds an __init__.py). */
export type IsPackage = (dir: string) => boolean;

/**
 * The module a source file holds, as Python's imports name it: the file's
 * name, under the packages (folders with an __init__.py) around it; under
 * site-packages or the standard library, its dotted path there (namespace
 * packages have no __init__.py). A script run as the main program is named
 * by its file too ("app" for app.py), not "__main__".
 */
export function moduleOf(file: string, isPackage: IsPackage): string {
  const frozen = FROZEN.exec(file);
  if (frozen) return frozen[1]!;
  if (!file.startsWith('/')) return file;
  const base = file.replace(/\.py[cw]?$/, '');
  let root = -1;
  for (const match of file.matchAll(PACKAGES_DIR)) root = match.index + match[0].length;
  if (root < 0) {
    const stdlib = STDLIB_DIR.exec(file);
    if (stdlib) root = stdlib.index + stdlib[0].length;
  }
  if (root >= 0 && root < base.length) return base.slice(root).replace(/\/__init__$/, '').split('/').join('.');
  const parts = base.split('/');
  let name = parts.pop()!;
  if (name === '__init__' && parts.length > 1) name = parts.pop()!;
  while (parts.length > 1 && isPackage(parts.join('/'))) name = `${parts.pop()!}.${name}`;
  return name;
}

export interface RowOptions {
  readonly isPackage: IsPackage;
  /** Keeps the functions whose module.qualname it matches. */
  readonly match: RegExp | null;
}

/** Rows for the named code objects, most own time first; code objects with no name are left to the caller to count. */
export function functionRows(codes: ReadonlyMap<bigint, CodeCounts>, nameOf: (code: bigint) => FunctionName | null, options: RowOptions): FunctionRow[] {
  const rows = new Map<string, FunctionRow>();
  for (const [code, counts] of codes) {
    const name = code === 0n ? null : nameOf(code);
    if (!name) continue;
    const module = moduleOf(name.filename, options.isPackage);
    const fn = `${module}.${name.qualname}`;
    if (options.match && !options.match.test(fn)) continue;
    const key = `${fn}\0${name.filename}\0${name.firstLineNo}`;
    const before = rows.get(key);
    rows.set(key, {
      function: fn,
      module,
      qualname: name.qualname,
      file: name.filename,
      line: name.firstLineNo,
      calls: (before?.calls ?? 0) + counts.calls,
      ownNs: (before?.ownNs ?? 0n) + counts.ownNs,
      totalNs: (before?.totalNs ?? 0n) + counts.totalNs,
    });
  }
  return [...rows.values()].sort((a, b) => compareBig(b.ownNs, a.ownNs) || b.calls - a.calls || a.function.localeCompare(b.function));
}

function compareBig(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export type SortKey = 'own' | 'total' | 'calls';
export const SORT_KEYS: readonly SortKey[] = ['own', 'total', 'calls'];

export function sortRows(rows: readonly FunctionRow[], key: SortKey): FunctionRow[] {
  const value = (r: FunctionRow): bigint => (key === 'own' ? r.ownNs : key === 'total' ? r.totalNs : BigInt(r.calls));
  return [...rows].sort((a, b) => compareBig(value(b), value(a)) || a.function.localeCompare(b.function));
}
