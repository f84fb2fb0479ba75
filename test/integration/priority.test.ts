/**
 * The attach priority as a user meets it: bin/mixprof raises `sample` to
 * nice -10 from node's first instruction, and once the samplers run every
 * thread of mixprof is back at the priority it was started with, but the
 * wall-clock ticker.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { startSampling, startWorkload, type SamplingRun, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

interface Thread {
  readonly tid: number;
  readonly comm: string;
  readonly nice: number;
}

function threadsOf(pid: number): Thread[] {
  const threads: Thread[] = [];
  for (const name of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${name}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Field 19 (nice) is the 17th after the state, which follows comm.
      const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      threads.push({ tid: Number(name), comm, nice });
    } catch {
      // A thread that ended meanwhile.
    }
  }
  return threads;
}

/** Resolves once every thread but the ticker has the nice value wanted; rejects with what was seen after timeoutMs. */
async function untilLowered(pid: number, nice: number, timeoutMs: number): Promise<Thread[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const threads = threadsOf(pid);
    if (threads.filter((t) => t.comm !== 'mixprof-wall').every((t) => t.nice === nice)) return threads;
    if (Date.now() > deadline) throw new Error(`mixprof's threads are not back at nice ${nice}: ${JSON.stringify(threads)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('the attach priority', () => {
  let workload: Workload<unknown> | undefined;
  let run: SamplingRun | undefined;
  after(async () => {
    await run?.stop();
    await workload?.stop();
  });

  test('started at nice 5, sample samples at nice 5 on every thread but the wall-clock ticker, which keeps nice -10', async () => {
    assertRoot();
    workload = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'lifetimes.py')]);
    run = await startSampling(['sample', '-x', String(workload.pid), '--mode', 'wall', '-t', '60', '-o', '/dev/null', '--top', '0'], 60_000, {}, ['nice', '-n', '5', MIXPROF]);
    const pid = run.child.pid!;
    // The node process bin/mixprof became (exec, not a child).
    assert.match(readFileSync(`/proc/${pid}/cmdline`, 'utf8'), /mixprof\.js\0sample\0/);
    const threads = await untilLowered(pid, 5, 30_000);
    const ticker = threads.filter((t) => t.comm === 'mixprof-wall');
    assert.equal(ticker.length, 1, JSON.stringify(threads));
    assert.equal(ticker[0]!.nice, -10);
    const r = await run.stop();
    run = undefined;
    assert.equal(r.exitCode, 0, r.stderr);
  });
});
