/**
 * Names kernel addresses from /proc/kallsyms, for samples whose kernel stack
 * comes as raw addresses (the DWARF sampler, bpftrace from 0.18).
 *
 * The table (over a hundred thousand lines) is read when the first address is
 * named, not before sampling starts: on a busy machine every millisecond of
 * attaching is several of the clock's. Kernel text lies in the top 2 GiB of
 * the address space, whose high 32 bits are all ones; only the low 32 bits are
 * kept, as numbers, which parse, sort and search without BigInt.
 */
import { readFileSync } from 'node:fs';

const UNKNOWN = '[unknown kernel]';
const KERNEL_HIGH = 0xffffffff;

interface Table {
  readonly starts: Uint32Array;
  readonly names: string[];
}

export class KernelSymbols {
  private table: Table | null = null;
  private readonly cache = new Map<bigint, string>();

  /** `text` is read from /proc/kallsyms when first needed unless given. */
  constructor(private readonly text: (() => string | null) | string | null = readKallsyms) {}

  private load(): Table {
    this.table ??= parseKallsyms(typeof this.text === 'function' ? this.text() : this.text);
    return this.table;
  }

  /** Symbols are readable (kallsyms shows zeros without CAP_SYSLOG). */
  get available(): boolean {
    return this.load().names.length > 0;
  }

  name(address: bigint): string {
    let name = this.cache.get(address);
    if (name !== undefined) return name;
    const { starts, names } = this.load();
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
      if (found >= 0) name = names[found]!;
    }
    this.cache.set(address, name);
    return name;
  }
}

/** Text symbols ("ffffffff81000000 T _stext", "ffffffffc0a01000 t helper\t[module]"), sorted by address. */
export function parseKallsyms(text: string | null): Table {
  const lows: number[] = [];
  const names: string[] = [];
  const source = text ?? '';
  for (let at = 0; at < source.length; ) {
    let end = source.indexOf('\n', at);
    if (end < 0) end = source.length;
    // 16 hex digits, a space, the type, a space, the name.
    const type = source.charCodeAt(at + 17);
    if (end - at > 19 && (type === 0x74 /* t */ || type === 0x54) /* T */ && source.charCodeAt(at + 16) === 0x20) {
      const high = Number.parseInt(source.slice(at, at + 8), 16);
      const low = Number.parseInt(source.slice(at + 8, at + 16), 16);
      if (high === KERNEL_HIGH) {
        const tab = source.indexOf('\t', at + 19);
        lows.push(low);
        names.push(source.slice(at + 19, tab >= 0 && tab < end ? tab : end));
      }
    }
    at = end + 1;
  }
  // Mostly in order already (the kernel's, then each module's).
  const order = lows.map((_, i) => i);
  let sorted = true;
  for (let i = 1; i < lows.length && sorted; i++) sorted = lows[i - 1]! <= lows[i]!;
  if (!sorted) order.sort((a, b) => lows[a]! - lows[b]! || a - b);
  return { starts: Uint32Array.from(order, (i) => lows[i]!), names: order.map((i) => names[i]!) };
}

function readKallsyms(): string | null {
  try {
    return readFileSync('/proc/kallsyms', 'utf8');
  } catch {
    return null;
  }
}
