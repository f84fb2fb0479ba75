/** The collector's store on real SQLite files: what goes in comes out, by time, process, thread and frame kind. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { MixprofError } from '../../src/errors.js';
import type { Frame } from '../../src/profile/types.js';
import { decodeSamples, encodeSamples } from '../../src/store/sample-blob.js';
import { FILTERED_FRAME, ProfileStore, type ProfileRecord } from '../../src/store/profile-store.js';
import { parseDuration, parseRange, parseTime } from '../../src/store/time-range.js';

const py = (name: string, line = 1): Frame => ({ kind: 'python', name: `${name} (app.py:${line})`, func: name, file: '/srv/app.py', line });
const native = (name: string): Frame => ({ kind: 'native', name, file: '/usr/lib/libc.so.6' });
const kernel = (name: string): Frame => ({ kind: 'kernel', name });
const folded = (stacks: readonly { frames: readonly Frame[]; count: number }[]): string[] => stacks.map((s) => `${s.frames.map((f) => f.name).join(';')} ${s.count}`).sort();

function record(pid: number, name: string, startMs: number, stacks: ProfileRecord['stacks']): ProfileRecord {
  return { process: { host: 'h1', pid, name, cmdline: `python3 ${name}.py`, python: '3.11.7' }, startMs, endMs: startMs + 10_000, hz: 99, mode: 'cpu', lostEvents: 0, stacks };
}

describe('sample blobs', () => {
  test('round trip, large values, and a blob cut short is refused', () => {
    const entries = [
      { thread: 0, stack: 1, count: 5 },
      { thread: 300, stack: 2 ** 40, count: 127 },
      { thread: 1, stack: 128, count: 16384 },
    ];
    const blob = encodeSamples(entries);
    const back: { thread: number; stack: number; count: number }[] = [];
    decodeSamples(blob, (thread, stack, count) => back.push({ thread, stack, count }));
    assert.deepEqual(back, entries);
    assert.throws(() => decodeSamples(blob.subarray(0, blob.length - 1), () => undefined), /cut short/);
    assert.throws(() => encodeSamples([{ thread: -1, stack: 1, count: 1 }]), RangeError);
  });
});

describe('times and durations', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  test('durations as users write them', () => {
    assert.equal(parseDuration('7d'), 7 * 86_400_000);
    assert.equal(parseDuration('15minutes'), 900_000);
    assert.equal(parseDuration('1.5h'), 5_400_000);
    assert.equal(parseDuration('90'), 90_000);
    assert.equal(parseDuration('7 parsecs'), null);
    assert.equal(parseDuration(''), null);
  });
  test('times: now, ago, ISO, epoch seconds and milliseconds', () => {
    assert.equal(parseTime('now', now), now);
    assert.equal(parseTime('-15minutes', now), now - 900_000);
    assert.equal(parseTime('2026-11-22T11:00:00Z', now), now - 3_600_000);
    assert.equal(parseTime(String(now / 1000), now), now);
    assert.equal(parseTime(String(now), now), now);
    assert.equal(parseTime('yesterday-ish', now), null);
  });
  test('a range: defaults, and errors that say what is wrong', () => {
    assert.deepEqual(parseRange(undefined, undefined, now), { from: now - 900_000, until: now });
    assert.match(parseRange('-1h', '-2h', now) as string, /is not after from/);
    assert.match(parseRange('soon', undefined, now) as string, /from=soon: not a time/);
  });
});

describe('the profile store', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mixprof-store-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const t0 = Date.parse('2026-11-22T10:00:00Z');

  test('stores profiles and adds them up by time range, process and thread', () => {
    const store = ProfileStore.open(path.join(dir, 'a'));
    try {
      store.add(record(100, 'web', t0, [
        { thread: 'web (100)', frames: [py('main'), py('handle'), native('memcpy')], count: 30 },
        { thread: 'web (101)', frames: [py('main'), py('serve'), kernel('tcp_sendmsg')], count: 10 },
      ]));
      store.add(record(100, 'web', t0 + 60_000, [{ thread: 'web (100)', frames: [py('main'), py('handle'), native('memcpy')], count: 20 }]));
      store.add(record(200, 'worker', t0 + 60_000, [{ thread: null, frames: [py('run'), py('crunch')], count: 50 }]));

      const all = store.query({ from: t0, until: t0 + 120_000 });
      assert.equal(all.samples, 110);
      assert.equal(all.profiles, 3);
      assert.deepEqual(folded(all.stacks), [
        'main (app.py:1);handle (app.py:1);memcpy 50',
        'main (app.py:1);serve (app.py:1);tcp_sendmsg 10',
        'run (app.py:1);crunch (app.py:1) 50',
      ]);
      // Frames come back whole.
      assert.deepEqual(all.stacks.find((s) => s.count === 50 && s.frames.length === 3)!.frames[1], py('handle'));

      assert.equal(store.query({ from: t0 + 30_000, until: t0 + 120_000 }).samples, 70);
      assert.equal(store.query({ from: t0, until: t0 + 120_000, pids: [200] }).samples, 50);
      assert.equal(store.query({ from: t0, until: t0 + 120_000, names: ['web'] }).samples, 60);
      assert.deepEqual(folded(store.query({ from: t0, until: t0 + 120_000, threads: ['web (101)'] }).stacks), ['main (app.py:1);serve (app.py:1);tcp_sendmsg 10']);
      assert.deepEqual(folded(store.query({ from: t0, until: t0 + 120_000, pids: [100], threadRoots: true }).stacks), [
        'web (100);main (app.py:1);handle (app.py:1);memcpy 50',
        'web (101);main (app.py:1);serve (app.py:1);tcp_sendmsg 10',
      ]);
      // Only Python frames: stacks equal without their native frames are one.
      assert.deepEqual(folded(store.query({ from: t0, until: t0 + 120_000, kinds: ['python'] }).stacks), [
        'main (app.py:1);handle (app.py:1) 50',
        'main (app.py:1);serve (app.py:1) 10',
        'run (app.py:1);crunch (app.py:1) 50',
      ]);
      assert.deepEqual(folded(store.query({ from: t0, until: t0 + 120_000, kinds: ['kernel'] }).stacks), [`${FILTERED_FRAME.name} 100`, 'tcp_sendmsg 10']);

      const processes = store.processes({ from: t0, until: t0 + 120_000 });
      assert.deepEqual(
        processes.map((p) => [p.name, p.pid, p.python, p.profiles, p.samples]),
        [
          ['web', 100, '3.11.7', 2, 60],
          ['worker', 200, '3.11.7', 1, 50],
        ],
      );
      assert.deepEqual(store.threads({ from: t0, until: t0 + 120_000 }), [
        { label: 'web (100)', samples: 50 },
        { label: 'web (101)', samples: 10 },
      ]);
      assert.deepEqual(store.timeline({ from: t0, until: t0 + 120_000 }, 2).counts, [40, 70]);
    } finally {
      store.close();
    }
  });

  test('a second process reads while the first writes (WAL), and the data survive reopening', () => {
    const dataDir = path.join(dir, 'b');
    const writer = ProfileStore.open(dataDir);
    const reader = ProfileStore.open(dataDir, { readonly: true });
    try {
      writer.add(record(1, 'a', t0, [{ thread: null, frames: [py('f')], count: 3 }]));
      assert.equal(reader.query({ from: t0, until: t0 + 1 }).samples, 3);
      writer.add(record(1, 'a', t0 + 1000, [{ thread: null, frames: [py('g')], count: 4 }]));
      assert.equal(reader.query({ from: t0, until: t0 + 2000 }).samples, 7);
    } finally {
      writer.close();
      reader.close();
    }
    const again = ProfileStore.open(dataDir, { readonly: true });
    assert.equal(again.query({ from: t0, until: t0 + 2000 }).samples, 7);
    again.close();
    assert.throws(
      () => ProfileStore.open(path.join(dir, 'missing'), { readonly: true }),
      (e: unknown) => e instanceof MixprofError && /^cannot open the profile store .*missing/.test(e.message) && /run `mixprof collect/.test(e.hint ?? ''),
    );
  });

  test('retention deletes old profiles; compaction merges a process\'s profiles per span and keeps every sample', () => {
    const store = ProfileStore.open(path.join(dir, 'c'));
    try {
      for (let i = 0; i < 12; i++) {
        store.add(record(1, 'a', t0 + i * 300_000, [{ thread: 'a (1)', frames: [py('f'), py(i % 2 ? 'g' : 'h')], count: 10 }]));
        store.add(record(2, 'b', t0 + i * 300_000, [{ thread: null, frames: [py('x')], count: 1 }]));
      }
      const before = folded(store.query({ from: t0, until: t0 + 3_600_000 }).stacks);
      // All twelve of each are in the hour starting at t0 (10:00).
      assert.equal(store.compact(t0 + 3_600_000, 3_600_000), 24);
      const after = store.query({ from: t0, until: t0 + 3_600_000 });
      assert.equal(after.profiles, 2);
      assert.deepEqual(folded(after.stacks), before);
      assert.equal(store.threads({ from: t0, until: t0 + 3_600_000 })[0]!.samples, 120);
      // Compacted profiles are not compacted again.
      assert.equal(store.compact(t0 + 3_600_000, 3_600_000), 0);
      assert.equal(store.deleteBefore(t0 + 3_600_000 + 1), 2);
      assert.equal(store.query({ from: 0, until: Date.now() }).samples, 0);
    } finally {
      store.close();
    }
  });
});
