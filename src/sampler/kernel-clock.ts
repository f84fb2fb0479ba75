/** The kernel's clock, in which the samplers' records are timed. */

/** CLOCK_MONOTONIC milliseconds (the kernel's record times) as milliseconds since the epoch. */
export function epochMs(monotonicMs: number, nowEpoch = Date.now(), nowMonotonic = Number(process.hrtime.bigint()) / 1e6): number {
  return nowEpoch - (nowMonotonic - monotonicMs);
}
