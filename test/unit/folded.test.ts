import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatFolded } from '../../src/output/folded.js';

test('folded lines: root first, kernel _[k], Python _[j] on request, ; escaped, counts merged', () => {
  const stacks = [
    { frames: [{ kind: 'python', name: 'main (app.py:3)' }, { kind: 'native', name: 'read' }, { kind: 'kernel', name: 'vfs_read' }] as const, count: 2 },
    { frames: [{ kind: 'python', name: 'main (app.py:3)' }, { kind: 'native', name: 'read' }, { kind: 'kernel', name: 'vfs_read' }] as const, count: 3 },
    { frames: [{ kind: 'python', name: 'odd;name (x.py:1)' }] as const, count: 1 },
  ];
  assert.equal(formatFolded(stacks, { markPython: false }), 'main (app.py:3);read;vfs_read_[k] 5\nodd%3Bname (x.py:1) 1\n');
  assert.equal(formatFolded(stacks, { markPython: true }), 'main (app.py:3)_[j];read;vfs_read_[k] 5\nodd%3Bname (x.py:1)_[j] 1\n');
});
