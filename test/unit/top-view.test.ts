/** `mixprof top`'s pure parts: the function table and call trees, the sliding window, the screen. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { callTrees, sortFunctions, viewRows, type Row } from '../../src/top/function-view.js';
import { SampleWindow } from '../../src/top/sample-window.js';
import { CHROME_LINES, renderFrame, scrollFor, type Header } from '../../src/top/screen.js';
import { countFunctions } from '../../src/profile/function-counts.js';

const py = (name: string, line = 1): Frame => ({ kind: 'python', name: `${name} (app.py:${line})`, func: name, file: '/srv/app.py', line });
const native = (name: string): Frame => ({ kind: 'native', name, file: '/usr/lib/x86_64-linux-gnu/libc.so.6' });
const kernel = (name: string): Frame => ({ kind: 'kernel', name });
const thread = (label: string): Frame => ({ kind: 'marker', name: label });

// main -> handle -> parse (own 30) / memcpy (20); main -> idle -> read -> kernel (10); recursion: walk -> walk -> walk (40)
const STACKS: StackCount[] = [
  { frames: [thread('web (1)'), py('main'), py('handle', 3), py('parse')], count: 30 },
  { frames: [thread('web (1)'), py('main'), py('handle', 4), native('memcpy')], count: 20 },
  { frames: [thread('io (2)'), py('main'), py('idle'), native('read'), kernel('ksys_read')], count: 10 },
  { frames: [thread('web (1)'), py('main'), py('walk', 1), py('walk', 2), py('walk', 3)], count: 40 },
];

describe('the function table', () => {
  test('own and total per function: Python lines merged, recursion counted once, thread roots left out', () => {
    const { functions, samples } = countFunctions(STACKS);
    assert.equal(samples, 100);
    const byName = new Map(functions.map((f) => [f.name, f]));
    assert.deepEqual([byName.get('main (app.py)')!.self, byName.get('main (app.py)')!.total], [0, 100]);
    assert.deepEqual([byName.get('handle (app.py)')!.self, byName.get('handle (app.py)')!.total], [0, 50]);
    assert.deepEqual([byName.get('walk (app.py)')!.self, byName.get('walk (app.py)')!.total], [40, 40]);
    assert.deepEqual([byName.get('ksys_read')!.self, byName.get('ksys_read')!.kind], [10, 'kernel']);
    assert.equal(byName.has('web (1)'), false);
  });

  test('sorted by own, total or name; ties broken the same way every time', () => {
    const { functions } = countFunctions(STACKS);
    assert.deepEqual(sortFunctions(functions, 'own%').slice(0, 3).map((f) => f.name), ['walk (app.py)', 'parse (app.py)', 'memcpy']);
    assert.deepEqual(sortFunctions(functions, 'own').slice(0, 3).map((f) => f.name), ['walk (app.py)', 'parse (app.py)', 'memcpy']);
    assert.deepEqual(sortFunctions(functions, 'total%').slice(0, 3).map((f) => f.name), ['main (app.py)', 'handle (app.py)', 'walk (app.py)']);
    assert.deepEqual(sortFunctions(functions, 'function').map((f) => f.name), ['handle (app.py)', 'idle (app.py)', 'ksys_read', 'main (app.py)', 'memcpy', 'parse (app.py)', 'read', 'walk (app.py)']);
  });

  test('call trees: callees below the outermost call, callers above the innermost, merged by function', () => {
    const walk = callTrees(STACKS, 'python:walk (app.py)');
    // Recursion: walk calls walk calls walk, 40 samples each level, counted once at the top.
    assert.equal(walk.callees.count, 40);
    assert.deepEqual([...walk.callees.children.values()].map((c) => [c.name, c.count]), [['walk (app.py)', 40]]);
    assert.deepEqual([...walk.callers.children.values()].map((c) => [c.name, c.count]), [['walk (app.py)', 40]]);
    const main = callTrees(STACKS, 'python:main (app.py)');
    assert.deepEqual([...main.callees.children.values()].map((c) => [c.name, c.count]), [['handle (app.py)', 50], ['idle (app.py)', 10], ['walk (app.py)', 40]]);
    const handle = main.callees.children.get('python:handle (app.py)')!;
    assert.deepEqual([...handle.children.values()].map((c) => [c.name, c.count]), [['parse (app.py)', 30], ['memcpy', 20]]);
    // main is a root: no callers (the thread roots are not functions).
    assert.equal(main.callers.children.size, 0);
    const read = callTrees(STACKS, 'native:read');
    assert.deepEqual([...read.callers.children.values()].map((c) => c.name), ['idle (app.py)']);
    assert.deepEqual([...read.callers.children.get('python:idle (app.py)')!.children.values()].map((c) => c.name), ['main (app.py)']);
  });

  test('rows: a function opens into "calls" and "called by" trees, open two levels deep; toggles close and open rows', () => {
    const closed = viewRows(STACKS, { sort: 'total%', toggled: new Set() });
    assert.ok(closed.rows.every((r) => r.type === 'function' && !r.open));
    assert.equal(closed.samples, 100);
    const handleId = closed.rows.find((r) => r.label === 'handle (app.py)')!.id;
    const open = viewRows(STACKS, { sort: 'total%', toggled: new Set([handleId]) });
    const at = open.rows.findIndex((r) => r.id === handleId);
    const shown = (rows: readonly Row[]): string[] => rows.map((r) => `${'  '.repeat(r.depth)}${r.label}${r.total === null ? '' : ` ${r.total}`}`);
    assert.deepEqual(shown(open.rows.slice(at, at + 7)), [
      'handle (app.py) 50',
      '  calls',
      '    parse (app.py) 30',
      '    memcpy (libc.so.6) 20',
      '  called by',
      '    main (app.py) 50',
      'walk (app.py) 40',
    ]);
    // Closing "calls" hides its tree.
    const callsId = open.rows[at + 1]!.id;
    const fewer = viewRows(STACKS, { sort: 'total%', toggled: new Set([handleId, callsId]) });
    assert.deepEqual(shown(fewer.rows.slice(at, at + 4)), ['handle (app.py) 50', '  calls', '  called by', '    main (app.py) 50']);
    // A leaf has nothing to call.
    const parseId = closed.rows.find((r) => r.label === 'parse (app.py)')!.id;
    const leaf = viewRows(STACKS, { sort: 'total%', toggled: new Set([parseId]) });
    const p = leaf.rows.findIndex((r) => r.id === parseId);
    assert.equal(leaf.rows[p + 1]!.label, 'calls nothing: all its samples are its own');
    assert.equal(leaf.rows[p + 1]!.openable, false);
  });
});

describe('the sliding window', () => {
  /** What one second brought: a samples of a(), b samples of b(). */
  const second = (a: number, b: number): StackCount[] => [
    { frames: [py('a')], count: a },
    { frames: [py('b')], count: b },
  ].filter((s) => s.count > 0);
  const counts = (w: SampleWindow): Record<string, number> => Object.fromEntries(w.current().map((s) => [s.frames[0]!.name, s.count]));

  test('adds up the seconds of the last N; all since the start until the window fills', () => {
    const w = new SampleWindow(10_000, 0);
    w.add(second(5, 0), 1000);
    assert.deepEqual(counts(w), { 'a (app.py:1)': 5 });
    assert.equal(w.coveredMs(), 1000);
    // Second t brings t samples of a, and from second 7 on one of b.
    for (let t = 2; t <= 12; t++) w.add(second(t, t >= 7 ? 1 : 0), t * 1000);
    // At 12 s, the seconds ending at 3..12 s: a 3+...+12, b 6.
    assert.deepEqual(counts(w), { 'a (app.py:1)': 75, 'b (app.py:1)': 6 });
    assert.equal(w.coveredMs(), 10_000);
    w.add(second(0, 0), 13_000);
    assert.deepEqual(counts(w), { 'a (app.py:1)': 72, 'b (app.py:1)': 6 });
    // Adding up does not change what was handed in.
    const given = second(4, 0);
    w.add(given, 14_000);
    w.current();
    assert.equal(given[0]!.count, 4);
  });

  test('reset starts from now; cumulative counts run from the start', () => {
    const w = new SampleWindow(10_000, 0);
    w.add(second(5, 1), 1000);
    w.add(second(5, 1), 2000);
    w.reset();
    assert.deepEqual(counts(w), {});
    w.add(second(2, 0), 3000);
    assert.deepEqual(counts(w), { 'a (app.py:1)': 2 });
    assert.equal(w.coveredMs(), 1000);

    const c = new SampleWindow(null, 0);
    for (let t = 1; t <= 30; t++) c.add(second(1, 0), t * 1000);
    assert.deepEqual(counts(c), { 'a (app.py:1)': 30 });
    assert.equal(c.coveredMs(), 30_000);
    c.reset();
    c.add(second(1, 4), 31_000);
    assert.deepEqual(counts(c), { 'a (app.py:1)': 1, 'b (app.py:1)': 4 });
    assert.equal(c.coveredMs(), 1000);
  });
});

