/**
 * Names kernel addresses from /proc/kallsyms, for samples whose kernel stack
 * comes as raw addresses (the DWARF sampler, bpftrace from 0.18); bpftrace
 * 0.17's stacks come named.
 *
 * The table (over a hundred thousand lines, 5 MB) is read once per mixprof
 * process (kernelSymbols()), on a worker thread from when a sampler is
 * started, and parsed by the addon (native/src/kallsyms.h): only the text
 * symbols' start addresses and their names are kept, and a name becomes a
 * string when an address is first named by it. Kernel text lies in the top
 * 2 GiB of the address space, whose high 32 bits are all ones: the low 32
 * bits are enough to sort and search, as plain numbers.
 */
import { nativeAddon, type NativeKallsyms } from '../native.js';
import type { KernelFrame } from '../sampler/sampler.js';

const UNKNOWN = '[unknown kernel]';
const KERNEL_HIGH = 0xffffffff;

export interface KallsymsTable {
  /** Sorted low 32 bits of each text symbol's address. */
  readonly starts: Uint32Array;
  /** Where the i-th symbol's name lies in `names`: [nameStarts[i], nameEnds[i]). */
  readonly nameStarts: Uint32Array;
  readonly nameEnds: Uint32Array;
  readonly names: Buffer;
}

function tableOf(native: NativeKallsyms): KallsymsTable {
  const { names } = native;
  return { ...native, names: Buffer.from(names.buffer, names.byteOffset, names.byteLength) };
}

/** The name of the table's i-th symbol (in address order). */
export function kallsymsName(table: KallsymsTable, i: number): string {
  return table.names.toString('latin1', table.nameStarts[i], table.nameEnds[i]);
}

/** The table of kallsyms text given in chunks (cut anywhere, as reads cut the file). */
export function parseKallsyms(chunks: readonly Uint8Array[]): KallsymsTable {
  return tableOf(nativeAddon().parseKallsyms(chunks));
}

type Source = (() => Buffer | string | null) | Buffer | string | null;
/** Kernel addresses whose names are kept (about 100 bytes each). */
const MAX_CACHED_ADDRESSES = 20_000;

/** The source that is this machine's /proc/kallsyms. */
const KALLSYMS: unique symbol = Symbol('/proc/kallsyms');

export class KernelSymbols {
  private table: KallsymsTable | null = null;
  private reading = false;
  /** Names by address; cleared past MAX_CACHED_ADDRESSES (a timer interrupt lands on ever more instructions). */
  private readonly cache = new Map<bigint, string>();
  /** Names by symbol: the addresses in one function share one string. */
  private readonly symbolNames = new Map<number, string>();
  /** Stacks named, by the sampler's array: bpftrace's runner hands the same array for the same stack. */
  private readonly stacks = new WeakMap<readonly KernelFrame[], readonly string[]>();

  /** `source` is read from /proc/kallsyms when first needed unless given. */
  constructor(private readonly source: Source | typeof KALLSYMS = KALLSYMS) {}

  /**
   * Starts reading /proc/kallsyms on a worker thread (the kernel takes tens
   * of milliseconds to write it out): by the first address to name it is
   * usually there, and neither attaching nor the first drain waits for it.
   */
  preload(): void {
    if (this.table !== null || this.reading || this.source !== KALLSYMS) return;
    this.reading = true;
    // Dropped when the table was needed sooner and read there and then.
    nativeAddon()
      .readKallsyms()
      .then(
        (table) => {
          if (table) this.table ??= tableOf(table);
        },
        () => undefined,
      );
  }

  private load(): KallsymsTable {
    if (this.table === null) {
      const native = this.source === KALLSYMS ? nativeAddon().readKallsymsSync() : null;
      this.table = native ? tableOf(native) : parseKallsyms([textOf(this.source)]);
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
      if (found >= 0) {
        name = this.symbolNames.get(found) ?? kallsymsName(table, found);
        this.symbolNames.set(found, name);
      }
    }
    if (this.cache.size >= MAX_CACHED_ADDRESSES) this.cache.clear();
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

/** A given source's text; none for this machine's kallsyms, read where that could not be. */
function textOf(source: Source | typeof KALLSYMS): Buffer {
  const text = typeof source === 'function' ? source() : source === KALLSYMS ? null : source;
  return typeof text === 'string' ? Buffer.from(text, 'latin1') : (text ?? Buffer.alloc(0));
}
