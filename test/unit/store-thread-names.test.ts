/**
 * A thread names itself (prctl, /proc/self/task/TID/comm): its name may hold
 * a newline, ';' or controls. The collector keeps the thread root apart from
 * the frames as the store's thread label; a query with thread roots gives it
 * back whole, as one root frame, escaped in folded text and read back intact.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { splitThread } from '../../src/collect/collector.js';
import { formatFolded } from '../../src/output/folded.js';
import { readFolded } from '../../src/output/folded-reader.js';
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { ProfileStore } from '../../src/store/profile-store.js';

const dir = mkdtempSync(path.join(tmpdir(), 'mixprof-thread-names-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('[S25] a thread whose name holds a newline, ; and controls is stored under its whole label and comes back as one root frame', () => {
  const t0 = Date.parse('2026-11-22T10:00:00Z');
  const evil = 'w\n;\r\x1b]0;X\x07 %3B (41)';
  const plain = 'worker (42)';
  const main: Frame = { kind: 'python', name: 'main (app.py:1)', func: 'main', file: 'app.py', line: 1 };
  const spin: Frame = { kind: 'python', name: 'spin (app.py:5)', func: 'spin', file: 'app.py', line: 5 };
  // As the profile builder writes them with --threads: the thread's root first.
  const built: StackCount[] = [
    { frames: [{ kind: 'marker', name: evil }, main, spin], count: 30 },
    { frames: [{ kind: 'marker', name: plain }, main], count: 10 },
  ];
  const stored = built.map(splitThread);
  assert.deepEqual(stored.map((s) => [s.thread, s.frames]), [[evil, [main, spin]], [plain, [main]]]);

  const store = ProfileStore.open(path.join(dir, 'store'));
  try {
    store.add({ process: { host: 'h', pid: 41, name: 'python3', cmdline: 'python3 app.py', python: '3.12.1' }, startMs: t0, endMs: t0 + 10_000, hz: 99, mode: 'cpu', lostEvents: 0, stacks: stored });
    const range = { from: t0, until: t0 + 60_000 };
    assert.deepEqual(store.threads(range), [{ label: evil, samples: 30 }, { label: plain, samples: 10 }]);
    // Without thread roots the label is no frame; picked by its label, only its samples.
    assert.ok(store.query(range).stacks.every((s) => s.frames[0]!.name === main.name));
    assert.equal(store.query({ ...range, threads: [evil] }).samples, 30);

    const rooted = store.query({ ...range, threadRoots: true });
    const text = formatFolded(rooted.stacks, { markPython: false });
    assert.equal(text, 'w%0A%3B%0D%1B]0%3BX%07 %253B (41);main (app.py:1);spin (app.py:5) 30\nworker (42);main (app.py:1) 10\n');
    const back = readFolded(text, 'store');
    assert.deepEqual(
      back.map((s) => [s.frames.map((f) => `${f.kind}:${f.name}`), s.count]),
      [
        [[`marker:${evil}`, 'python:main (app.py:1)', 'python:spin (app.py:5)'], 30],
        [['marker:worker (42)', 'python:main (app.py:1)'], 10],
      ],
    );
  } finally {
    store.close();
  }
});
