/**
 * A target whose thread pool starts and ends hundreds of threads a second,
 * sampled by the DWARF sampler as `mixprof sample` runs it without --threads:
 * the threads share their records (not one record per thread, numbered,
 * handed over and dropped), the samples each thread got are still counted,
 * and what the sampler keeps for a thread goes when the thread exits.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dwarfSamplerObject, nativeAddon, type DwarfPoll } from '../../src/native.js';
import { WORKLOADS } from '../helpers/paths.js';
import { startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';

/** Threads the pool has started (and most ended) by the time the test stops looking. */
const THREADS_SEEN = 300;

describe('a thread pool that churns', () => {
  let churn: Workload<unknown>;
  before(async () => {
    churn = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'churn.py')]);
  });
  after(async () => {
    await churn?.stop();
  });

  /** Polls a sampler of the pool until it has noted THREADS_SEEN threads (a loaded machine takes longer, not fewer). */
  async function samplePool(perThread: boolean): Promise<{ polls: DwarfPoll[]; noted: Set<number> }> {
    const addon = nativeAddon();
    const symbolizer = new addon.Symbolizer({ maps: readFileSync(`/proc/${churn.pid}/maps`, 'utf8') });
    const sampler = new addon.DwarfSampler({ object: dwarfSamplerObject(), pid: churn.pid, hz: 499, maxFrames: 128, stackBytes: 8192, ringMiB: 4, symbolizer, perThread });
    const polls: DwarfPoll[] = [];
    const noted = new Set<number>();
    try {
      sampler.start();
      const deadline = Date.now() + 60_000;
      while (noted.size < THREADS_SEEN) {
        assert.ok(Date.now() < deadline, `only ${noted.size} threads noted in 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        const poll = sampler.poll(true);
        for (const t of poll.threads) noted.add(t.tid);
        polls.push(poll);
      }
    } finally {
      sampler.stop();
      sampler.close();
      symbolizer.close();
    }
    return { polls, noted };
  }

  const sum = (values: Iterable<number>): number => [...values].reduce((a, b) => a + b, 0);
  const counted = (poll: DwarfPoll): number => sum(poll.counts.filter((_, i) => i % 2 === 1));

  test("without --threads: records shared by the pool's threads, each thread's samples counted, exited threads let go", async () => {
    const { polls, noted } = await samplePool(false);
    const records = polls.flatMap((p) => p.stacks);
    assert.ok(records.every((r) => r.tid === 0 && r.pid === churn.pid));
    // Every sample is a thread's: the per-thread counts add up to the records' counts, poll by poll.
    const byThread = new Map<number, number>();
    for (const poll of polls) {
      const triples = poll.threadSamples;
      assert.ok(triples, 'a full poll says what each thread got');
      let inPoll = 0;
      for (let i = 0; i < triples.length; i += 3) {
        assert.equal(triples[i], churn.pid);
        byThread.set(triples[i + 1]!, (byThread.get(triples[i + 1]!) ?? 0) + triples[i + 2]!);
        inPoll += triples[i + 2]!;
      }
      assert.equal(inPoll, counted(poll));
    }
    assert.ok([...byThread.keys()].every((tid) => noted.has(tid)));
    assert.ok(byThread.size >= THREADS_SEEN / 2, `${byThread.size} threads with samples`);
    // The pool's threads run the same code: far fewer records than threads.
    assert.ok(records.length < noted.size / 2, `${records.length} records for ${noted.size} threads`);
    // About 20 threads are alive at a time: the sampler keeps nothing for the hundreds gone.
    const kept = polls.at(-1)!.threadsKept;
    assert.ok(kept < THREADS_SEEN / 3, `${kept} threads kept of ${noted.size} noted`);
  });

  test('with --threads: each record names its thread', async () => {
    const { polls, noted } = await samplePool(true);
    const records = polls.flatMap((p) => p.stacks);
    assert.ok(records.every((r) => noted.has(r.tid)));
    assert.ok(new Set(records.map((r) => r.tid)).size >= THREADS_SEEN / 2);
    assert.ok(polls.every((p) => p.threadSamples === undefined));
  });
});
