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

/**
 * Adds a blob's counts into `counts`, indexed by stack id, skipping threads
 * whose entry in `threadWanted` is 0 (all kept when it is null); returns
 * the samples added. The hot loop of a query over a day (millions of
 * entries): no callback, no map.
 */
export function addStackCounts(blob: Uint8Array, counts: Float64Array, threadWanted: Uint8Array | null): number {
  let i = 0;
  let samples = 0;
  const end = blob.length;
  while (i < end) {
    let thread = 0;
    let stack = 0;
    let count = 0;
    for (let field = 0; field < 3; field++) {
      let value = 0;
      let scale = 1;
      for (;;) {
        if (i >= end) throw new RangeError('sample blob cut short');
        const byte = blob[i++]!;
        value += (byte & 0x7f) * scale;
        if (byte < 0x80) break;
        scale *= 0x80;
        if (scale > 2 ** 56) throw new RangeError('sample blob varint too long');
      }
      if (field === 0) thread = value;
      else if (field === 1) stack = value;
      else count = value;
    }
    if (threadWanted && (thread >= threadWanted.length || threadWanted[thread] === 0)) continue;
    if (stack >= counts.length) throw new RangeError(`stack id ${stack} beyond the stacks read`);
    counts[stack]! += count;
    samples += count;
  }
  return samples;
}
