/** The collector's store on real SQLite files: what goes in comes out, by time, process, thread and frame kind. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { after, describe, test } from 'node:test';
import { MixprofError } from '../../src/errors.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { decodeSamples, encodeSamples } from '../../src/store/sample-blob.js';
import { FILTERED_FRAME, ProfileStore, ROLLUP_MS, STORE_FILE, type ProfileFilter, type ProfileRecord } from '../../src/store/profile-store.js';
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

  test('frames, stacks and thread labels no profile uses any more are deleted, and ids are never reused', () => {
    const dataDir = path.join(dir, 'garbage');
    const store = ProfileStore.open(dataDir);
    const reader = ProfileStore.open(dataDir, { readonly: true });
    try {
      store.add(record(1, 'a', t0, [
        { thread: 'old (1)', frames: [py('main'), py('gone'), native('memcpy')], count: 3 },
        { thread: 'kept (2)', frames: [py('main'), py('stays')], count: 4 },
        // The newest stack: unused after retention, but kept so that its id is not given again.
        { thread: 'old (1)', frames: [py('main'), py('newest')], count: 2 },
      ]));
      store.add(record(1, 'a', t0 + 3_600_000, [{ thread: 'kept (2)', frames: [py('main'), py('stays')], count: 5 }]));
      store.rollUp(t0 + 3_600_000);
      // The reader has read every frame and stack so far.
      assert.equal(reader.query({ from: t0, until: t0 + 7_200_000 }).samples, 14);
      assert.equal(store.deleteBefore(t0 + 60_000), 1);
      const dictionary = (): unknown => {
        const raw = new Database(path.join(dataDir, STORE_FILE), { readonly: true });
        const rows = { stacks: raw.prepare('SELECT COUNT(*) AS n FROM stacks').get(), frames: raw.prepare('SELECT name FROM frames ORDER BY id').all(), threads: raw.prepare('SELECT label FROM threads ORDER BY id').all() };
        raw.close();
        return JSON.parse(JSON.stringify(rows)) as unknown;
      };
      assert.deepEqual(store.collectGarbage(), { stacks: 1, frames: 2, threads: 1 });
      assert.deepEqual(dictionary(), { stacks: { n: 2 }, frames: [{ name: 'main (app.py:1)' }, { name: 'stays (app.py:1)' }, { name: 'newest (app.py:1)' }], threads: [{ label: 'kept (2)' }] });
      assert.deepEqual(store.collectGarbage(), { stacks: 0, frames: 0, threads: 0 });

      // New stacks and frames get new ids, and a deleted one comes back under a
      // new id: the reader, which remembers the old ids, reads them right.
      store.add(record(1, 'a', t0 + 7_200_000, [
        { thread: 'old (1)', frames: [py('main'), py('fresh'), native('read')], count: 6 },
        { thread: 'old (1)', frames: [py('main'), py('gone'), native('memcpy')], count: 7 },
        { thread: 'kept (2)', frames: [py('main'), py('stays')], count: 1 },
      ]));
      const late = reader.query({ from: t0 + 7_200_000, until: t0 + 7_300_000, threadRoots: true });
      assert.deepEqual(folded(late.stacks), ['kept (2);main (app.py:1);stays (app.py:1) 1', 'old (1);main (app.py:1);fresh (app.py:1);read 6', 'old (1);main (app.py:1);gone (app.py:1);memcpy 7']);
      assert.deepEqual(folded(store.query({ from: 0, until: t0 + 7_300_000 }).stacks), ['main (app.py:1);fresh (app.py:1);read 6', 'main (app.py:1);gone (app.py:1);memcpy 7', 'main (app.py:1);stays (app.py:1) 6']);
      assert.equal(store.integrity(), 'ok');
    } finally {
      reader.close();
      store.close();
    }
  });

  describe('hourly roll-ups', () => {
    const hour = Math.floor(t0 / ROLLUP_MS) * ROLLUP_MS;
    const stacksAt = (i: number, pid: number): ProfileRecord['stacks'] => [
      { thread: `p${pid} (${pid})`, frames: [py('main'), py(i % 3 ? 'a' : 'b'), native(i % 2 ? 'memcpy' : 'read')], count: 1 + (i % 5) },
      { thread: `p${pid} (${pid + 1})`, frames: [py('main'), py('c'), kernel('tcp_sendmsg')], count: 2 },
    ];
    /** Three hours of profiles every 5 minutes of two processes. */
    const fill = (store: ProfileStore): void => {
      for (let i = 0; i < 36; i++) for (const pid of [10, 20]) store.add(record(pid, `p${pid}`, hour + i * 300_000, stacksAt(i, pid)));
    };
    const filters: ProfileFilter[] = [
      { from: hour, until: hour + 3 * ROLLUP_MS },
      { from: hour + 600_000, until: hour + 3 * ROLLUP_MS - 600_000 },
      { from: hour, until: hour + 3 * ROLLUP_MS, pids: [20] },
      { from: hour, until: hour + 3 * ROLLUP_MS, threads: ['p10 (11)'] },
      { from: hour, until: hour + 3 * ROLLUP_MS, threadRoots: true },
      { from: hour, until: hour + 3 * ROLLUP_MS, kinds: ['python'] },
      { from: hour - ROLLUP_MS, until: hour + 5 * ROLLUP_MS, names: ['p10'], kinds: ['native', 'kernel'] },
    ];
    const answers = (store: ProfileStore): unknown[] => filters.map((f) => {
      const r = store.query(f);
      return [folded(r.stacks), r.samples, r.profiles, r.startMs, r.endMs, store.threads(f)];
    });

    test('queries answer the same from roll-ups as from the profiles, and a late profile or retention undoes a roll-up', () => {
      const store = ProfileStore.open(path.join(dir, 'rollups'));
      try {
        fill(store);
        const truth = answers(store);
        // Two processes, the two hours that ended; the third has not.
        assert.equal(store.rollUp(hour + 2 * ROLLUP_MS + 1000), 4);
        assert.equal(store.rollUp(hour + 2 * ROLLUP_MS + 1000), 0);
        assert.deepEqual(answers(store), truth);
        // A whole-day count, independently: every profile added once.
        const expected = 36 * 2 * 2 + [...Array(36).keys()].reduce((n, i) => n + 2 * (1 + (i % 5)), 0);
        assert.equal(store.query({ from: hour, until: hour + 3 * ROLLUP_MS }).samples, expected);
        // They are read: emptied behind the store's back, the two hours vanish from a query.
        const raw = new Database(path.join(dir, 'rollups', STORE_FILE));
        raw.exec("UPDATE rollups SET data = X''");
        assert.equal(store.query({ from: hour, until: hour + 3 * ROLLUP_MS }).samples, 2 * 12 * 2 + [...Array(12).keys()].reduce((n, i) => n + 2 * (1 + ((24 + i) % 5)), 0));
        raw.exec('DELETE FROM rollups');
        raw.close();
        assert.equal(store.query({ from: hour, until: hour + 3 * ROLLUP_MS }).samples, expected);
        assert.equal(store.rollUp(hour + 2 * ROLLUP_MS + 1000), 4);

        // A profile that arrives late for a rolled-up hour is counted, and the hour is rolled up again.
        store.add(record(10, 'p10', hour + 1000, [{ thread: null, frames: [py('late')], count: 7 }]));
        const whole = store.query({ from: hour, until: hour + 3 * ROLLUP_MS });
        assert.equal(whole.samples, expected + 7);
        assert.equal(whole.profiles, 73);
        assert.equal(store.rollUp(hour + 2 * ROLLUP_MS + 1000), 1);
        assert.equal(store.query({ from: hour, until: hour + 3 * ROLLUP_MS }).samples, expected + 7);

        // Retention cutting into an hour: the rest of it is still counted right.
        const cut = hour + ROLLUP_MS + 1_800_000;
        store.deleteBefore(cut);
        const remaining = store.query({ from: hour, until: hour + 3 * ROLLUP_MS });
        const kept = [...Array(36).keys()].filter((i) => hour + i * 300_000 + 10_000 >= cut);
        assert.equal(remaining.samples, kept.reduce((n, i) => n + 2 * (2 + 1 + (i % 5)), 0));
        assert.equal(remaining.profiles, kept.length * 2);

        // Compaction stands in for the hours it merges (seen through whole hours:
        // a compacted profile has no finer times; nor does it count the profiles it merged).
        store.rollUp(hour + 3 * ROLLUP_MS);
        const wholeHours = (store: ProfileStore): unknown[] => answers(store).filter((_, i) => i !== 1).map((a) => (a as unknown[]).filter((_, i) => i !== 2));
        const beforeCompaction = wholeHours(store);
        assert.ok(store.compact(hour + 3 * ROLLUP_MS, ROLLUP_MS) > 0);
        assert.deepEqual(wholeHours(store), beforeCompaction);
        assert.equal(store.rollUp(hour + 3 * ROLLUP_MS), 0);
      } finally {
        store.close();
      }
    });

    test('a store of schema 1 (no roll-ups) is read as it is, and upgraded by a collector', () => {
      const dataDir = path.join(dir, 'schema1');
      const store = ProfileStore.open(dataDir);
      fill(store);
      const truth = answers(store);
      store.close();
      const raw = new Database(path.join(dataDir, STORE_FILE));
      raw.exec("DROP TABLE rollups; UPDATE meta SET value = '1' WHERE key = 'schema'");
      raw.close();

      const reader = ProfileStore.open(dataDir, { readonly: true });
      assert.deepEqual(answers(reader), truth);
      const writer = ProfileStore.open(dataDir);
      assert.equal(writer.rollUp(hour + 3 * ROLLUP_MS), 6);
      assert.deepEqual(answers(writer), truth);
      writer.close();
      reader.close();
      const upgraded = ProfileStore.open(dataDir, { readonly: true });
      assert.deepEqual(answers(upgraded), truth);
      upgraded.close();

      const newer = new Database(path.join(dataDir, STORE_FILE));
      newer.exec("UPDATE meta SET value = '3' WHERE key = 'schema'");
      newer.close();
      for (const readonly of [true, false]) {
        assert.throws(() => ProfileStore.open(dataDir, { readonly }), (e: unknown) => e instanceof MixprofError && /has schema 3; this mixprof reads 2/.test(e.message));
      }
    });
  });
});
