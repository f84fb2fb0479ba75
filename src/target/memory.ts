/** Reads of the target's memory; the addon implements it, tests fake it. */
import type { NativeAddon } from '../native.js';

export interface MemoryReader {
  /** The bytes, or null when any part of the range is unreadable. */
  read(address: bigint, length: number): Buffer | null;
  /** Several ranges in few system calls; null entries for unreadable ranges. */
  readMany(addresses: readonly bigint[], lengths: readonly number[]): (Buffer | null)[];
}

const END_OF_USER_SPACE = 1n << 47n;

/**
 * The target's memory through process_vm_readv. Pointers read from a racing or
 * misread structure can be anything: ranges outside user space are unreadable
 * (null) rather than errors.
 */
export function processMemory(addon: NativeAddon, pid: number): MemoryReader {
  const valid = (address: bigint, length: number): boolean => address > 0n && address + BigInt(length) <= END_OF_USER_SPACE;
  return {
    read: (address, length) => (valid(address, length) ? addon.readMemory(pid, address, length) : null),
    readMany: (addresses, lengths) => {
      const wanted = addresses.map((a, i) => valid(a, lengths[i]!));
      const results = addon.readMemoryBatch(
        pid,
        BigUint64Array.from(addresses.filter((_, i) => wanted[i])),
        Uint32Array.from(lengths.filter((_, i) => wanted[i])),
      );
      let next = 0;
      return wanted.map((ok) => (ok ? (results[next++] ?? null) : null));
    },
  };
}
