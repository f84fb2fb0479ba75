/**
 * Decodes str and bytes objects read from the target. Names and file names are
 * compact unicode objects: ASCII data right after PyASCIIObject, other kinds
 * (1, 2 or 4 bytes per character) after PyCompactUnicodeObject.
 */
import type { BytesLayout, UnicodeLayout } from './layout.js';
import type { MemoryReader } from '../target/memory.js';

/** Longer names are not names: a bound that keeps garbage pointers cheap. */
export const MAX_STRING_CHARS = 4096;
/** One read usually covers header and text of a name. */
const OPTIMISTIC_TEXT_BYTES = 192;

export function readPyUnicode(memory: MemoryReader, layout: UnicodeLayout, address: bigint): string | null {
  if (address === 0n) return null;
  const guess = layout.compactSize + OPTIMISTIC_TEXT_BYTES;
  const head = memory.read(address, guess) ?? memory.read(address, layout.compactSize);
  if (!head) return null;
  return decodeUnicode(head, layout, (offset, length) =>
    offset + length <= head.length ? head.subarray(offset, offset + length) : memory.read(address + BigInt(offset), length),
  );
}

/** Pure decoding over a header buffer; `bytesAt` supplies text beyond it. */
export function decodeUnicode(
  head: Buffer,
  layout: UnicodeLayout,
  bytesAt: (offset: number, length: number) => Buffer | null,
): string | null {
  if (head.length < layout.state + 4) return null;
  const length = Number(head.readBigInt64LE(layout.length));
  if (length < 0 || length > MAX_STRING_CHARS) return null;
  const state = head.readUInt32LE(layout.state);
  const kind = (state >>> layout.kindShift) & 7;
  const compact = (state >>> layout.compactShift) & 1;
  const ascii = (state >>> layout.asciiShift) & 1;
  if (!compact) return null;
  if (ascii) {
    const data = bytesAt(layout.asciiSize, length);
    return data ? data.toString('latin1') : null;
  }
  if (kind !== 1 && kind !== 2 && kind !== 4) return null;
  const data = bytesAt(layout.compactSize, length * kind);
  if (!data) return null;
  if (kind === 1) return data.toString('latin1');
  if (kind === 2) return data.toString('utf16le');
  let text = '';
  for (let i = 0; i < length; i++) text += String.fromCodePoint(Math.min(data.readUInt32LE(i * 4), 0x10ffff));
  return text;
}

/** Line tables are bytes objects; they can be long, so no size bound but a sane one. */
export const MAX_BYTES_LENGTH = 1 << 20;

export function readPyBytes(memory: MemoryReader, layout: BytesLayout, address: bigint): Buffer | null {
  if (address === 0n) return null;
  const head = memory.read(address, layout.data);
  if (!head) return null;
  const length = Number(head.readBigInt64LE(layout.size));
  if (length < 0 || length > MAX_BYTES_LENGTH) return null;
  if (length === 0) return Buffer.alloc(0);
  return memory.read(address + BigInt(layout.data), length);
}
