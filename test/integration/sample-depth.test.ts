/** Python stacks of 128 frames come out whole; deeper ones are marked truncated. */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { sampleForCpu, startWorkload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

before(assertRoot);

async function sampleDeep(depth: number): Promise<{ frames: string[]; count: number }[]> {
  const python = pyenvPython('3.11.7');
  const w = await startWorkload<{ depth: number }>(python.executable, [path.join(WORKLOADS, 'deep.py'), String(depth)]);
  try {
    assert.equal(w.ready.depth, depth);
    // Until it has run a second on a CPU (199 samples), however busy the machine.
    const r = await sampleForCpu(['sample', '-x', String(w.pid), '-F', '199', '--mark-python'], w.pid, 1);
    assert.equal(r.exitCode, 0, r.stderr);
    return parseFolded(r.stdout);
  } finally {
    await w.stop();
  }
}

test('a 128-frame Python stack comes out whole', async () => {
  const stacks = await sampleDeep(128);
  const total = stacks.reduce((n, s) => n + s.count, 0);
  const whole = stacks.filter((s) => {
    const names = pythonNames(s.frames);
    return names.length === 128 && names[0] === '<module>' && names.slice(1).every((n) => n === 'deep');
  });
  assert.ok(total > 100, `${total} samples`);
  assert.ok(whole.reduce((n, s) => n + s.count, 0) / total >= 0.95, stacks.slice(0, 2).map((s) => `${pythonNames(s.frames).length} frames`).join(', '));
  assert.ok(stacks.every((s) => !s.frames.includes('[truncated python stack]')));
});

test('a 200-frame Python stack is cut at 128 frames and marked truncated at its root', async () => {
  const stacks = await sampleDeep(200);
  const total = stacks.reduce((n, s) => n + s.count, 0);
  const marked = stacks.filter((s) => s.frames[0] === '[truncated python stack]' && pythonNames(s.frames).length === 128);
  assert.ok(marked.reduce((n, s) => n + s.count, 0) / total >= 0.95, stacks.slice(0, 2).map((s) => s.frames.slice(0, 2).join(';')).join(', '));
});
