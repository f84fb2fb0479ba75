/** Summaries the benchmark tables use. */
export const pct = (x: number, digits = 1): string => `${(100 * x).toFixed(digits)}%`;

export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo]! + (s[Math.ceil(at)]! - s[lo]!) * (at - lo);
}

export const median = (xs: readonly number[]): number => quantile(xs, 0.5);

/** Half the middle spread of a row of paired slowdowns. */
export const halfSpread = (xs: readonly number[]): number => (quantile(xs, 0.75) - quantile(xs, 0.25)) / 2;

/** How far from zero the unprofiled pairs' median lands, or half their spread: the noise floor. */
export const noiseFloor = (unprofiled: readonly number[]): number => Math.max(Math.abs(median(unprofiled)), halfSpread(unprofiled));

/**
 * Slowdown rows a and b differ only by more than the noise floor and more
 * than half the middle spread of either: the machine's speed wanders by
 * several percent. True when a is not slower than b.
 */
export const notSlower = (a: readonly number[], b: readonly number[], noise: number): boolean =>
  median(a) <= median(b) + Math.max(noise, halfSpread(a), halfSpread(b));
