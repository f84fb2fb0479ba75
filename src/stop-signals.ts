/**
 * How every command hears that it should stop (Ctrl-C, kill, a closed
 * terminal): the same signals, counted, so that each can stop cleanly on the
 * first and hurry on the next.
 */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

/**
 * Calls onStop for each stop signal with how many came before it (0 for the
 * first). While installed, none of them ends mixprof by itself. Returns the remover.
 */
export function onStopSignals(onStop: (before: number, signal: StopSignal) => void): () => void {
  let count = 0;
  const handlers = STOP_SIGNALS.map((signal) => [signal, () => onStop(count++, signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}
