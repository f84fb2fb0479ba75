/**
 * How large the DWARF sampler's ring buffer is and when it is drained.
 *
 * A sample unwound in the kernel takes a small record (an 88-byte header,
 * its return addresses and its kernel frames: 180-190 bytes on the chains
 * workload); one copied for user space to unwind takes a whole header
 * (registers, room for a kernel stack) and the stack copy, 8 KiB by default. Copies come mostly in the first
 * moments (the kernel unwinds a module once a drain has compiled its rows),
 * so the ring is sized for copies until the first drain and small records
 * after it, and the drains follow how fast the ring fills: as seldom as
 * leaves room for 2.5 drains at the rate the last one saw. The ring's pages
 * are mapped into mixprof twice (libbpf's wrap-around): its size is
 * mixprof's memory.
 *
 * A drain hands JavaScript the chains and records first seen, which are
 * read while the target lives: for the first seconds (when most are new,
 * and a short-lived target may end) it comes at least four times a second,
 * later at least once a second (at low rates each drain's own cost is most
 * of mixprof's: 0.3-0.4% of a core at 99 Hz against 0.2%).
 */

/** An unwound record (bpf/dwarf-sampler.h): 88 bytes and 20-30 addresses most often, more for deep native stacks or a tick in the kernel (the drains then come sooner). */
export const UNWOUND_RECORD_BYTES = 256;
/** Header and kernel stack, besides the stack copy. */
const RECORD_HEAD_BYTES = 1024;
/** The first drain, and the shortest and longest waits between drains (the longest for the first seconds, then later). */
export const FIRST_DRAIN_MS = 40;
/** The longest seen from attaching to the first rows in the kernel (a free-threaded interpreter's 8 threads on 2 CPUs). */
export const FIRST_ROWS_MS = 400;
export const MIN_DRAIN_MS = 20;
export const MAX_DRAIN_MS = 250;
export const EARLY_MS = 10_000;
export const MAX_DRAIN_MS_LATER = 1000;
/** Following forked processes: a fork is looked at when a drain finds it, and a short-lived worker must still be there. */
export const MAX_DRAIN_MS_FOLLOWING = 100;
/** Room left for drains at the rate the last one saw. */
const DRAINS_OF_ROOM = 2.5;

/**
 * The ring's size in MiB, a power of two: room for 2.5 drains at the
 * longest wait (small records when the kernel unwinds, copies otherwise), for
 * every sample copied until the first drain, twice over (its timer may be
 * late on a busy machine), and, when the kernel unwinds, for the copies made
 * until the first rows reach it (1 MiB at 99 Hz on 2 CPUs: with less, a
 * free-threaded interpreter's 8 threads lost samples then). When the kernel
 * unwinds, the copies are counted up to 2 MiB: past 7/8 of the ring the kernel
 * sends the frames it found instead of a copy (NATIVE_SHORT), so that at
 * high rates a ring sized for the first moments' copies (16 MiB at 9999 Hz,
 * twice that of mixprof's memory) is not kept for the rest of the run; on
 * the chains workload 0.1-0.3% of samples at 4999 and 9999 Hz came short so.
 * Not when following forks: a forking server's drains come late while
 * mixprof takes in its new workers (200 a second), and at 4999 Hz a 2 MiB
 * ring lost 2-8% of its samples where 8 MiB lost none.
 */
export function ringMiB(hz: number, cpus: number, stackBytes: number, kernelUnwind: boolean, following = false): number {
  const perSecond = hz * cpus;
  const copied = stackBytes + RECORD_HEAD_BYTES;
  const steady = DRAINS_OF_ROOM * (MAX_DRAIN_MS / 1000) * perSecond * (kernelUnwind ? UNWOUND_RECORD_BYTES : copied);
  // Copies until the first rows reach the kernel (the first drain compiles and loads them), up to 2 MiB of them.
  const firstRows = kernelUnwind ? Math.min((FIRST_ROWS_MS / 1000) * perSecond * copied, 2 ** 21) : 0;
  const firstDrain = 2 * (FIRST_DRAIN_MS / 1000) * perSecond * copied;
  const start = kernelUnwind && !following ? Math.max(Math.min(firstDrain, 2 ** 21), firstRows) : Math.max(firstDrain, firstRows);
  const bytes = Math.max(steady, start);
  let mib = kernelUnwind ? 1 : 4;
  while (mib * 2 ** 20 < bytes && mib < 512) mib *= 2;
  return mib;
}

/** The wait before the next drain, from what the last drains found. */
export class DrainSchedule {
  private rate = 0;

  constructor(
    private readonly ringBytes: number,
    private readonly following: boolean,
  ) {}

  /**
   * bytes: what a drain took from the ring, elapsedMs: since the drain
   * before, sinceStartMs: since sampling began. A rate that drops is
   * followed half way (a burst of copies may come again), one that rises at
   * once.
   */
  next(bytes: number, elapsedMs: number, sinceStartMs: number): number {
    const longest = this.following ? MAX_DRAIN_MS_FOLLOWING : sinceStartMs < EARLY_MS ? MAX_DRAIN_MS : MAX_DRAIN_MS_LATER;
    const rate = bytes / Math.max(elapsedMs, 1);
    this.rate = rate >= this.rate ? rate : (rate + this.rate) / 2;
    if (this.rate <= 0) return longest;
    const ms = this.ringBytes / (DRAINS_OF_ROOM * this.rate);
    return Math.round(Math.min(longest, Math.max(MIN_DRAIN_MS, ms)));
  }
}
