/**
 * What a captured frame's flags word says: whether the frame is the oldest
 * one call of the eval loop runs (see FrameGrouping), and whether it is a
 * shim (3.12+), which is not Python code.
 */
import type { RawPythonFrame } from './captured.js';
import type { FrameLayout } from './layout.js';

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
