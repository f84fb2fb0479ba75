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
  // Polled often enough that 0.25 s is more than two polls.
  assert.ok(pollIntervalMs(99) <= 100 && pollIntervalMs(4999) <= 50);
});
