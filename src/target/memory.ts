/** Reads of the target's memory; the addon implements it, tests fake it. */
import type { NativeAddon } from '../native.js';

export interface MemoryReader {
  /** The bytes, or null when any part of the range is unreadable. */
  read(address: bigint, length: number): Buffer | null;
  /** Several ranges in few system calls; null entries for unreadable ranges. */
  readMany(addresses: readonly bigint[], lengths: readonly number[]): (Buffer | null)[];
}

const END_OF_USER_SPACE = 1n << 47n;

/** The pointer stored at address; 0 when it is null or cannot be read. */
export function readPointer(memory: MemoryReader, address: bigint): bigint {
  return address === 0n ? 0n : (memory.read(address, 8)?.readBigUInt64LE(0) ?? 0n);
}

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

/**
 * A forked process's memory, and once it has exited, its parent's: a worker
 * that lived less than a poll is named from the code objects it was forked
 * with, which its parent still holds at the same addresses. childAlive is
 * asked until it says no, never after: an exited worker's records keep
 * coming, and asking /proc for each read (a thrown ENOENT, its stack trace
 * captured) took a forking server's drains 1-2 s apart at 4999 Hz, which
 * then lost a fifth of its samples.
 */
export function forkedMemory(child: MemoryReader, parent: MemoryReader, isChildAlive: () => boolean): MemoryReader {
  let gone = false;
  const childAlive = (): boolean => !gone && !(gone = !isChildAlive());
  return {
    read: (address, length) => child.read(address, length) ?? (childAlive() ? null : parent.read(address, length)),
    readMany: (addresses, lengths) => {
      const results = child.readMany(addresses, lengths);
      const missing = results.flatMap((r, i) => (r === null ? [i] : []));
      if (missing.length === 0 || childAlive()) return results;
      const again = parent.readMany(
        missing.map((i) => addresses[i]!),
        missing.map((i) => lengths[i]!),
      );
      missing.forEach((index, j) => (results[index] = again[j] ?? null));
      return results;
    },
  };
}
