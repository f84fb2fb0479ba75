import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pollIntervalMs, ringMiB } from '../../src/sampler/dwarf-runner.js';
import { chooseUnwind } from '../../src/session/unwind.js';

test('auto is the DWARF sampler, also for interpreters that keep frame pointers; an explicit choice wins and says so', () => {
  assert.equal(chooseUnwind('auto').unwind, 'dwarf');
  assert.match(chooseUnwind('auto').why, /--unwind fp/);
  assert.deepEqual(chooseUnwind('fp'), { unwind: 'fp', why: '--unwind fp' });
  assert.deepEqual(chooseUnwind('dwarf'), { unwind: 'dwarf', why: '--unwind dwarf' });
});

test('the DWARF ring buffer holds 0.25 s of samples from every CPU, in powers of two', () => {
  assert.equal(ringMiB(99, 2, 8192), 4);
  assert.equal(ringMiB(999, 2, 8192), 8);
  assert.equal(ringMiB(4999, 2, 8192), 32);
  assert.equal(ringMiB(10000, 256, 65536), 512);
});

test('the DWARF ring buffer is drained before it could fill, with room for 2.5 polls, and as seldom as that allows up to 4 times a second', () => {
  for (const hz of [1, 99, 999, 4999, 9999, 100000]) {
    for (const cpus of [1, 2, 64, 256]) {
      for (const follow of [false, true]) {
        const ms = pollIntervalMs(hz, cpus, 8192, follow);
        const bytesPerPoll = (ms / 1000) * hz * cpus * (8192 + 1024);
        const ring = ringMiB(hz, cpus, 8192) * 2 ** 20;
        // The fastest polling (50 ms) is all that is left where the largest ring does not hold 2.5 polls.
        if (ms > 50) assert.ok(2.5 * bytesPerPoll <= ring, `${hz} Hz, ${cpus} CPUs: ${ms} ms`);
        assert.ok(ms <= (follow ? 100 : 250), `${hz} Hz, ${cpus} CPUs, follow ${follow}: ${ms} ms`);
      }
    }
  }
  // Low rates poll seldom, high ones often.
  assert.equal(pollIntervalMs(99, 2, 8192), 250);
  assert.equal(pollIntervalMs(99, 2, 8192, true), 100);
  assert.ok(pollIntervalMs(4999, 2, 8192) <= 100);
});
