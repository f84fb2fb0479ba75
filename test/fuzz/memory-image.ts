/**
 * For fuzzing the decoders of the target's memory: a sparse memory image
 * (regions at addresses, everything else unreadable), a code object laid out
 * in it as a given version's layout says, and the ways a racing or freed
 * object can look different (bytes flipped, pointers elsewhere, regions cut
 * short or gone). A seeded generator makes every case reproducible.
 */
import type { PythonLayout } from '../../src/python/layout.js';
import type { RawPythonFrame } from '../../src/python/captured.js';
import type { MemoryReader } from '../../src/target/memory.js';

/** mulberry32: small, fast, and the same sequence for the same seed. */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(below: number): number {
    return Math.floor(this.next() * below);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

export class SparseMemory implements MemoryReader {
  readonly regions = new Map<bigint, Buffer>();

  set(address: bigint, data: Buffer): void {
    this.regions.set(address, data);
  }

  read(address: bigint, length: number): Buffer | null {
    if (length < 0 || !Number.isSafeInteger(length)) return null;
    for (const [start, data] of this.regions) {
      const end = start + BigInt(data.length);
      if (address >= start && address + BigInt(length) <= end) {
        const from = Number(address - start);
        return Buffer.from(data.subarray(from, from + length));
      }
    }
    return null;
  }

  readMany(addresses: readonly bigint[], lengths: readonly number[]): (Buffer | null)[] {
    return addresses.map((a, i) => this.read(a, lengths[i]!));
  }
}

export const CODE = 0x10000n;
const QUALNAME = 0x20000n;
const FILENAME = 0x30000n;
const LINETABLE = 0x40000n;
export const CODE_TYPE = 0x5000n;
/** Objects sit in a heap with more memory after them: reads may go past an object's end. */
const HEAP_SLACK = 256;
const POINTERS = [CODE, QUALNAME, FILENAME, LINETABLE, 0n, 0x7fff_ffff_fff0n, 0xffff_8000_0000_0000n];

function unicodeObject(layout: PythonLayout['unicode'], text: string): Buffer {
  const ascii = [...text].every((c) => c.codePointAt(0)! < 0x80);
  const wide = [...text].some((c) => c.codePointAt(0)! > 0xffff);
  const kind = ascii ? 1 : wide ? 4 : [...text].some((c) => c.codePointAt(0)! > 0xff) ? 2 : 1;
  const chars = [...text];
  const header = ascii ? layout.asciiSize : layout.compactSize;
  const data = Buffer.alloc(chars.length * kind + kind);
  chars.forEach((c, i) => {
    const cp = c.codePointAt(0)!;
    if (kind === 1) data[i] = cp;
    else if (kind === 2) data.writeUInt16LE(cp, i * 2);
    else data.writeUInt32LE(cp, i * 4);
  });
  const out = Buffer.alloc(header + data.length + HEAP_SLACK);
  out.writeBigInt64LE(BigInt(chars.length), layout.length);
  const state = (kind << layout.kindShift) | (1 << layout.compactShift) | ((ascii ? 1 : 0) << layout.asciiShift);
  out.writeUInt32LE(state >>> 0, layout.state);
  data.copy(out, header);
  return out;
}

function bytesObject(layout: PythonLayout['bytes'], data: Buffer): Buffer {
  const out = Buffer.alloc(layout.data + data.length + 1 + HEAP_SLACK);
  out.writeBigInt64LE(BigInt(data.length), layout.size);
  data.copy(out, layout.data);
  return out;
}

export interface CodeCase {
  readonly qualname: string;
  readonly filename: string;
  readonly firstLineNo: number;
  readonly table: Buffer;
  /** Byte offset of the instruction running, in the bytecode. */
  readonly offset: number;
}

/** A code object and its strings and line table, as the layout places them; and the frame that runs it. */
export function codeImage(layout: PythonLayout, c: CodeCase): { memory: SparseMemory; frame: RawPythonFrame } {
  const memory = new SparseMemory();
  const { code } = layout;
  const head = Buffer.alloc(code.readSize + (code.bytecode ?? 0) + c.offset + HEAP_SLACK);
  head.writeBigUInt64LE(CODE_TYPE, layout.objectType);
  // ob_size: the bytecode's 2-byte code units, reaching past the instruction.
  if (code.bytecode !== null) head.writeBigInt64LE(BigInt(Math.floor(c.offset / 2) + 1), layout.objectType + 8);
  head.writeBigUInt64LE(QUALNAME, code.qualname ?? code.name);
  head.writeBigUInt64LE(FILENAME, code.filename);
  head.writeBigUInt64LE(LINETABLE, code.lineTable);
  head.writeInt32LE(c.firstLineNo, code.firstLineNo);
  if (code.firstTraceable !== null) head.writeInt32LE(0, code.firstTraceable);
  memory.set(CODE, head);
  memory.set(QUALNAME, unicodeObject(layout.unicode, c.qualname));
  memory.set(FILENAME, unicodeObject(layout.unicode, c.filename));
  memory.set(LINETABLE, bytesObject(layout.bytes, c.table));
  const { instrKind } = layout.frame;
  const instr =
    instrKind === 'pointer' ? CODE + BigInt(code.bytecode ?? 0) + BigInt(c.offset) : instrKind === 'lasti-units' ? BigInt(c.offset / 2) : BigInt(c.offset);
  return { memory, frame: { code: CODE, instr, flags: 0n, firstLineNo: c.firstLineNo } };
}

/** One change of the kinds a racing read or a freed object shows. */
export function mutate(memory: SparseMemory, random: Random): string {
  const addresses = [...memory.regions.keys()];
  const address = random.pick(addresses);
  const data = memory.regions.get(address)!;
  switch (random.int(5)) {
    case 0: {
      const flips = 1 + random.int(8);
      for (let i = 0; i < flips && data.length > 0; i++) data[random.int(data.length)] = random.int(256);
      return `flip ${flips} bytes at 0x${address.toString(16)}`;
    }
    case 1: {
      if (data.length < 8) return 'none';
      const at = random.int(data.length - 7) & ~7;
      data.writeBigUInt64LE(random.pick(POINTERS) + BigInt(random.int(64)), at);
      return `pointer at 0x${address.toString(16)}+${at}`;
    }
    case 2: {
      const keep = random.int(data.length + 1);
      memory.set(address, data.subarray(0, keep));
      return `cut 0x${address.toString(16)} to ${keep} bytes`;
    }
    case 3:
      memory.regions.delete(address);
      return `drop 0x${address.toString(16)}`;
    default: {
      if (data.length < 8) return 'none';
      const at = random.int(data.length - 7);
      data.writeBigInt64LE(BigInt(random.pick([-1, 0x7fffffff, 1 << 20, 4097, -(2 ** 31)])), at);
      return `length-like value at 0x${address.toString(16)}+${at}`;
    }
  }
}
