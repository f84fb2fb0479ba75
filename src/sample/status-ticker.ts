/** The status line of a run, redrawn every second from its sessions' live counts. */
import type { StatusLine } from '../output/status-line.js';
import type { ProcessSession } from '../session/session.js';

/** Starts redrawing; returns what stops it. */
export function tickStatus(status: StatusLine, sessions: () => readonly ProcessSession[], firstAttach: () => number | null, durationSeconds: number | null): () => void {
  const ticker = setInterval(() => {
    let samples = 0;
    let lost = 0;
    let best: { name: string; share: number } | null = null;
    for (const s of sessions()) {
      samples += s.live.samples;
      lost += s.live.lost;
      const hot = s.live.hottest();
      // With several processes, the share is of that process's samples: good enough for a glance.
      if (hot && (!best || hot.share > best.share)) best = { ...hot };
    }
    const started = firstAttach();
    status.show({ elapsedSeconds: started ? (Date.now() - started) / 1000 : 0, durationSeconds, samples, lost, processes: sessions().length, hottest: best });
  }, 1000);
  return () => clearInterval(ticker);
}
