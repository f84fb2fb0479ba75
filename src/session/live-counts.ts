/**
 * Counts kept while sampling runs, for the status line: samples and lost
 * events so far, and which Python function is most often the innermost one.
 * Python chains are named on arrival, so this costs one map update per record.
 */
import type { SamplerEvent } from '../sampler/sampler.js';

export interface ChainNames {
  /** The innermost Python frame's function of a chain, when it is named yet. */
  leafFunction(hash: bigint): string | null;
}

export class LiveCounts {
  samples = 0;
  lost = 0;
  private readonly leaves = new Map<string, number>();

  apply(event: SamplerEvent, chains: ChainNames): void {
    if (event.type === 'lost') this.lost += event.events;
    if (event.type !== 'samples') return;
    for (const sample of event.samples) {
      this.samples += sample.count;
      const leaf = sample.chain === 0n ? null : chains.leafFunction(sample.chain);
      if (leaf !== null) this.leaves.set(leaf, (this.leaves.get(leaf) ?? 0) + sample.count);
    }
  }

  /** The function most often innermost, with its share of all samples. */
  hottest(): { readonly name: string; readonly share: number } | null {
    let best: string | null = null;
    let count = 0;
    for (const [name, n] of this.leaves) {
      if (n > count) {
        best = name;
        count = n;
      }
    }
    return best === null || this.samples === 0 ? null : { name: best, share: count / this.samples };
  }
}
