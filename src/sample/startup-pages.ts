/**
 * Gives back what start-up alone needed: the pages of node's binary and of
 * the ELF files read while attaching that a run does not touch again, and
 * freed malloc memory (native/src/resident_pages.h). Dropped pages stay in
 * the page cache: what is touched again comes back at the cost of a minor
 * fault.
 *
 * Done before attaching (node's own start-up touched about 40 MiB of its
 * binary, half of which a run never touches again), once the first target
 * is attached (the ELF files read to attach), once sampling has settled,
 * and from then on once a minute. At 999 Hz this took mixprof's peak from 84-85 MiB
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

/**
 * After the settled release, again at this interval: what a long run touches
 * once in a while (code node compiles or collects with, the debug files a
 * new address is looked up in) stayed mapped, and resident memory crept up
 * over a 10-minute run by about 1.5 MiB of such pages.
 */
export const RELEASE_EVERY_MS = 60_000;

/** Releases STARTUP_SETTLE_MS from now, then every `every` ms, until cancelled; never keeps the process alive. */
export function releaseStartupPagesLater(ms = STARTUP_SETTLE_MS, every: number | null = RELEASE_EVERY_MS, release = releaseStartupPages): () => void {
  let repeat: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    release();
    if (every !== null) {
      repeat = setInterval(release, every);
      repeat.unref();
    }
  }, ms);
  timer.unref();
  return () => {
    clearTimeout(timer);
    clearInterval(repeat);
  };
}
