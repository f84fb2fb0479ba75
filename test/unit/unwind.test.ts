import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pollIntervalMs, ringMiB } from '../../src/bpf/dwarf-runner.js';
import { chooseUnwind } from '../../src/sample/unwind.js';

test('auto unwinds with frame pointers only where the interpreter is known to keep them', () => {
  assert.equal(chooseUnwind('auto', '/usr/bin/python3.14d', true).unwind, 'fp');
  assert.equal(chooseUnwind('auto', '/usr/lib/libpython3.11.so.1.0', false).unwind, 'dwarf');
  assert.match(chooseUnwind('auto', '/usr/lib/libpython3.11.so.1.0', false).why, /without frame pointers/);
  assert.equal(chooseUnwind('auto', null, false).unwind, 'dwarf');
  // Unknown (no symbol to look at) is not trusted to have them.
  assert.equal(chooseUnwind('auto', '/usr/bin/python3.13', null).unwind, 'dwarf');
  assert.match(chooseUnwind('auto', '/usr/bin/python3.13', null).why, /cannot tell/);
});

test('an explicit choice wins and says so', () => {
  assert.deepEqual(chooseUnwind('fp', '/usr/bin/python3.11', false), { unwind: 'fp', why: '--unwind fp' });
  assert.deepEqual(chooseUnwind('dwarf', '/usr/bin/python3.14d', true), { unwind: 'dwarf', why: '--unwind dwarf' });
});

test('the DWARF ring buffer holds 0.25 s of samples from every CPU, in powers of two', () => {
  assert.equal(ringMiB(99, 2, 8192), 4);
  assert.equal(ringMiB(999, 2, 8192), 8);
  assert.equal(ringMiB(4999, 2, 8192), 32);
  assert.equal(ringMiB(10000, 256, 65536), 512);
  // Polled often enough that 0.25 s is more than two polls.
  assert.ok(pollIntervalMs(99) <= 100 && pollIntervalMs(4999) <= 50);
});
