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
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { KernelFrame } from '../sampler/sampler.js';

const UNKNOWN = '[unknown kernel]';
const KERNEL_HIGH = 0xffffffff;

interface Table {
  readonly text: Buffer;
  /** Sorted low 32 bits of each text symbol's address, and its name's [start, end) in text. */
  readonly starts: Uint32Array;
  readonly nameStarts: Uint32Array;
  readonly nameEnds: Uint32Array;
}

type Source = (() => Buffer | string | null) | Buffer | string | null;

export class KernelSymbols {
  private table: Table | null = null;
  private reading = false;
  private readonly cache = new Map<bigint, string>();
  /** Stacks named, by the sampler's array: bpftrace's runner hands the same array for the same stack. */
  private readonly stacks = new WeakMap<readonly KernelFrame[], readonly string[]>();

  /** `source` is read from /proc/kallsyms when first needed unless given. */
  constructor(private readonly source: Source = readKallsyms) {}

  /**
   * Starts reading /proc/kallsyms in the background (the kernel takes a few
   * hundred milliseconds to write it out): by the first address to name it is
   * usually there, and neither attaching nor the first drain waits for it.
   */
  preload(): void {
    if (this.table !== null || this.reading || this.source !== readKallsyms) return;
    this.reading = true;
    readFile('/proc/kallsyms').then(
      (text) => {
        this.table ??= parseKallsyms(text);
      },
      () => undefined,
    );
  }

  private load(): Table {
    if (this.table === null) {
      const source = typeof this.source === 'function' ? this.source() : this.source;
      this.table = parseKallsyms(typeof source === 'string' ? Buffer.from(source, 'latin1') : (source ?? Buffer.alloc(0)));
    }
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
    const { text, starts, nameStarts, nameEnds } = this.load();
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
      if (found >= 0) name = text.toString('latin1', nameStarts[found], nameEnds[found]);
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

/** Text symbols ("ffffffff81000000 T _stext", "ffffffffc0a01000 t helper\t[module]"), sorted by address. */
function parseKallsyms(text: Buffer): Table {
  const lows: number[] = [];
  const nameStartList: number[] = [];
  const nameEndList: number[] = [];
  for (let at = 0; at < text.length; ) {
    let end = text.indexOf(0x0a, at);
    if (end < 0) end = text.length;
    // 16 hex digits, a space, the type, a space, the name.
    const type = text[at + 17];
    if (end - at > 19 && (type === 0x74 /* t */ || type === 0x54) /* T */ && text[at + 16] === 0x20 && isKernelHigh(text, at)) {
      let low = 0;
      for (let i = at + 8; i < at + 16; i++) low = low * 16 + hexValue(text[i]!);
      let nameEnd = at + 19;
      while (nameEnd < end && text[nameEnd] !== 0x09 /* tab: "\t[module]" */) nameEnd++;
      lows.push(low);
      nameStartList.push(at + 19);
      nameEndList.push(nameEnd);
    }
    at = end + 1;
  }
  // Sorted by address, ties in file order: address * 2^21 + index is exact in a double (below 2^53) for up to 2^21 symbols.
  const keys = new Float64Array(lows.length);
  for (let i = 0; i < lows.length; i++) keys[i] = lows[i]! * 2 ** 21 + i;
  keys.sort();
  const starts = new Uint32Array(lows.length);
  const nameStarts = new Uint32Array(lows.length);
  const nameEnds = new Uint32Array(lows.length);
  for (let j = 0; j < lows.length; j++) {
    const i = keys[j]! % 2 ** 21;
    starts[j] = lows[i]!;
    nameStarts[j] = nameStartList[i]!;
    nameEnds[j] = nameEndList[i]!;
  }
  return { text, starts, nameStarts, nameEnds };
}

/** The address's high 32 bits are ffffffff (kallsyms writes lower-case hex). */
function isKernelHigh(text: Buffer, at: number): boolean {
  for (let i = at; i < at + 8; i++) if ((text[i]! | 0x20) !== 0x66) return false;
  return true;
}

function readKallsyms(): Buffer | null {
  try {
    return readFileSync('/proc/kallsyms');
  } catch {
    return null;
  }
}
