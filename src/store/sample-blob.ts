/**
 * One stored profile's counts as a blob: (thread, stack, count) triples of
 * ids, each an unsigned LEB128 varint. A day of one-minute profiles of ten
 * processes is read back and added up in a fraction of a second this way,
 * where a row per count would be millions of rows.
 */

export interface SampleEntry {
  /** Id in the threads table; 0 when threads are not told apart. */
  readonly thread: number;
  /** Id in the stacks table. */
  readonly stack: number;
  readonly count: number;
}

export function encodeSamples(entries: readonly SampleEntry[]): Buffer {
  const bytes: number[] = [];
  const put = (value: number): void => {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a count or id: ${value}`);
    let v = value;
    while (v >= 0x80) {
      bytes.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    bytes.push(v);
  };
  for (const e of entries) {
    put(e.thread);
    put(e.stack);
    put(e.count);
  }
  return Buffer.from(bytes);
}

/** Calls `each` for every entry; throws on a blob cut short. */
export function decodeSamples(blob: Uint8Array, each: (thread: number, stack: number, count: number) => void): void {
  let i = 0;
  const get = (): number => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (i >= blob.length) throw new RangeError('sample blob cut short');
      const byte = blob[i++]!;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 0x80;
      if (scale > 2 ** 56) throw new RangeError('sample blob varint too long');
    }
  };
  while (i < blob.length) {
    const thread = get();
    const stack = get();
    each(thread, stack, get());
  }
}
