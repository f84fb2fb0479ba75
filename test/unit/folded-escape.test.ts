/**
 * Folded names: every character a reader splits on, or a terminal acts on,
 * is escaped, and what is written reads back exactly, whatever the name
 * holds ("%3B" as text, '%', controls); files of older mixprof and of
 * tools that do not escape read as before.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { escapeFrameName, unescapeFrameName } from '../../src/output/folded-escape.js';
import { formatFolded } from '../../src/output/folded.js';
import { readFolded } from '../../src/output/folded-reader.js';
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';

/** Pieces names are made of: what readers split on, escapes as text, controls, a bidi override, and ordinary text. */
const PIECES = [';', '%', '%3B', '%0A', '%25', '%5F', '_[k]', '_[j]', '_', '%2', '%%', '%3b', '%20', '\n', '\r', '\r\n', '\0', '\x1b', '\x07', '\t', '\x7f', '\x9b', '\u202e', ' ', '(', ')', ':', 'é', '中', '🐍', 'a', 'B', '3', '0', 'F', '100%'];

/** A small deterministic generator (mulberry32): the same cases on every run. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomName(next: () => number): string {
  let name = '';
  const length = 1 + Math.floor(next() * 8);
  for (let i = 0; i < length; i++) name += next() < 0.2 ? String.fromCharCode(Math.floor(next() * 0x80)) : PIECES[Math.floor(next() * PIECES.length)]!;
  return name;
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

describe('folded names', () => {
  test('what is escaped: ; and every C0 control and DEL as %XX, a % only where it would read as a code', () => {
    assert.equal(escapeFrameName('a;b'), 'a%3Bb');
    assert.equal(escapeFrameName('x\r\n\0\x1b\x07\t\x7f'), 'x%0D%0A%00%1B%07%09%7F');
    assert.equal(escapeFrameName('%3B %0A %25 %1b %7F'), '%253B %250A %2525 %1b %257F');
    // A name ending as a kind mark does is not read back as that kind.
    assert.equal(escapeFrameName('spin_[k]'), 'spin%5F[k]');
    assert.equal(escapeFrameName('a_[j]b'), 'a_[j]b');
    // Ordinary uses of % stay readable; so do spaces, C1 and other Unicode (not split on by readers).
    for (const name of ['100%', '%s', '%d (fmt.py:3)', 'x%20y', '50% done', 'a b', 'é中🐍', '\x9b\u202e']) assert.equal(escapeFrameName(name), name);
  });

  test('every name reads back exactly (5000 random names made of what readers split on, escapes as text and controls)', () => {
    const next = random(17);
    for (let i = 0; i < 5000; i++) {
      const name = randomName(next);
      const escaped = escapeFrameName(name);
      assert.doesNotMatch(escaped, CONTROL, JSON.stringify(name));
      assert.ok(!escaped.includes(';'), JSON.stringify(name));
      assert.equal(unescapeFrameName(escaped), name, JSON.stringify(name));
    }
  });

  test('whole stacks round-trip through formatFolded and readFolded: frames, kinds and counts', () => {
    const next = random(4242);
    const kinds: Frame['kind'][] = ['native', 'kernel', 'python'];
    const stacks: StackCount[] = [];
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const frames: Frame[] = [];
      const depth = 1 + Math.floor(next() * 5);
      for (let d = 0; d < depth; d++) {
        const kind = kinds[Math.floor(next() * kinds.length)]!;
        frames.push(kind === 'python' ? { kind, name: `${randomName(next)} (app.py:${d + 1})` } : { kind, name: randomName(next) });
      }
      const key = JSON.stringify(frames);
      if (seen.has(key)) continue;
      seen.add(key);
      stacks.push({ frames, count: 1 + Math.floor(next() * 9) });
    }
    // With marks the kinds come from them; the names must come back whatever they hold.
    const text = formatFolded(stacks, { markPython: true });
    assert.doesNotMatch(text.replace(/\n/g, ''), CONTROL);
    const lines = text.split('\n').filter((l) => l !== '');
    assert.equal(lines.length, stacks.length, 'one line per stack: no name broke a line');
    const back = readFolded(text, 'x');
    const key = (s: StackCount): string => JSON.stringify([s.frames.map((f) => [f.kind, f.name]), s.count]);
    assert.deepEqual(back.map(key).sort(), stacks.map(key).sort());
  });

  test('thread and process roots holding newlines, ; and controls are one root frame each', () => {
    const stacks: StackCount[] = [{ frames: [{ kind: 'marker', name: 'web\n;\x1b[2K (12)' }, { kind: 'native', name: 'main' }], count: 3 }];
    const text = formatFolded(stacks, { markPython: false });
    assert.equal(text, 'web%0A%3B%1B[2K (12);main 3\n');
    const [stack] = readFolded(text, 'x');
    assert.deepEqual(stack!.frames, [{ kind: 'marker', name: 'web\n;\x1b[2K (12)' }, { kind: 'native', name: 'main' }]);
  });

  test('a Python name holding a line break is still read as Python: function, file and line', () => {
    const [stack] = readFolded('odd%0D%0Aname (app%1B.py:7) 2\n', 'x');
    assert.deepEqual(stack!.frames, [{ kind: 'python', name: 'odd\r\nname (app\x1b.py:7)', func: 'odd\r\nname', file: 'app\x1b.py', line: 7 }]);
  });

  test('files of older mixprof (only ; and newlines escaped) and of tools that do not escape read as before', () => {
    const [old] = readFolded('a%3Bb;c%0Ad;100% 4\n', 'old.folded');
    assert.deepEqual(old!.frames.map((f) => f.name), ['a;b', 'c\nd', '100%']);
    // stackcollapse-perf.pl and py-spy write names raw: a URL-encoded path or a format string stays as it is.
    const [raw] = readFolded('main (/srv/my%20app/app.py:3);printf%d;x%3b 2\n', 'perf.folded');
    assert.deepEqual(raw!.frames.map((f) => f.name), ['main (/srv/my%20app/app.py:3)', 'printf%d', 'x%3b']);
  });
});