describe('the screen', () => {
  const header: Header = { shown: { kind: 'process', pid: 42, comm: 'python3', python: '3.12.1', hz: 99 }, threads: 3, lost: 0, samples: 100, coveredMs: 10_000, windowMs: 10_000, sort: 'total%', thread: null, paused: false, ended: null };
  const plain = (line: string): string => line.replace(new RegExp(String.raw`\u001b\[\d+m`, 'g'), '');

  test('every line is exactly as wide as the terminal; the header says what is shown; the cursor row is reversed', () => {
    const { rows } = viewRows(STACKS, { sort: 'total%', toggled: new Set() });
    const lines = renderFrame({ header, rows, cursor: 1, scroll: 0, message: '' }, 100, 20);
    assert.equal(lines.length, 20);
    for (const line of lines.slice(0, -1)) assert.ok(plain(line).length === 100 || plain(line) === '', `"${plain(line)}"`);
    assert.match(lines[0]!, /^mixprof top - process 42 \(python3\) · Python 3\.12\.1 · 3 threads · 99 Hz · lost 0/);
    assert.match(lines[1]!, /^100 samples \(last 10 s\) · sort TOTAL% · thread: all/);
    assert.match(plain(lines[2]!), /^\s+OWN%\s+TOTAL%▼\s+OWN\s+TOTAL\s+FUNCTION/);
    assert.match(plain(lines[3]!), /^\s+0\.0%\s+100\.0%\s+0\s+100\s+▸ main \(app\.py\) \[py\]/);
    assert.ok(lines[4]!.startsWith('\u001b[7m') && /handle \(app\.py\)/.test(lines[4]!));
    assert.match(lines.at(-1)!, /^q quit/);
    // Long names are cut to fit.
    const narrow = renderFrame({ header, rows, cursor: 0, scroll: 0, message: 'wrote x' }, 50, 10);
    for (const line of narrow.slice(0, -1)) assert.ok(plain(line).length <= 50);
    assert.equal(narrow.at(-1)!.trim(), 'wrote x');
  });

  test('scrolling keeps the cursor in view', () => {
    const room = 20 - CHROME_LINES;
    assert.equal(scrollFor(0, 0, 100, 20), 0);
    assert.equal(scrollFor(room, 0, 100, 20), 1);
    assert.equal(scrollFor(50, 0, 100, 20), 50 - room + 1);
    assert.equal(scrollFor(10, 40, 100, 20), 10);
    // Rows shrank under a scrolled view: it scrolls back.
    assert.equal(scrollFor(3, 40, 10, 20), 0);
  });
});
