/** Which samples of test/workloads/chains.py's threads have their chain's Python frames. */
import { pythonNames, threadOf, type FoldedStack } from './folded.js';

export interface ChainsReady {
  chains: Record<string, { tid: number; stack: string[] }>;
  /** sys._is_gil_enabled() once every chain runs (true before 3.13). */
  gil_enabled: boolean;
}

export interface ChainShare {
  readonly samples: number;
  /** Samples with the whole chain, or its first frames (a caller between calls). */
  readonly right: number;
}

/** Per chain, from a --threads profile whose thread roots name the kernel tids chains.py reported. */
export function chainShares(stacks: readonly FoldedStack[], ready: ChainsReady): Map<string, ChainShare> {
  const shares = new Map<string, ChainShare>();
  for (const [name, { tid, stack: expected }] of Object.entries(ready.chains)) {
    let samples = 0;
    let right = 0;
    for (const s of stacks) {
      if (threadOf(s.frames) !== tid) continue;
      samples += s.count;
      const names = pythonNames(s.frames);
      if (names.length > 0 && names.length <= expected.length && names.every((n, i) => n === expected[i])) right += s.count;
    }
    shares.set(name, { samples, right });
  }
  return shares;
}
