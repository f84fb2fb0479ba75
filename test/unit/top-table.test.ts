import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatTopTable } from '../../src/output/top-table.js';
import { topFunctions } from '../../src/profile/function-counts.js';
import { formatProgress } from '../../src/output/status-line.js';
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';

const py = (name: string): Frame => ({ kind: 'python', name });
const c = (name: string): Frame => ({ kind: 'native', name });

const STACKS: StackCount[] = [
  { frames: [{ kind: 'marker', name: 'python3 (10)' }, c('_start'), py('main (app.py:3)'), py('work (app.py:10)')], count: 6 },
  { frames: [{ kind: 'marker', name: 'python3 (10)' }, c('_start'), py('main (app.py:3)'), py('work (app.py:11)'), c('memcpy')], count: 3 },
  { frames: [c('_start'), py('main (app.py:3)'), py('fib (app.py:20)'), py('fib (app.py:21)'), py('fib (app.py:21)')], count: 1 },
];

describe('the top-functions table', () => {
  test('self counts the innermost frame, total each function once per sample, over all its lines', () => {
    const { rows, samples } = topFunctions(STACKS, 10);
    assert.equal(samples, 10);
    const byName = Object.fromEntries(rows.map((r) => [r.name, [r.self, r.total]]));
    assert.deepEqual(byName, { 'work (app.py)': [6, 9], 'memcpy': [3, 3], 'fib (app.py)': [1, 1] });
    assert.deepEqual(rows.map((r) => r.name), ['work (app.py)', 'memcpy', 'fib (app.py)']);
  });

  test('thread and process roots are not functions; the limit cuts the list', () => {
    const { rows } = topFunctions(STACKS, 2);
    assert.equal(rows.length, 2);
    assert.ok(rows.every((r) => r.kind !== 'marker'));
  });

  test('printed with percentages, kinds and a header', () => {
    const lines = formatTopTable(STACKS, 3, 80);
    assert.match(lines[0]!, /SELF%\s+SELF\s+TOTAL%\s+TOTAL\s+FUNCTION/);
    assert.match(lines[1]!, /60\.0%\s+6\s+90\.0%\s+9\s+work \(app\.py\) \[py\]$/);
    assert.match(lines[2]!, /30\.0%\s+3\s+30\.0%\s+3\s+memcpy \[native\]$/);
    assert.equal(formatTopTable([], 5).length, 0);
  });

  test('long names are clipped to the width', () => {
    const long = [{ frames: [py(`${'x'.repeat(300)} (app.py:1)`)], count: 1 }];
    for (const line of formatTopTable(long, 1, 80)) assert.ok(line.length <= 80, line);
  });
});

describe('the status line', () => {
  test('says time, samples, lost events and the hottest function, within the width', () => {
    const line = formatProgress({ elapsedSeconds: 12.4, durationSeconds: 60, samples: 1234, lost: 0, processes: 1, hottest: { name: 'work', share: 0.61 } }, 200);
    assert.equal(line, 'mixprof: 12/60 s | 1234 samples | 0 lost | hottest: work 61%');
    const open = formatProgress({ elapsedSeconds: 3, durationSeconds: null, samples: 5, lost: 2, processes: 3, hottest: null }, 200);
    assert.equal(open, 'mixprof: 3 s | 5 samples | 2 lost | 3 processes');
    assert.ok(formatProgress({ elapsedSeconds: 3, durationSeconds: null, samples: 5, lost: 2, processes: 1, hottest: { name: 'y'.repeat(500), share: 1 } }, 40).length < 40);
    // A name too long for the terminal is shortened; its share stays.
    const long = formatProgress({ elapsedSeconds: 1, durationSeconds: 2.5, samples: 78, lost: 0, processes: 1, hottest: { name: 'make_closure.<locals>.inner_function_with_a_long_name', share: 0.34 } }, 80);
    assert.ok(long.length < 80, long);
    assert.match(long, /^mixprof: 1\/2\.5 s \| 78 samples \| 0 lost \| hottest: make_closure\.<locals>\.\S*\.\. 34%$/);
  });
});
