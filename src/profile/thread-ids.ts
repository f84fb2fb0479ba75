/**
 * The distinct threads a profile's samples came from, as bits: a pool that
 * starts hundreds of threads a second gives tens of thousands of ids in ten
 * minutes, which a Set held at about 30 bytes each for the one number the
 * report shows. Ids are given out in increasing order up to pid_max, so the
 * bits of a few blocks of 65,536 ids cover them.
 */
const BLOCK_BITS = 16;
const BLOCK_IDS = 1 << BLOCK_BITS;

export class ThreadIds {
  private blocks = new Map<number, Uint8Array>();
  private count = 0;

  add(tid: number): void {
    const index = Math.floor(tid / BLOCK_IDS);
    let block = this.blocks.get(index);
    if (!block) this.blocks.set(index, (block = new Uint8Array(BLOCK_IDS / 8)));
    const bit = tid % BLOCK_IDS;
    const mask = 1 << (bit & 7);
    if ((block[bit >> 3]! & mask) !== 0) return;
    block[bit >> 3] = block[bit >> 3]! | mask;
    this.count++;
  }

  /** Distinct ids added. */
  get size(): number {
    return this.count;
  }

  /** Every id added, in increasing order. */
  *[Symbol.iterator](): IterableIterator<number> {
    for (const index of [...this.blocks.keys()].sort((a, b) => a - b)) {
      const block = this.blocks.get(index)!;
      for (let byte = 0; byte < block.length; byte++) {
        if (block[byte] === 0) continue;
        for (let bit = 0; bit < 8; bit++) if ((block[byte]! & (1 << bit)) !== 0) yield index * BLOCK_IDS + byte * 8 + bit;
      }
    }
  }

  clear(): void {
    this.blocks = new Map();
    this.count = 0;
  }
}
