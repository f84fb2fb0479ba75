/** Reads of the target's memory; the addon implements it, tests fake it. */
export interface MemoryReader {
  /** The bytes, or null when any part of the range is unreadable. */
  read(address: bigint, length: number): Buffer | null;
  /** Several ranges in few system calls; null entries for unreadable ranges. */
  readMany(addresses: readonly bigint[], lengths: readonly number[]): (Buffer | null)[];
}
