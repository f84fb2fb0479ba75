/**
 * Names kernel addresses from /proc/kallsyms, for samples whose kernel stack
 * comes as raw addresses (the DWARF sampler, bpftrace from 0.18); bpftrace
 * 0.17's stacks come named.
 *
 * The table (over a hundred thousand lines, 5 MB) is read once per mixprof
 * process (kernelSymbols()), in the background from when a sampler is
 * started, and parsed as bytes: only the text symbols' start
 * addresses and where their names lie are kept, and a name becomes a string
 * when an address is first named by it. Kernel text lies in the top 2 GiB of
 * the address space, whose high 32 bits are all ones: the low 32 bits are
 * enough to sort and search, as plain numbers.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { KernelFrame } from '../sampler/sampler.js';

const UNKNOWN = '[unknown kernel]';
const KERNEL_HIGH = 0xffffffff;

export interface KallsymsTable {
  /** The text symbols' names, one after another in blocks of NAME_BLOCK_BYTES (a name never spans two). */
  readonly text: readonly Buffer[];
  /** Sorted low 32 bits of each text symbol's address, and its name's [start, end) as block * NAME_BLOCK_BYTES + offset. */
  readonly starts: Uint32Array;
  readonly nameStarts: Uint32Array;
  readonly nameEnds: Uint32Array;
}

/**
 * Names are kept in fixed blocks, not one buffer grown by doubling: each
 * outgrown buffer (1, 2, 4 MiB for 3 MB of names) lived until a full
 * collection, which a profiler that allocates little may never run.
 */
export const NAME_BLOCK_BYTES = 1 << 18;

/** The name of the table's i-th symbol (in address order). */
export function kallsymsName(table: KallsymsTable, i: number): string {
  const start = table.nameStarts[i]!;
  const block = Math.floor(start / NAME_BLOCK_BYTES);
  const offset = block * NAME_BLOCK_BYTES;
  return table.text[block]!.toString('latin1', start - offset, table.nameEnds[i]! - offset);
}

type Source = (() => Buffer | string | null) | Buffer | string | null;
/** The source that is this machine's /proc/kallsyms. */
const KALLSYMS: unique symbol = Symbol('/proc/kallsyms');

export class KernelSymbols {
  private table: KallsymsTable | null = null;
  private reading = false;
  private readonly cache = new Map<bigint, string>();
  /** Stacks named, by the sampler's array: bpftrace's runner hands the same array for the same stack. */
  private readonly stacks = new WeakMap<readonly KernelFrame[], readonly string[]>();

  /** `source` is read from /proc/kallsyms when first needed unless given. */
  constructor(private readonly source: Source | typeof KALLSYMS = KALLSYMS) {}

  /**
   * Starts reading /proc/kallsyms in the background (the kernel takes a few
   * hundred milliseconds to write it out): by the first address to name it is
   * usually there, and neither attaching nor the first drain waits for it.
   */
  preload(): void {
    if (this.table !== null || this.reading || this.source !== KALLSYMS) return;
    this.reading = true;
    // Given up once the table was needed sooner and read there and then.
    readKallsymsInBackground(() => this.table !== null).then(
      (table) => {
        this.table ??= table;
      },
      () => undefined,
    );
  }

  private load(): KallsymsTable {
    this.table ??= (this.source === KALLSYMS ? readKallsymsNow() : null) ?? parseKallsyms(textOf(this.source));
    return this.table;
  }

  /** Symbols are readable (kallsyms shows zeros without CAP_SYSLOG). */
  get available(): boolean {
    return this.load().starts.length > 0;
  }

  /** A stack's frames named, leaf first. */
  names(frames: readonly KernelFrame[]): readonly string[] {
    let names = this.stacks.get(frames);
    if (names === undefined) {
      names = frames.map((frame) => (typeof frame === 'string' ? frame : this.name(frame)));
      this.stacks.set(frames, names);
    }
    return names;
  }

  name(address: bigint): string {
    let name = this.cache.get(address);
    if (name !== undefined) return name;
    const table = this.load();
    const { starts } = table;
    name = UNKNOWN;
    if (Number(address >> 32n) === KERNEL_HIGH) {
      const low = Number(address & 0xffffffffn);
      let lo = 0;
      let hi = starts.length - 1;
      let found = -1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (starts[mid]! <= low) {
          found = mid;
          lo = mid + 1;
        } else {
          hi = mid - 1;
        }
      }
      if (found >= 0) name = kallsymsName(table, found);
    }
    this.cache.set(address, name);
    return name;
  }
}

let shared: KernelSymbols | undefined;

/** The one table of this process, sessions of several targets sharing it; being read from now on. */
export function kernelSymbols(): KernelSymbols {
  shared ??= new KernelSymbols();
  shared.preload();
  return shared;
}

const hexValue = (c: number): number => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);

/**
 * Text symbols ("ffffffff81000000 T _stext", "ffffffffc0a01000 t
 * helper\t[module]"), taken a chunk of the file at a time: only their
 * addresses and names are kept, never the whole file (Node's readFile takes
 * a new 64 KiB buffer for every read, and /proc gives about a page per
 * read: 5 MB of symbols held 80 MB at once).
 */
