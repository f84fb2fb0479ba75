/**
 * Names kernel addresses from /proc/kallsyms, for samples whose kernel stack
 * comes as raw addresses (the DWARF sampler; bpftrace names its own).
 */
import { readFileSync } from 'node:fs';

const UNKNOWN = '[unknown kernel]';

export class KernelSymbols {
  private readonly starts: BigUint64Array;
  private readonly names: string[];
  private readonly cache = new Map<bigint, string>();

  /** Reads the table now (tens of milliseconds): do it before sampling starts. */
  constructor(text: string | null = readKallsyms()) {
    const entries: [bigint, string][] = [];
    for (const line of (text ?? '').split('\n')) {
      // "ffffffff81000000 T _stext" or "ffffffffc0a01000 t helper\t[module]"
      const [address, type, name] = line.split(/\s+/, 3);
      if (!address || !name || (type !== 't' && type !== 'T')) continue;
      const value = BigInt('0x' + address);
      if (value !== 0n) entries.push([value, name]);
    }
    entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.starts = BigUint64Array.from(entries.map((e) => e[0]));
    this.names = entries.map((e) => e[1]);
  }

  /** Symbols are readable (kallsyms shows zeros without CAP_SYSLOG). */
  get available(): boolean {
    return this.names.length > 0;
  }

  name(address: bigint): string {
    let name = this.cache.get(address);
    if (name !== undefined) return name;
    let lo = 0;
    let hi = this.starts.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= address) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    name = found >= 0 ? this.names[found]! : UNKNOWN;
    this.cache.set(address, name);
    return name;
  }
}

function readKallsyms(): string | null {
  try {
    return readFileSync('/proc/kallsyms', 'utf8');
  } catch {
    return null;
  }
}
