import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DrainSchedule, EARLY_MS, FIRST_DRAIN_MS, FIRST_ROWS_MS, MAX_DRAIN_MS, MAX_DRAIN_MS_FOLLOWING, MAX_DRAIN_MS_LATER, MIN_DRAIN_MS, UNWOUND_RECORD_BYTES, ringMiB } from '../../src/sampler/drain-schedule.js';
import { chooseUnwind } from '../../src/session/unwind.js';

test('auto is the DWARF sampler, also for interpreters that keep frame pointers; an explicit choice wins and says so', () => {
  assert.equal(chooseUnwind('auto').unwind, 'dwarf');
  assert.match(chooseUnwind('auto').why, /--unwind fp/);
  assert.deepEqual(chooseUnwind('fp'), { unwind: 'fp', why: '--unwind fp' });
  assert.deepEqual(chooseUnwind('dwarf'), { unwind: 'dwarf', why: '--unwind dwarf' });
});

test('the DWARF ring buffer holds 2.5 drains of the longest wait, the copies made before the first drain twice over and those until the first rows are loaded (up to 2 MiB when the kernel unwinds), in powers of two', () => {
  // The kernel unwinds: small records; the first moments' copies up to 2 MiB (past 7/8 of the ring it sends short records).
  assert.equal(ringMiB(99, 2, 8192, true), 1);
  assert.equal(ringMiB(999, 2, 8192, true), 2);
  assert.equal(ringMiB(4999, 2, 8192, true), 2);
  assert.equal(ringMiB(9999, 2, 8192, true), 4);
  // Following forks, drains come late while new workers are taken in: the first moments' copies whole.
  assert.equal(ringMiB(4999, 2, 8192, true, true), 8);
  assert.equal(ringMiB(9999, 2, 8192, true, true), 16);
  // User space unwinds every sample: copies throughout.
  assert.equal(ringMiB(99, 2, 8192, false), 4);
  assert.equal(ringMiB(999, 2, 8192, false), 16);
  assert.equal(ringMiB(10000, 256, 65536, false), 512);
  for (const hz of [1, 99, 999, 4999, 9999]) {
    for (const cpus of [1, 2, 64]) {
      const ring = ringMiB(hz, cpus, 8192, true) * 2 ** 20;
      assert.ok(ring >= Math.min(2 * (FIRST_DRAIN_MS / 1000) * hz * cpus * (8192 + 1024), 2 ** 21), `${hz} Hz, ${cpus} CPUs: the first drain's copies`);
      assert.ok(ringMiB(hz, cpus, 8192, false) * 2 ** 20 >= 2 * (FIRST_DRAIN_MS / 1000) * hz * cpus * (8192 + 1024), `${hz} Hz, ${cpus} CPUs: the first drain's copies, every sample copied`);
      assert.ok(ring >= Math.min((FIRST_ROWS_MS / 1000) * hz * cpus * (8192 + 1024), 2 ** 21), `${hz} Hz, ${cpus} CPUs: the copies until the first rows are loaded`);
      assert.ok(ring >= 2.5 * (MAX_DRAIN_MS / 1000) * hz * cpus * UNWOUND_RECORD_BYTES, `${hz} Hz, ${cpus} CPUs: 2.5 drains`);
    }
  }
});

test('the ring is drained as seldom as leaves room for 2.5 drains at the rate it fills, within 20-250 ms for the first 10 s, 20-1000 ms later (100 following forks)', () => {
  const ring = 2 * 2 ** 20;
  const idle = new DrainSchedule(ring, false);
  assert.equal(idle.next(0, 250, 0), MAX_DRAIN_MS);
  // 2 MiB filled at 1 MB/s: room for 2.5 drains is 0.84 s, more than the longest wait.
  assert.equal(new DrainSchedule(ring, false).next(250_000, 250, 0), MAX_DRAIN_MS);
  assert.equal(new DrainSchedule(ring, true).next(250_000, 250, 0), MAX_DRAIN_MS_FOLLOWING);
  // 2 MiB filled at 20 MB/s (copies): about 42 ms.
  const busy = new DrainSchedule(ring, false);
  const ms = busy.next(800_000, 40, 0);
  assert.ok(Math.abs(ms - ring / (2.5 * 20_000)) <= 1, `${ms} ms`);
  // Faster than the ring can be drained: the shortest wait.
  assert.equal(new DrainSchedule(ring, false).next(ring, 1, 0), MIN_DRAIN_MS);
  // A rate that falls is followed half way: the next wait is longer, but not the longest yet.
  const falling = busy.next(10_000, ms, 0);
  assert.ok(falling > ms && falling < MAX_DRAIN_MS, `${falling} ms after ${ms} ms`);
  // One that rises is followed at once.
  assert.equal(busy.next(ring, 1, 0), MIN_DRAIN_MS);
  // Later, at most once a second; following, ten times a second throughout.
  assert.equal(new DrainSchedule(ring, false).next(0, 1000, EARLY_MS), MAX_DRAIN_MS_LATER);
  assert.equal(new DrainSchedule(ring, false).next(100_000, 250, EARLY_MS), MAX_DRAIN_MS_LATER);
  assert.equal(new DrainSchedule(ring, true).next(0, 100, EARLY_MS), MAX_DRAIN_MS_FOLLOWING);
  // 2 MiB filled at 2.5 MB/s (999 Hz on 2 CPUs): about 335 ms, even later.
  const steady = new DrainSchedule(ring, false).next(2_500_000, 1000, EARLY_MS);
  assert.ok(Math.abs(steady - ring / (2.5 * 2_500)) <= 1, `${steady} ms`);
  // Whatever the rate, the ring holds 2.5 drains at that rate, or the waits are the shortest.
  for (const bytesPerMs of [1, 100, 1000, 10_000, 100_000, 1_000_000]) {
    const wait = new DrainSchedule(ring, false).next(bytesPerMs * 100, 100, 0);
    assert.ok(wait === MIN_DRAIN_MS || 2.5 * wait * bytesPerMs <= ring * 1.01, `${bytesPerMs} B/ms: ${wait} ms`);
  }
});
