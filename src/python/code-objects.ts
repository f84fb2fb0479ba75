/**
 * Turns captured (code object, instruction) pairs into names and lines by
 * reading the target's memory. Code objects are read once and cached by
 * address; the first line number captured at sample time must match the one
 * read later, so a freed and reused address never lends its name to a frame.
 * A read that failed, or a code object whose first line does not match, is
 * read again after a while (at most once a second per address): the address
 * may hold another code object by then, and one unlucky read must not leave
 * every later frame of a function unknown.
 */
import type { PythonLayout } from './layout.js';
import { lineForOffset } from './linetable.js';
import type { MemoryReader } from '../target/memory.js';
import { readPyBytes, readPyUnicode } from './unicode.js';
import type { RawPythonFrame } from './captured.js';

export interface CodeInfo {
  readonly qualname: string;
  readonly filename: string;
  readonly firstLineNo: number;
  readonly lineTable: Buffer | null;
  readonly firstTraceable: number;
  /** Bytes of bytecode (3.11+: the code object's ob_size counts 2-byte code units); null before. */
  readonly bytecodeSize: number | null;
}

export type ResolvedPythonFrame =
  | { readonly status: 'ok'; readonly qualname: string; readonly filename: string; readonly line: number | null }
  /** Pushed but not started (3.11): the interpreter itself hides these. */
  | { readonly status: 'incomplete' }
  | { readonly status: 'unknown' };

const UNKNOWN: ResolvedPythonFrame = { status: 'unknown' };
const INCOMPLETE: ResolvedPythonFrame = { status: 'incomplete' };

/** How long a failed or mismatched read stands before the address is read again. */
export const REREAD_AFTER_MS = 1000;

/** A code object as last read (null: unreadable), and when. */
interface CodeRead {
  readonly info: CodeInfo | null;
  readonly at: number;
}

export class CodeObjectReader {
  private readonly codes = new Map<bigint, CodeRead>();
  /** Resolved frames; unknown ones are not kept, so they are tried again. */
  private readonly frames = new Map<string, ResolvedPythonFrame>();

  constructor(
    private readonly memory: MemoryReader,
    private readonly layout: PythonLayout,
    private readonly now: () => number = Date.now,
  ) {}

  resolve(frame: RawPythonFrame): ResolvedPythonFrame {
    const key = `${frame.code}:${frame.instr}:${frame.firstLineNo}`;
    let resolved = this.frames.get(key);
    if (!resolved) {
      resolved = this.resolveUncached(frame);
      if (resolved.status !== 'unknown') this.frames.set(key, resolved);
    }
    return resolved;
  }

  /** Reads many code objects at once (a new chain's frames arrive together): those not read yet, and failed reads old enough to try again. */
  prefetch(codes: readonly bigint[]): void {
    this.read([...new Set(codes)].filter((code) => code !== 0n && (this.codes.get(code)?.info === null ? this.mayReread(code) : !this.codes.has(code))));
  }

  code(address: bigint): CodeInfo | null {
    this.prefetch([address]);
    return this.codes.get(address)?.info ?? null;
  }

  private read(addresses: readonly bigint[]): void {
    if (addresses.length === 0) return;
    const size = this.layout.code.readSize;
    const heads = this.memory.readMany(addresses, addresses.map(() => size));
    const at = this.now();
    addresses.forEach((code, i) => this.codes.set(code, { info: this.decodeCode(heads[i] ?? null), at }));
  }

  /** The address was last read long enough ago to read it again. */
  private mayReread(address: bigint): boolean {
    const read = this.codes.get(address);
    return read === undefined || this.now() - read.at >= REREAD_AFTER_MS;
  }

  private resolveUncached(frame: RawPythonFrame): ResolvedPythonFrame {
    let info = frame.code === 0n ? null : this.code(frame.code);
    if (info && info.firstLineNo !== frame.firstLineNo && this.mayReread(frame.code)) {
      // Freed since it was read, and the address now another code object's?
      this.read([frame.code]);
      info = this.code(frame.code);
    }
    // Unreadable, or freed and its address reused by another code object: the report counts such samples.
    if (!info || info.firstLineNo !== frame.firstLineNo) return UNKNOWN;
    const offset = this.instructionOffset(frame, info);
    if (offset !== null && this.layout.code.firstTraceable !== null && offset / 2 < info.firstTraceable) {
      if (!this.isGeneratorFrame(frame)) return INCOMPLETE;
    }
    const line =
      offset === null || !info.lineTable
        ? null
        : lineForOffset(this.layout.code.lineTableFormat, info.lineTable, info.firstLineNo, offset);
    return { status: 'ok', qualname: info.qualname, filename: info.filename, line };
  }

  /** Byte offset of the current instruction in the bytecode, or null if implausible. */
  private instructionOffset(frame: RawPythonFrame, info: CodeInfo): number | null {
    const { instrKind } = this.layout.frame;
    let offset: bigint;
    if (instrKind === 'pointer') {
      if (this.layout.code.bytecode === null) return null;
      offset = frame.instr - (frame.code + BigInt(this.layout.code.bytecode));
    } else {
      // f_lasti is a C int: sign-extend the 32 bits captured.
      const lasti = BigInt.asIntN(32, frame.instr);
      offset = instrKind === 'lasti-units' ? lasti * 2n : lasti;
    }
    if (offset < -2n || offset > 1n << 30n) return null;
    // Outside the code object's own bytecode: a free-threaded 3.14+ thread
    // runs a private copy of it, whose line is not known from here.
    if (info.bytecodeSize !== null && offset > BigInt(info.bytecodeSize)) return null;
    return Number(offset);
  }

  private isGeneratorFrame(frame: RawPythonFrame): boolean {
    const { ownerByte, generatorOwner } = this.layout.frame;
    if (ownerByte === null || generatorOwner === null) return false;
    return ((frame.flags >> BigInt(ownerByte * 8)) & 0xffn) === BigInt(generatorOwner);
  }

  private decodeCode(head: Buffer | null): CodeInfo | null {
    if (!head) return null;
    const { code, codeTypeAddress, unicode, bytes, objectType } = this.layout;
    if (codeTypeAddress !== null && head.readBigUInt64LE(objectType) !== codeTypeAddress) return null;
    const pointer = (offset: number): bigint => head.readBigUInt64LE(offset);
    const qualnamePtr = pointer(code.qualname ?? code.name);
    const qualname = readPyUnicode(this.memory, unicode, qualnamePtr);
    const filename = readPyUnicode(this.memory, unicode, pointer(code.filename));
    if (qualname === null || filename === null) return null;
    return {
      qualname,
      filename,
      firstLineNo: head.readInt32LE(code.firstLineNo),
      lineTable: readPyBytes(this.memory, bytes, pointer(code.lineTable)),
      firstTraceable: code.firstTraceable === null ? 0 : head.readInt32LE(code.firstTraceable),
      // ob_size follows ob_type in a variable-size object.
      bytecodeSize: code.bytecode !== null && objectType + 16 <= head.length ? Number(head.readBigInt64LE(objectType + 8)) * 2 : null,
    };
  }
}
