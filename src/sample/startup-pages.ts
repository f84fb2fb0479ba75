/**
 * Once sampling has settled, gives back what start-up alone needed: the
 * pages of node's binary and of the ELF files read while attaching that a
 * run does not touch again, and freed malloc memory (native/src/resident_pages.h).
 * At 99 Hz this took mixprof from 86-97 MiB resident to about 60.
 */
import { nativeAddon } from '../native.js';

/** Rows are compiled and loaded over a run's first second or two (src/sampler/dwarf-runner.ts). */
export const STARTUP_SETTLE_MS = 3000;

/** Releases once, STARTUP_SETTLE_MS from now, unless cancelled; never keeps the process alive. */
export function releaseStartupPagesLater(ms = STARTUP_SETTLE_MS): () => void {
  const timer = setTimeout(() => {
    try {
      nativeAddon().releaseStartupPages();
    } catch {
      // Only resident memory is at stake.
    }
  }, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
