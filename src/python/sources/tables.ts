/** The built-in offsets of a minor version's release builds, for interpreters with no debug info. */
import type { StructOffsets } from '../offsets.js';
import { OFFSET_TABLES } from './tables.generated.js';

export function tableFor(minor: number): StructOffsets | null {
  return OFFSET_TABLES[minor] ?? null;
}
