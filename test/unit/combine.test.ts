import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { combineStacks, combineStats } from '../../src/profile/combine.js';
import { emptyStats, type Profile, type ProfileStats } from '../../src/profile/profile.js';
import { DescendantWatcher, descendants, parseStat } from '../../src/target/descendants.js';

function stats(samples: number): ProfileStats {
  return { ...emptyStats(), samples, threads: 1, withPython: samples, lostEvents: 1 };
}
function profile(stacks: [string[], number][]): Profile {
  return { stacks: stacks.map(([names, count]) => ({ frames: names.map((name) => ({ kind: 'native' as const, name })), count })), stats: stats(stacks.reduce((n, s) => n + s[1], 0)), threads: new Map() };
}

describe('combining processes', () => {
  const a = { pid: 10, comm: 'gunicorn', profile: profile([[['main', 'work'], 3], [['main'], 1]]) };
  const b = { pid: 11, comm: 'gunicorn', profile: profile([[['main', 'work'], 2]]) };

  test('equal stacks of different processes add up', () => {
    const stacks = combineStacks([a, b], false);
    assert.deepEqual(stacks.map((s) => [s.frames.map((f) => f.name).join(';'), s.count]), [['main;work', 5], ['main', 1]]);
  });

  test('with process roots each process keeps its own tree', () => {
    const stacks = combineStacks([a, b], true);
    assert.deepEqual(stacks.map((s) => [s.frames.map((f) => f.name).join(';'), s.count]), [['gunicorn (10);main;work', 3], ['gunicorn (10);main', 1], ['gunicorn (11);main;work', 2]]);
    assert.equal(stacks[0]!.frames[0]!.kind, 'marker');
  });

  test('stats add up', () => {
    const total = combineStats([a.profile.stats, b.profile.stats]);
    assert.equal(total.samples, 6);
    assert.equal(total.lostEvents, 2);
    assert.equal(total.threads, 2);
  });
});

describe('finding descendants', () => {
  test('/proc/PID/stat is read past a comm with spaces and parentheses', () => {
    const text = '4242 (my (odd) name) S 4200 4242 4200 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 200 ...';
    assert.deepEqual(parseStat(4242, text), { pid: 4242, ppid: 4200, start: 987654 });
    assert.equal(parseStat(1, 'garbage'), null);
  });

  test('children, grandchildren, and nothing else', () => {
    const table = [
      { pid: 1, ppid: 0, start: 1 },
      { pid: 10, ppid: 1, start: 2 },
      { pid: 11, ppid: 10, start: 3 },
      { pid: 12, ppid: 11, start: 4 },
      { pid: 13, ppid: 1, start: 5 },
    ];
    assert.deepEqual(descendants(table, [10]).map((e) => e.pid), [11, 12]);
    // A root is not its own descendant.
    assert.deepEqual(descendants(table, [10, 11]).map((e) => e.pid), [12]);
    assert.deepEqual(descendants(table, [13]), []);
  });

  test('a new descendant is named once, on the second scan that sees it; a reused PID is a new process', () => {
    const watcher = new DescendantWatcher([10]);
    const parent = { pid: 10, ppid: 1, start: 1 };
    assert.deepEqual(watcher.scan([parent, { pid: 11, ppid: 10, start: 5 }]), []);
    assert.deepEqual(watcher.scan([parent, { pid: 11, ppid: 10, start: 5 }, { pid: 12, ppid: 10, start: 6 }]).map((e) => e.pid), [11]);
    assert.deepEqual(watcher.scan([parent, { pid: 11, ppid: 10, start: 5 }, { pid: 12, ppid: 10, start: 6 }]).map((e) => e.pid), [12]);
    assert.deepEqual(watcher.scan([parent, { pid: 11, ppid: 10, start: 5 }]), []);
    // PID 11 exited and was reused by a new child.
    assert.deepEqual(watcher.scan([parent, { pid: 11, ppid: 10, start: 9 }]), []);
    assert.deepEqual(watcher.scan([parent, { pid: 11, ppid: 10, start: 9 }]).map((e) => [e.pid, e.start]), [[11, 9]]);
  });
});
