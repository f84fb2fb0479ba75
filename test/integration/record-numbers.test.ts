/**
 * The DWARF sampler numbers each distinct record once and then hands over
 * only counts by number; past recordsKept it forgets the numbers (to bound
 * what mixprof holds per record) and a record seen again is numbered and
 * handed over again. Checked on the known-chain workload with a small bound,
 * so that it is passed several times in a few seconds.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { dwarfSamplerObject, nativeAddon, type DwarfPoll, type DwarfStack } from '../../src/native.js';
import { WORKLOADS } from '../helpers/paths.js';
import { startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';

const RECORDS_KEPT = 32;
/** Forgettings to see (each needs more than RECORDS_KEPT distinct records: a loaded machine takes longer, not fewer). */
const FORGETTINGS = 3;

/** What makes a record distinct, without its number (the sampler keys the leaf by its function: two periods may show it at different instructions). */
const content = (s: DwarfStack, withLeaf = true): string =>
  [s.pid, s.tid, s.chain, s.gil, s.runnable, s.complete, s.beyondCopy, s.short, [...s.user].slice(withLeaf ? 0 : 1).join(','), [...s.kernel].join(',')].join('|');

describe('record numbers', () => {
  let chains: Workload<unknown>;
  before(async () => {
    chains = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'chains.py')]);
  });
  after(async () => {
    await chains?.stop();
  });

  test('past recordsKept the numbers are forgotten, never reused, and a record seen again comes again under a new number', async () => {
    const addon = nativeAddon();
    const symbolizer = new addon.Symbolizer({ maps: readFileSync(`/proc/${chains.pid}/maps`, 'utf8') });
    const sampler = new addon.DwarfSampler({ object: dwarfSamplerObject(), pid: chains.pid, hz: 999, maxFrames: 128, stackBytes: 8192, ringMiB: 4, symbolizer, recordsKept: RECORDS_KEPT });
    const polls: DwarfPoll[] = [];
    try {
      sampler.start();
      const deadline = Date.now() + 60_000;
      while (polls.filter((p) => p.forgetStacks).length < FORGETTINGS) {
        assert.ok(Date.now() < deadline, `${polls.filter((p) => p.forgetStacks).length} forgettings in 60 s`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        polls.push(sampler.poll(true));
      }
    } finally {
      sampler.stop();
      sampler.close();
      symbolizer.close();
    }

    const numbers = new Set<number>();
    // Numbers handed over since the last forgetting: every count is of one of them.
    let valid = new Map<number, string>();
    // A record's content, with the forgetting it was handed over after.
    const firstSeen = new Map<string, number>();
    let forgettings = 0;
    let cameAgain = 0;
    let counted = 0;
    for (const poll of polls) {
      for (const s of poll.stacks) {
        assert.ok(!numbers.has(s.id), `number ${s.id} handed over twice`);
        numbers.add(s.id);
        const key = content(s);
        // Between two forgettings a record is handed over once.
        assert.ok(![...valid.values()].includes(key), 'a record handed over twice under numbers both kept');
        valid.set(s.id, key);
        const callers = content(s, false);
        const seen = firstSeen.get(callers);
        if (seen === undefined) firstSeen.set(callers, forgettings);
        else if (seen < forgettings) cameAgain++;
      }
      for (let i = 0; i < poll.counts.length; i += 2) {
        assert.ok(valid.has(poll.counts[i]!), `count of number ${poll.counts[i]} not handed over since the last forgetting`);
        counted += poll.counts[i + 1]!;
      }
      assert.equal(poll.malformed, 0);
      if (poll.forgetStacks) {
        // Forgotten only past the bound.
        assert.ok(valid.size > RECORDS_KEPT, `forgotten with ${valid.size} numbers kept`);
        valid = new Map();
        forgettings++;
      }
    }
    assert.ok(counted > 0);
    // The chains recur: many records come again after their numbers were forgotten.
    assert.ok(cameAgain > 0, 'no record came again after a forgetting');
  });
});
