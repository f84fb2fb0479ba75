/**
 * The profile store's queries over a day of one-minute profiles of ten
 * processes (14,400 profiles), as `mixprof serve` answers them; budget:
 * each under 1 s. Stacks are drawn from a pool of 3,000 of depth 10 to 40
 * per process, 300 distinct stacks in each profile, as a busy service gives.
 * Also run by `npm run bench`; alone: node dist/bench/store.js.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Frame } from '../src/symbolize/frame.js';
import { ProfileStore } from '../src/store/profile-store.js';
import { diffStacks } from '../src/serve/diff.js';
import { warmStore } from '../src/serve/server.js';
import { formatFolded } from '../src/output/folded.js';

export interface StoreQueryTime {
  readonly query: string;
  readonly ms: number;
  readonly samples: number;
}

export interface StoreBenchResult {
  readonly profiles: number;
  readonly fileMiB: number;
  readonly writeMs: number;
  readonly rollups: number;
  readonly rollUpMs: number;
  /** Opening the store and reading its frames and stacks, as serve does at start. */
  readonly warmMs: number;
  readonly queries: StoreQueryTime[];
}

const PROCESSES = 10;
const MINUTES = 1440;
const POOL = 3000;
const PER_PROFILE = 300;

/** A small deterministic generator, so that runs compare. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function stackPool(process: number, rnd: () => number): Frame[][] {
  const pool: Frame[][] = [];
  for (let i = 0; i < POOL; i++) {
    const depth = 10 + Math.floor(rnd() * 30);
    const frames: Frame[] = [];
    for (let d = 0; d < depth; d++) {
      const n = Math.floor(rnd() * 200);
      if (d < depth - 3) frames.push({ kind: 'python', name: `handler_${process}_${d}_${n} (app/module_${n % 20}.py:${10 + n})`, func: `handler_${process}_${d}_${n}`, file: `/srv/app/module_${n % 20}.py`, line: 10 + n });
      else if (d < depth - 1) frames.push({ kind: 'native', name: `native_fn_${n}`, file: '/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0' });
      else frames.push({ kind: 'kernel', name: `kernel_fn_${n}` });
    }
    pool.push(frames);
  }
  return pool;
}

export async function measureStore(): Promise<StoreBenchResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'mixprof-store-bench-'));
  try {
    const store = ProfileStore.open(dir);
    const rnd = random(42);
    const pools = Array.from({ length: PROCESSES }, (_, p) => stackPool(p, rnd));
    const dayStart = Date.parse('2026-11-21T00:00:00Z');
    const t0 = performance.now();
    for (let m = 0; m < MINUTES; m++) {
      for (let p = 0; p < PROCESSES; p++) {
        const stacks = Array.from({ length: PER_PROFILE }, () => ({ thread: `worker (${1000 + p * 10 + Math.floor(rnd() * 4)})`, frames: pools[p]![Math.floor(rnd() ** 2 * POOL)]!, count: 1 + Math.floor(rnd() * 6) }));
        store.add({ process: { host: 'bench', pid: 1000 + p * 10, name: `service${p % 3}`, cmdline: `python3 service${p}.py`, python: '3.11.7' }, startMs: dayStart + m * 60_000, endMs: dayStart + m * 60_000 + 10_000, hz: 99, mode: 'cpu', lostEvents: 0, stacks });
      }
    }
    const writeMs = performance.now() - t0;
    // As the collector's housekeeping does when each hour has ended.
    const r0 = performance.now();
    const rollups = store.rollUp(dayStart + MINUTES * 60_000);
    const rollUpMs = performance.now() - r0;
    store.close();
    const fileMiB = statSync(path.join(dir, 'profiles.db')).size / 2 ** 20;

    // As serve reads it: one read-only connection for all queries, which
    // reads every frame and stack once as serve starts.
    const w0 = performance.now();
    const reader = ProfileStore.open(dir, { readonly: true });
    warmStore(reader);
    const warmMs = performance.now() - w0;
    const day = { from: dayStart, until: dayStart + MINUTES * 60_000 };
    const queries: StoreQueryTime[] = [];
    const time = (query: string, run: () => number): void => {
      const start = performance.now();
      const samples = run();
      queries.push({ query, ms: performance.now() - start, samples });
    };
    const wholeDay = (): number => {
      const r = reader.query(day);
      formatFolded(r.stacks, { markPython: false });
      return r.samples;
    };
    time('first query: the whole day, all processes, folded text', wholeDay);
    time('the whole day, all processes, folded text', wholeDay);
    time('the whole day, one process name', () => reader.query({ ...day, names: ['service1'] }).samples);
    time('the whole day, one thread, a root per thread', () => reader.query({ ...day, threads: ['worker (1011)'], threadRoots: true }).samples);
    time('the whole day, Python frames only', () => reader.query({ ...day, kinds: ['python'] }).samples);
    time('the last 15 minutes', () => reader.query({ from: day.until - 900_000, until: day.until }).samples);
    time('timeline of the day, 400 steps', () => reader.timeline(day, 400).counts.reduce((a, b) => a + b, 0));
    time('processes and threads of the day', () => reader.processes(day).length + reader.threads(day).length);
    time('diff of two 12-hour halves', () => {
      const half = day.from + 12 * 3_600_000;
      return diffStacks(reader.query({ from: day.from, until: half }).stacks, reader.query({ from: half, until: day.until }).stacks).length;
    });
    reader.close();
    return { profiles: MINUTES * PROCESSES, fileMiB, writeMs, rollups, rollUpMs, warmMs, queries };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function storeSection(r: StoreBenchResult): string[] {
  const slowest = r.queries.reduce((a, b) => (b.ms > a.ms ? b : a));
  return [
    '## Profile store queries',
    '',
    `A day of one-minute profiles of ${PROCESSES} processes (${r.profiles} profiles, ${PER_PROFILE} distinct stacks of depth 10 to 40 each, from`,
    `${POOL} per process), as \`mixprof collect\` stores them: ${r.fileMiB.toFixed(0)} MiB on disk, written in ${(r.writeMs / 1000).toFixed(1)} s, and`,
    `${r.rollups} hourly roll-ups made in ${(r.rollUpMs / 1000).toFixed(1)} s, as the collector makes them when each hour ends. The queries run on one`,
    `read-only connection, as \`mixprof serve\` keeps it, which reads every frame and stack of the store and makes their folded text as serve starts (${r.warmMs.toFixed(0)} ms).`,
    `Budget: every query under 1 s: ${slowest.ms < 1000 ? 'met' : '**missed**'} (slowest ${slowest.ms.toFixed(0)} ms: ${slowest.query}).`,
    '',
    '| query | ms | samples (or rows) |',
    '| --- | --- | --- |',
    ...r.queries.map((q) => `| ${q.query} | ${q.ms.toFixed(0)} | ${q.samples} |`),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  measureStore().then(
    (r) => process.stdout.write(storeSection(r).join('\n')),
    (error: unknown) => {
      process.stderr.write(String((error as Error).stack ?? error) + '\n');
      process.exit(1);
    },
  );
}
