/**
 * A full garbage collection whenever the JavaScript heap has grown by
 * GROWTH_BYTES since the last one, looked at once a second while sampling
 * (and while collect and serve run).
 * V8 lets its old space fill with several megabytes of garbage past what is
 * live before it collects (its least step is sized for throughput), and the
 * pages it took stay resident: a sampler holding 8-17 MiB of live data sat
 * at 64 MiB resident at 999 Hz, 56 MiB collected this way, for two
 * collections a minute (about 15 ms each). At higher rates there is more
 * to collect, and it costs more: the benchmark's CPU columns include it.
 * bin/mixprof starts node with --expose-gc; started some other way, nothing
 * is collected here.
 */
import { getHeapStatistics } from 'node:v8';

const GROWTH_BYTES = 4 * 2 ** 20;
const LOOK_EVERY_MS = 1000;

type Collect = () => void;

/** Starts looking; returns the function that stops. */
export function collectAsHeapGrows(collect: Collect | null = (globalThis as { gc?: Collect }).gc ?? null, used: () => number = () => getHeapStatistics().used_heap_size): () => void {
  if (collect === null) return () => undefined;
  let after = used();
  const timer = setInterval(() => {
    if (used() < after + GROWTH_BYTES) return;
    collect();
    after = used();
  }, LOOK_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
