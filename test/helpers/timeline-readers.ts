/**
 * The timeline formats read by their own viewers' code, not by a parser of
 * ours:
 * - gecko files by the Firefox Profiler's profile loading (its upgraders
 *   bring our processed version to the current one), through its command
 *   line interface, @firefox-devtools/profiler-cli;
 * - Chrome trace files by Chrome DevTools' trace engine (the Performance
 *   panel's model), @paulirish/trace_engine.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { REPO } from './paths.js';

const PROFILER_CLI = path.join(REPO, 'node_modules', '@firefox-devtools', 'profiler-cli', 'dist', 'profiler-cli.js');

export interface FirefoxThread {
  readonly threadHandle: string;
  readonly name: string;
  readonly tid: number;
}

export interface FirefoxProcess {
  readonly pid: string;
  readonly name: string;
  readonly threads: readonly FirefoxThread[];
}

export interface FirefoxFunctionShare {
  readonly name: string;
  readonly totalSamples: number;
  readonly totalPercentage: number;
}

export interface FirefoxMarkerType {
  readonly markerName: string;
  readonly count: number;
  readonly isInterval: boolean;
}

/** A profile loaded by the Firefox Profiler's code, in a session of its own (a daemon it starts; close() ends it). */
export interface FirefoxSession {
  processes(): Promise<FirefoxProcess[]>;
  /** Functions by total samples in a thread, within [startMs, endMs] from the profile's zero when given. */
  functions(thread: string, range?: { startMs: number; endMs: number }): Promise<{ totalSamples: number; functions: FirefoxFunctionShare[] }>;
  markers(thread: string): Promise<FirefoxMarkerType[]>;
  close(): Promise<void>;
}

export async function loadWithFirefoxProfiler(file: string): Promise<FirefoxSession> {
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-profiler-cli-'));
  const session = 'mixprof-test';
  const cli = async (...args: string[]): Promise<string> => {
    const { stdout, stderr, exitCode } = await execa(process.execPath, [PROFILER_CLI, ...args, '--session', session], { env: { PROFILER_CLI_SESSION_DIR: dir }, reject: false, timeout: 120_000 });
    if (exitCode !== 0) throw new Error(`profiler-cli ${args.join(' ')} failed (${exitCode}): ${stderr}${stdout}`);
    return stdout;
  };
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await cli(...args, '--json')) as T;
  await cli('load', file);
  return {
    processes: async () => (await json<{ processes: FirefoxProcess[] }>('profile', 'info', '--all')).processes,
    functions: async (thread, range) => {
      if (range) await cli('zoom', 'push', `${range.startMs}ms,${range.endMs}ms`);
      try {
        const samples = await json<{ categoryBreakdown: { totalSamples: number }; topFunctionsByTotal: FirefoxFunctionShare[] }>('thread', 'samples', '--thread', thread, '--include-idle', '--limit', '1000');
        return { totalSamples: samples.categoryBreakdown.totalSamples, functions: samples.topFunctionsByTotal };
      } finally {
        if (range) await cli('zoom', 'pop');
      }
    },
    markers: async (thread) => (await json<{ byType: FirefoxMarkerType[] }>('thread', 'markers', '--thread', thread)).byType,
    close: async () => {
      await execa(process.execPath, [PROFILER_CLI, 'stop', session], { env: { PROFILER_CLI_SESSION_DIR: dir }, reject: false, timeout: 30_000 });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface DevtoolsEntry {
  readonly name: string;
  /** Microseconds, as the file gives them. */
  readonly ts: number;
  readonly dur: number;
}

export interface DevtoolsThread {
  readonly pid: number;
  readonly tid: number;
  readonly name: string | null;
  readonly entries: readonly DevtoolsEntry[];
}

interface TraceEngine {
  analyzeEvents(events: unknown[]): Promise<{ parsedTrace: { data: { Renderer: { processes: Map<number, { threads: Map<number, { name: string | null; entries: { name: string; ts: number; dur?: number }[] }> }> } } } }>;
}

/** The threads and their duration entries as Chrome DevTools' trace engine reads the file's events (its own loader, which sets up what the engine expects of a browser). */
export async function readWithDevtools(events: unknown[]): Promise<DevtoolsThread[]> {
  const engine = (await import(path.join(REPO, 'node_modules', '@paulirish', 'trace_engine', 'analyze-trace.mjs'))) as TraceEngine;
  const { parsedTrace: parsed } = await engine.analyzeEvents(events);
  const threads: DevtoolsThread[] = [];
  for (const [pid, p] of parsed.data.Renderer.processes) {
    for (const [tid, t] of p.threads) threads.push({ pid, tid, name: t.name, entries: t.entries.map((e) => ({ name: e.name, ts: e.ts, dur: e.dur ?? 0 })) });
  }
  return threads;
}
