/**
 * What `mixprof top` shows, as data: the functions of a set of stacks with
 * their own (innermost) and total (on the stack) samples, sorted by a
 * column, and for each function opened, the trees of its callees and of its
 * callers, as the nested view of the seeds' profiling viewer. Pure: the
 * screen module draws the rows, the app keeps the state.
 */
import path from 'node:path';
import type { StackCount } from '../profile/profile.js';
import type { Frame, FrameKind } from '../symbolize/frame.js';
import { countFunctions, functionKey, functionName, isFunctionFrame, type FunctionCount } from '../profile/function-counts.js';

export const SORT_COLUMNS = ['own%', 'total%', 'own', 'total', 'function'] as const;
export type SortColumn = (typeof SORT_COLUMNS)[number];

/** A tree of calls below (callees) or above (callers) a function, merged by function. */
export interface CallTree {
  readonly key: string;
  readonly name: string;
  readonly kind: FrameKind;
  readonly file: string | undefined;
  count: number;
  readonly children: Map<string, CallTree>;
}

export interface ViewState {
  readonly sort: SortColumn;
  /** Rows whose open state is the other one than by default (see isOpen). */
  readonly toggled: ReadonlySet<string>;
}

/** One line of the list. */
export interface Row {
  /** Stable across refreshes: where the cursor stays. */
  readonly id: string;
  readonly type: 'function' | 'heading' | 'call';
  /** Indentation level: 0 for functions. */
  readonly depth: number;
  readonly label: string;
  readonly kind: FrameKind | null;
  /** Functions only. */
  readonly own: number | null;
  /** A function's total, or the samples of a call path; none for headings. */
  readonly total: number | null;
  readonly open: boolean;
  readonly openable: boolean;
}

/** Call trees are opened this deep by default; deeper levels on request. */
const OPEN_DEPTH = 2;
/** Deeper call paths are not followed. */
const MAX_TREE_DEPTH = 64;

/** "f (app.py)" for Python, "memcpy (libc.so.6)" for native code, the symbol for the kernel. */
export function functionLabel(f: { readonly name: string; readonly kind: FrameKind; readonly file: string | undefined }): string {
  if (f.kind === 'native' && f.file) return `${f.name} (${path.basename(f.file)})`;
  return f.name;
}

export function sortFunctions(functions: readonly FunctionCount[], column: SortColumn): FunctionCount[] {
  const byName = (a: FunctionCount, b: FunctionCount): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0);
  const bySelf = (a: FunctionCount, b: FunctionCount): number => b.self - a.self || b.total - a.total || byName(a, b);
  const byTotal = (a: FunctionCount, b: FunctionCount): number => b.total - a.total || b.self - a.self || byName(a, b);
  const compare = column === 'own%' || column === 'own' ? bySelf : column === 'function' ? byName : byTotal;
  return [...functions].sort(compare);
}

function newTree(frame: Frame | null, key: string): CallTree {
  return { key, name: frame ? functionName(frame) : '', kind: frame?.kind ?? 'marker', file: frame?.file, count: 0, children: new Map() };
}

function addPath(tree: CallTree, frames: readonly Frame[], count: number): void {
  tree.count += count;
  let node = tree;
  for (const frame of frames.slice(0, MAX_TREE_DEPTH)) {
    const key = functionKey(frame);
    let child = node.children.get(key);
    if (!child) {
      child = newTree(frame, key);
      node.children.set(key, child);
    }
    child.count += count;
    node = child;
  }
}

/**
 * What the function calls (below its outermost call in each stack, so that
 * recursion is not counted twice) and what calls it (above its innermost
 * call, nearest caller first), merged by function.
 */
export function callTrees(stacks: readonly StackCount[], key: string): { readonly callees: CallTree; readonly callers: CallTree } {
  const callees = newTree(null, key);
  const callers = newTree(null, key);
  for (const stack of stacks) {
    const frames = stack.frames;
    const at: number[] = [];
    frames.forEach((frame, i) => {
      if (isFunctionFrame(frames, i) && functionKey(frame) === key) at.push(i);
    });
    if (at.length === 0) continue;
    addPath(callees, frames.slice(at[0]! + 1), stack.count);
    const above = frames.slice(0, at.at(-1)!).filter((_, i) => isFunctionFrame(frames, i));
    addPath(callers, above.reverse(), stack.count);
  }
  return { callees, callers };
}

/** Open by default: call trees near their function; everything else starts closed. */
function isOpen(id: string, depth: number, type: Row['type'], toggled: ReadonlySet<string>): boolean {
  const byDefault = type !== 'function' && depth <= OPEN_DEPTH;
  return toggled.has(id) ? !byDefault : byDefault;
}

/** The list as shown: functions in order, each open one followed by its call trees. */
export function viewRows(stacks: readonly StackCount[], state: ViewState): { readonly rows: Row[]; readonly samples: number } {
  const { functions, samples } = countFunctions(stacks);
  const rows: Row[] = [];
  for (const f of sortFunctions(functions, state.sort)) {
    const id = f.key;
    const open = isOpen(id, 0, 'function', state.toggled);
    rows.push({ id, type: 'function', depth: 0, label: functionLabel(f), kind: f.kind, own: f.self, total: f.total, open, openable: true });
    if (!open) continue;
    const trees = callTrees(stacks, f.key);
    for (const [side, tree] of [['callees', trees.callees], ['callers', trees.callers]] as const) {
      const headingId = `${id}\u0000${side}`;
      const headingOpen = isOpen(headingId, 1, 'heading', state.toggled);
      const label = side === 'callees' ? (tree.children.size ? 'calls' : 'calls nothing: all its samples are its own') : tree.children.size ? 'called by' : 'called by nothing: a root';
      rows.push({ id: headingId, type: 'heading', depth: 1, label, kind: null, own: null, total: null, open: headingOpen, openable: tree.children.size > 0 });
      if (headingOpen) addTreeRows(rows, tree, headingId, 2, state.toggled);
    }
  }
  return { rows, samples };
}

function addTreeRows(rows: Row[], tree: CallTree, parentId: string, depth: number, toggled: ReadonlySet<string>): void {
  const children = [...tree.children.values()].sort((a, b) => b.count - a.count || (a.name < b.name ? -1 : 1));
  for (const child of children) {
    const id = `${parentId}\u0000${child.key}`;
    const open = isOpen(id, depth, 'call', toggled);
    rows.push({ id, type: 'call', depth, label: functionLabel(child), kind: child.kind, own: null, total: child.count, open, openable: child.children.size > 0 });
    if (open) addTreeRows(rows, child, id, depth + 1, toggled);
  }
}
