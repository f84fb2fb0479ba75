/**
 * Gives back what start-up alone needed: the pages of node's binary and of
 * the ELF files read while attaching that a run does not touch again, and
 * freed malloc memory (native/src/resident_pages.h). Dropped pages stay in
 * the page cache: what is touched again comes back at the cost of a minor
 * fault.
 *
 * Done three times: before attaching (node's own start-up touched about 40
 * MiB of its binary, half of which a run never touches again), once the
 * first target is attached (the ELF files read to attach), and once
 * sampling has settled. At 999 Hz this took mixprof's peak from 84-85 MiB
 * to 60-69, and its resident memory once settled from 86-97 MiB to about 50.
 */
import { nativeAddon } from '../native.js';

/** Rows are compiled and loaded over a run's first second or two (src/sampler/dwarf-runner.ts). */
export const STARTUP_SETTLE_MS = 3000;

/** Releases now (about 6 ms). */
export function releaseStartupPages(): void {
  try {
    nativeAddon().releaseStartupPages();
  } catch {
    // Only resident memory is at stake.
  }
}

/** Releases once, STARTUP_SETTLE_MS from now, unless cancelled; never keeps the process alive. */
export function releaseStartupPagesLater(ms = STARTUP_SETTLE_MS): () => void {
  const timer = setTimeout(releaseStartupPages, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
