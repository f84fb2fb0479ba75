import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatReport } from '../../src/output/report.js';
import { emptyStats } from '../../src/profile/profile.js';
import { missedThreads, readThreadsCpu, type ThreadCpu } from '../../src/session/thread-cpu.js';
import { splitStat } from '../../src/target/proc-stat.js';

const cpu = (entries: [number, string, number][]): Map<number, ThreadCpu> => new Map(entries.map(([tid, comm, seconds]) => [tid, { comm, seconds }]));

describe('threads the sampler missed', () => {
  const before = cpu([
    [1, 'main', 0.5],
    [2, 'worker', 10],
    [3, 'idle', 1],
    [4, 'ended', 3],
  ]);
  const after = cpu([
    [1, 'main', 1.5],
    [2, 'worker', 14],
    [3, 'idle', 1.05],
    [5, 'new', 9],
  ]);
  const check = { hz: 100, seconds: 5, mode: 'cpu' as const };

  test('a thread that ran a noticeable share of the run with (almost) no samples is missed; one with its share is not', () => {
    const missed = missedThreads(before, after, new Map([[1, 95]]), check);
    assert.deepEqual(
      missed.map((t) => [t.tid, t.comm, t.samples, Math.round(t.expected)]),
      [[2, 'worker', 0, 400]],
    );
    // A fifth of its samples is not "almost none".
    assert.deepEqual(missedThreads(before, after, new Map([[1, 95], [2, 80]]), check), []);
    assert.equal(missedThreads(before, after, new Map([[1, 95], [2, 79]]), check).length, 1);
  });

  test('threads that came or went during the run, and threads that hardly ran, are not judged', () => {
    const tids = missedThreads(before, after, new Map(), check).map((t) => t.tid);
    // 1 ran 1 s of 5 (a fifth, above a tenth): missed without samples; 3 ran 0.05 s; 4 ended; 5 started.
    assert.deepEqual(tids, [2, 1]);
  });

  test('wall-clock mode expects every thread there throughout to be sampled all along', () => {
    const missed = missedThreads(before, after, new Map([[1, 500], [2, 480]]), { ...check, mode: 'wall' });
    assert.deepEqual(missed.map((t) => t.tid), [3]);
  });

  test('the warning names at most three threads, counts the rest, and suggests the other unwinder (CPU mode, in wall-clock mode)', () => {
    const many = [10, 11, 12, 13, 14].map((tid) => ({ tid, comm: `w${tid}`, seconds: 2, samples: 0, expected: 198 }));
    const context = { hz: 99, seconds: 2, python: true, noFramePointers: null, stopReason: 'interrupted', stackErrors: 0, unwind: 'fp' as const, mode: 'cpu' as const };
    const lines = formatReport({ ...emptyStats(), samples: 10 }, { ...context, missedThreads: many }).filter((l) => l.includes('missed'));
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /missed 5 threads that ran: w10 \(10: 2\.0 s on CPU, 0 of ~198 samples\), w11 .*, w12 .* and 2 more; .*--unwind dwarf/);
    assert.doesNotMatch(lines[0]!, /w13/);
    const one = formatReport({ ...emptyStats(), samples: 10 }, { ...context, unwind: 'dwarf', missedThreads: many.slice(0, 1) }).join('\n');
    assert.match(one, /missed a thread that ran: w10 .*--unwind fp may see it/);
    assert.doesNotMatch(formatReport({ ...emptyStats(), samples: 10 }, { ...context, missedThreads: [] }).join('\n'), /missed/);
    // Wall-clock mode runs only the DWARF sampler: CPU mode is the other way to look.
    const wall = formatReport({ ...emptyStats(), samples: 10 }, { ...context, unwind: 'dwarf', mode: 'wall', missedThreads: many.slice(0, 2) }).join('\n');
    assert.match(wall, /2\.0 s there, .*Sampling in CPU mode \(without --mode wall\) may see them/);
    assert.doesNotMatch(wall, /--unwind/);
  });
});

describe('/proc stat lines', () => {
  test('comm may hold spaces and parentheses; the fields after it are counted from state', () => {
    const stat = splitStat('42 (a (b) c) R 1 42 42 0 -1 4194304 0 0 0 0 150 25 0 0 20 0 3 0 1000');
    assert.equal(stat?.comm, 'a (b) c');
    assert.equal(stat?.fields[0], 'R');
    assert.deepEqual([stat?.fields[11], stat?.fields[12]], ['150', '25']);
    assert.equal(splitStat('garbage'), null);
  });

  test("this process's threads are read, with CPU time that grows as they run", () => {
    const first = readThreadsCpu(process.pid);
    assert.ok(first.has(process.pid), [...first.keys()].join(','));
    const until = Date.now() + 50;
    while (Date.now() < until);
    const second = readThreadsCpu(process.pid);
    assert.ok(second.get(process.pid)!.seconds > first.get(process.pid)!.seconds);
    assert.equal(readThreadsCpu(2 ** 22 + 1).size, 0);
  });
});
