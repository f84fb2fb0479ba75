/**
 * What `mixprof top` shows: a process sampled now (its session's counts,
 * drained every second, until it ends) or a profile saved to a file (its
 * stacks at once, and nothing after).
 */
import path from 'node:path';
import type { StackCount } from '../profile/profile.js';
import type { ProcessSession } from '../session/session.js';
import type { Shown } from './screen.js';

export interface Counts {
  readonly stacks: readonly StackCount[];
  readonly lost: number;
}

export interface TopSource {
  readonly shown: Shown;
  /** Names the files `w` writes: the PID, or the saved file's name. */
  readonly stem: string;
  /** The counts since the last call. */
  drain(): Counts;
  /** Resolves when no more counts come: the last ones, and what the view says of the end. */
  readonly done: Promise<Counts & { readonly ended: string }>;
  /** Ends it (a live session stops sampling); done resolves after. */
  stop(): void;
}

export function sessionSource(session: ProcessSession, hz: number): TopSource {
  const done = session.done.then((r) => ({
    stacks: r.profile.stacks,
    lost: r.profile.stats.lostEvents,
    ended: r.reason === 'target-exited' ? `process ${session.pid} exited: q to quit, w to write` : `sampling ended (${r.failure ?? r.reason}): q to quit, w to write`,
  }));
  return {
    shown: { kind: 'process', pid: session.pid, comm: session.comm, python: session.pythonVersion, hz },
    stem: String(session.pid),
    drain: () => {
      const profile = session.drain();
      return { stacks: profile.stacks, lost: profile.stats.lostEvents };
    },
    done,
    stop: () => session.stop('interrupted'),
  };
}

/** A saved profile's stacks, shown whole: there is no window over time. */
export function fileSource(file: string, stacks: readonly StackCount[]): TopSource {
  let given = false;
  let end = (): void => undefined;
  const done = new Promise<Counts & { readonly ended: string }>((resolve) => {
    end = () => resolve({ stacks: [], lost: 0, ended: '' });
  });
  return {
    shown: { kind: 'file', name: file },
    stem: path.basename(file).replace(/\.[^.]*$/, '') || 'stdin',
    drain: () => {
      const counts = { stacks: given ? [] : stacks, lost: 0 };
      given = true;
      return counts;
    },
    done,
    stop: () => end(),
  };
}
