/**
 * Accuracy on the known-chain workload (test/workloads/chains.py): the share
 * of samples of each chain's thread whose Python frames are exactly the
 * chain the interpreter itself reported, for mixprof, austin and CPython
 * 3.15's own sampler.
 */
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFolded, pythonNames, threadOf } from '../test/helpers/folded.js';
import { WORKLOADS } from '../test/helpers/paths.js';
import { TACHYON, tachyon } from './profilers.js';
import { runMixprof, startWorkload } from '../test/helpers/processes.js';

interface ChainsReady {
  chains: Record<string, { tid: number; stack: string[] }>;
}

export interface AccuracyResult {
  readonly profiler: string;
  readonly hz: number;
  readonly samples: number;
  readonly exact: number;
  readonly lostEvents: number | null;
}

/** One thread's sample: its tid and Python function names, root first. */
type Observation = { tid: number; names: string[]; count: number };

function score(profiler: string, hz: number, ready: ChainsReady, observations: Observation[], lostEvents: number | null): AccuracyResult {
  const expected = new Map(Object.values(ready.chains).map((c) => [c.tid, JSON.stringify(c.stack)]));
  let samples = 0;
  let exact = 0;
  for (const o of observations) {
    const want = expected.get(o.tid);
    if (want === undefined) continue;
    samples += o.count;
    if (JSON.stringify(o.names) === want) exact += o.count;
  }
  return { profiler, hz, samples, exact, lostEvents };
}

export async function mixprofAccuracy(python: string, hz: number, seconds: number, unwind: 'fp' | 'dwarf'): Promise<AccuracyResult> {
  const workload = await startWorkload<ChainsReady>(python, [path.join(WORKLOADS, 'chains.py')]);
  try {
    const r = await runMixprof(['sample', '-x', String(workload.pid), '-t', String(seconds), '-F', String(hz), '--threads', '--mark-python', '--unwind', unwind]);
    if (r.exitCode !== 0) throw new Error(`mixprof failed: ${r.stderr}`);
    const observations = parseFolded(r.stdout).map((s) => ({ tid: threadOf(s.frames) ?? -1, names: pythonNames(s.frames), count: s.count }));
    return score(`mixprof ${unwind}`, hz, workload.ready, observations, Number(/lost events: (\d+)/.exec(r.stderr)?.[1] ?? NaN));
  } finally {
    await workload.stop();
  }
}

/** austin lines: "P<pid>;T<iid>:<tid>;file:function:line;... <metric>", root first. */
export function parseAustin(text: string): Observation[] {
  const out: Observation[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('P')) continue;
    const space = line.lastIndexOf(' ');
    const fields = line.slice(0, space).split(';');
    const tid = Number(/^T\d+:(\d+)$/.exec(fields[1] ?? '')?.[1]);
    const names = fields.slice(2).map((frame) => {
      const parts = frame.split(':');
      return parts.slice(-2, -1)[0] ?? frame;
    });
    out.push({ tid, names, count: 1 });
  }
  return out;
}

export async function austinAccuracy(austin: string, python: string, hz: number, seconds: number): Promise<AccuracyResult> {
  const workload = await startWorkload<ChainsReady>(python, [path.join(WORKLOADS, 'chains.py')]);
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-austin-'));
  try {
    const out = path.join(dir, 'austin.txt');
    await execa(austin, ['-s', '-i', String(Math.round(1e6 / hz)), '-x', String(seconds), '-o', out, '-p', String(workload.pid)], { timeout: (seconds + 60) * 1000 });
    return score('austin', hz, workload.ready, parseAustin(await readFile(out, 'utf8')), null);
  } finally {
    await workload.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** CPython 3.15's collapsed lines: "tid:<tid>;file:function:line;... <count>", root first. */
export function parseTachyon(text: string): Observation[] {
  const out: Observation[] = [];
  for (const line of text.split('\n')) {
    const m = /^tid:(\d+);(.*) (\d+)$/.exec(line);
    if (!m) continue;
    // file:function:line; a function name holds no ':' but a file name may.
    const names = m[2]!.split(';').map((frame) => frame.split(':').slice(-2, -1)[0] ?? frame);
    out.push({ tid: Number(m[1]), names, count: Number(m[3]) });
  }
  return out;
}

export async function tachyonAccuracy(python: string, hz: number, seconds: number): Promise<AccuracyResult> {
  const workload = await startWorkload<ChainsReady>(python, [path.join(WORKLOADS, 'chains.py')]);
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-tachyon-'));
  try {
    const out = path.join(dir, 'collapsed.txt');
    const run = tachyon(python, hz, seconds).start(workload.pid, out);
    await run.done;
    return score(TACHYON, hz, workload.ready, parseTachyon(await readFile(out, 'utf8')), null);
  } finally {
    await workload.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
