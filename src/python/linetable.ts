/**
 * Line numbers from a code object's line table, one decoder per format:
 * - 'lnotab'    (<= 3.9): (byte delta, signed line delta) pairs, offsets in bytes;
 * - 'linetable' (3.10):   (byte delta, signed line delta) ranges, -128 = no line;
 * - 'locations' (3.11+):  the location table of Objects/locations.md.
 * All take a byte offset into the bytecode and return null where the
 * interpreter itself would report no line.
 */
export type LineTableFormat = 'lnotab' | 'linetable' | 'locations';

export function lineForOffset(
  format: LineTableFormat,
  table: Uint8Array,
  firstLineNo: number,
  byteOffset: number,
): number | null {
  switch (format) {
    case 'lnotab':
      return lnotabLine(table, firstLineNo, byteOffset);
    case 'linetable':
      return linetable310Line(table, firstLineNo, byteOffset);
    case 'locations':
      return locationsLine(table, firstLineNo, byteOffset);
  }
}

function signedByte(value: number): number {
  return value >= 128 ? value - 256 : value;
}

function lnotabLine(table: Uint8Array, firstLineNo: number, offset: number): number {
  let line = firstLineNo;
  let addr = 0;
  for (let i = 0; i + 1 < table.length; i += 2) {
    addr += table[i]!;
    if (addr > offset) break;
    line += signedByte(table[i + 1]!);
  }
  return line;
}

function linetable310Line(table: Uint8Array, firstLineNo: number, offset: number): number | null {
  if (offset < 0) return firstLineNo;
  let line = firstLineNo;
  let end = 0;
  for (let i = 0; i + 1 < table.length; i += 2) {
    end += table[i]!;
    const delta = signedByte(table[i + 1]!);
    if (delta !== -128) line += delta;
    if (offset < end) return delta === -128 ? null : line;
  }
  return null;
}

/** A cursor over the location table's varints (6-bit chunks, bit 6 continues). */
class Cursor {
  pos: number;
  constructor(private readonly bytes: Uint8Array, pos: number) {
    this.pos = pos;
  }
  byte(): number {
    const value = this.bytes[this.pos];
    if (value === undefined) throw new RangeError('location table ends inside an entry');
    this.pos++;
    return value;
  }
  varint(): number {
    let b = this.byte();
    let value = b & 63;
    let shift = 6;
    while (b & 64) {
      b = this.byte();
      value += (b & 63) * 2 ** shift;
      shift += 6;
    }
    return value;
  }
  svarint(): number {
    const u = this.varint();
    return u & 1 ? -Math.floor(u / 2) : Math.floor(u / 2);
  }
}

const LOC_NO_LOCATION = 15;
const LOC_LONG = 14;
const LOC_NO_COLUMNS = 13;
const LOC_ONE_LINE_FIRST = 10;

function locationsLine(table: Uint8Array, firstLineNo: number, offset: number): number | null {
  if (offset < 0) return firstLineNo;
  const cursor = new Cursor(table, 0);
  let line = firstLineNo;
  let end = 0;
  try {
    while (cursor.pos < table.length) {
      const first = cursor.byte();
      if ((first & 0x80) === 0) return null; // not at an entry start: corrupt table
      const code = (first >> 3) & 15;
      end += ((first & 7) + 1) * 2;
      let hasLine = true;
      if (code === LOC_NO_LOCATION) {
        hasLine = false;
      } else if (code === LOC_LONG) {
        line += cursor.svarint();
        cursor.varint();
        cursor.varint();
        cursor.varint();
      } else if (code === LOC_NO_COLUMNS) {
        line += cursor.svarint();
      } else if (code >= LOC_ONE_LINE_FIRST) {
        line += code - LOC_ONE_LINE_FIRST;
        cursor.byte();
        cursor.byte();
      } else {
        cursor.byte();
      }
      if (offset < end) return hasLine ? line : null;
    }
  } catch {
    return null;
  }
  return null;
}
