/**
 * What a command that runs for a while does to stay small: gives back the
 * pages only its start-up needed once it has settled, and those touched
 * since once a minute (startup-pages.ts), and
 * collects its heap as it grows (heap-collection.ts).
 */
import { collectAsHeapGrows } from './heap-collection.js';
import { releaseStartupPagesLater } from './startup-pages.js';

/** Starts both; returns the function that stops them. */
export function keepResidentSmall(): () => void {
  const cancelRelease = releaseStartupPagesLater();
  const stopCollecting = collectAsHeapGrows();
  return () => {
    cancelRelease();
    stopCollecting();
  };
}