export class KallsymsParser {
  private readonly lows: number[] = [];
  private readonly nameStarts: number[] = [];
  private readonly nameEnds: number[] = [];
  private readonly blocks: Buffer[] = [];
  private block = Buffer.allocUnsafe(NAME_BLOCK_BYTES);
  private blockUsed = 0;
  /** The start of a line the last chunk cut. */
  private rest: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    let at = 0;
    if (this.rest.length > 0) {
      // Only the line the last chunk cut is joined, not the whole chunk.
      const end = chunk.indexOf(0x0a);
      if (end < 0) {
        this.rest = Buffer.concat([this.rest, chunk]);
        return;
      }
      const line = Buffer.concat([this.rest, chunk.subarray(0, end)]);
      this.line(line, 0, line.length);
      at = end + 1;
    }
    for (;;) {
      const end = chunk.indexOf(0x0a, at);
      if (end < 0) break;
      this.line(chunk, at, end);
      at = end + 1;
    }
    this.rest = Buffer.from(chunk.subarray(at));
  }

  finish(): KallsymsTable {
    if (this.rest.length > 0) this.line(this.rest, 0, this.rest.length);
    const { lows, nameStarts, nameEnds } = this;
    // Sorted by address, ties in file order: address * 2^21 + index is exact in a double (below 2^53) for up to 2^21 symbols.
    const keys = new Float64Array(lows.length);
    for (let i = 0; i < lows.length; i++) keys[i] = lows[i]! * 2 ** 21 + i;
    keys.sort();
    const starts = new Uint32Array(lows.length);
    const sortedStarts = new Uint32Array(lows.length);
    const sortedEnds = new Uint32Array(lows.length);
    for (let j = 0; j < lows.length; j++) {
      const i = keys[j]! % 2 ** 21;
      starts[j] = lows[i]!;
      sortedStarts[j] = nameStarts[i]!;
      sortedEnds[j] = nameEnds[i]!;
    }
    return { text: [...this.blocks, this.block.subarray(0, this.blockUsed)], starts, nameStarts: sortedStarts, nameEnds: sortedEnds };
  }

  private line(text: Buffer, at: number, end: number): void {
    // 16 hex digits, a space, the type, a space, the name.
    const type = text[at + 17];
    if (!(end - at > 19 && (type === 0x74 /* t */ || type === 0x54) /* T */ && text[at + 16] === 0x20 && isKernelHigh(text, at))) return;
    let low = 0;
    for (let i = at + 8; i < at + 16; i++) low = low * 16 + hexValue(text[i]!);
    let nameEnd = at + 19;
    while (nameEnd < end && text[nameEnd] !== 0x09 /* tab: "\t[module]" */) nameEnd++;
    // kallsyms names are at most a few hundred bytes; a longer one is cut to the block.
    const length = Math.min(nameEnd - at - 19, NAME_BLOCK_BYTES);
    if (this.blockUsed + length > NAME_BLOCK_BYTES) {
      this.blocks.push(this.block.subarray(0, this.blockUsed));
      this.block = Buffer.allocUnsafe(NAME_BLOCK_BYTES);
      this.blockUsed = 0;
    }
    const base = this.blocks.length * NAME_BLOCK_BYTES;
    this.nameStarts.push(base + this.blockUsed);
    this.blockUsed += text.copy(this.block, this.blockUsed, at + 19, at + 19 + length);
    this.lows.push(low);
    this.nameEnds.push(base + this.blockUsed);
  }
}

/** A given source's text; none for this machine's kallsyms, read where that could not be. */
function textOf(source: Source | typeof KALLSYMS): Buffer {
  const text = typeof source === 'function' ? source() : source === KALLSYMS ? null : source;
  return typeof text === 'string' ? Buffer.from(text, 'latin1') : (text ?? Buffer.alloc(0));
}

function parseKallsyms(text: Buffer): KallsymsTable {
  const parser = new KallsymsParser();
  parser.push(text);
  return parser.finish();
}

const CHUNK_BYTES = 1 << 18;

async function readKallsymsInBackground(unwanted: () => boolean): Promise<KallsymsTable | null> {
  const handle = await open('/proc/kallsyms', 'r');
  try {
    const parser = new KallsymsParser();
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      if (unwanted()) return null;
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) return parser.finish();
      parser.push(chunk.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

function readKallsymsNow(): KallsymsTable | null {
  let fd: number;
  try {
    fd = openSync('/proc/kallsyms', 'r');
  } catch {
    return null;
  }
  try {
    const parser = new KallsymsParser();
    const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
    for (;;) {
      const bytesRead = readSync(fd, chunk, 0, chunk.length, null);
      if (bytesRead === 0) return parser.finish();
      parser.push(chunk.subarray(0, bytesRead));
    }
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

/** The address's high 32 bits are ffffffff (kallsyms writes lower-case hex). */
function isKernelHigh(text: Buffer, at: number): boolean {
  for (let i = at; i < at + 8; i++) if ((text[i]! | 0x20) !== 0x66) return false;
  return true;
}
