/**
 * Turns a captured chain into named Python frames, split into the groups that
 * one call of the eval loop runs (the unit the merge replaces an eval-loop
 * native frame with): see FrameGrouping. Shim frames (3.12+) are not Python
 * code and are never shown.
 */
import type { Frame, RawPythonChain, RawPythonFrame } from '../profile/types.js';
import type { CodeObjectReader, ResolvedPythonFrame } from './code-objects.js';
import type { FrameLayout } from './layout.js';

export interface PythonStack {
  /** Innermost group first; inside a group, innermost frame first. */
  readonly groups: Frame[][];
  readonly truncated: boolean;
  readonly unknownFrames: number;
}

export const UNKNOWN_PYTHON_FRAME = '[unknown python frame]';

function byteAt(flags: bigint, index: number | null): number | null {
  return index === null ? null : Number((flags >> BigInt(index * 8)) & 0xffn);
}

/** The frame is the oldest its eval-loop call runs: the group ends with it. */
export function endsGroup(layout: FrameLayout, frame: RawPythonFrame): boolean {
  if (layout.grouping === 'per-frame') return true;
  return layout.grouping === 'entry-flag' && byteAt(frame.flags, layout.isEntryByte) === 1;
}

export function isShimFrame(layout: FrameLayout, frame: RawPythonFrame): boolean {
  const owner = byteAt(frame.flags, layout.ownerByte);
  return owner !== null && layout.shimOwners.includes(owner);
}

/** How a source path is shown in a frame's name (short or full). */
export type ShowPath = (file: string) => string;

/** "qualname (file.py:LINE)", with function, full path and line kept apart for the structured formats. */
export function pythonFrame(resolved: ResolvedPythonFrame & { status: 'ok' }, showPath: ShowPath): Frame {
  const shown = showPath(resolved.filename);
  const func = resolved.qualname;
  const file = resolved.filename;
  return resolved.line === null ? { kind: 'python', name: `${func} (${shown})`, func, file } : { kind: 'python', name: `${func} (${shown}:${resolved.line})`, func, file, line: resolved.line };
}

export function pythonStack(chain: RawPythonChain, layout: FrameLayout, reader: CodeObjectReader, showPath: ShowPath): PythonStack {
  reader.prefetch(chain.frames.map((f) => f.code));
  const groups: Frame[][] = [];
  let group: Frame[] = [];
  let unknownFrames = 0;
  const close = (): void => {
    if (group.length > 0) groups.push(group);
    group = [];
  };
  for (const raw of chain.frames) {
    if (isShimFrame(layout, raw)) {
      close();
      continue;
    }
    const resolved = reader.resolve(raw);
    if (resolved.status === 'ok') group.push(pythonFrame(resolved, showPath));
    else if (resolved.status === 'unknown') {
      group.push({ kind: 'python', name: UNKNOWN_PYTHON_FRAME });
      unknownFrames++;
    }
    if (endsGroup(layout, raw)) close();
  }
  close();
  return { groups, truncated: chain.truncated, unknownFrames };
}
