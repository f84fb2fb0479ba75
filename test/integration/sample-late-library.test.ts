/** A library the target loads after sampling started still gets named frames. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { before, test } from 'node:test';
import { parseFolded } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { startSampling, waitForCpuSeconds } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

before(assertRoot);

function waitForLine(stream: NodeJS.ReadableStream, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${pattern} in ${timeoutMs} ms`)), timeoutMs);
    const lines = createInterface({ input: stream });
    lines.on('line', (line) => {
      if (pattern.test(line)) {
        clearTimeout(timer);
        lines.close();
        resolve();
      }
    });
  });
}

test('frames in a library loaded after attach are named', async () => {
  const python = pyenvPython('3.11.7');
  // -S: no site hooks, which could import bz2 at start-up.
  const target = spawn(python.executable, ['-S', path.join(WORKLOADS, 'late-library.py')], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    await waitForLine(target.stdout!, /^READY/, 30_000);
    const run = await startSampling(['sample', '-x', String(target.pid), '-F', '199', '--mark-python']);
    const loaded = waitForLine(target.stdout!, /^LOADED/, 30_000);
    target.stdin!.write('load\n');
    await loaded;
    // Then a second of its CPU time in the new library (199 samples), however busy the machine.
    await waitForCpuSeconds(target.pid!, 1, 120_000);
    const r = await run.stop();
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    const bz2 = stacks.filter((s) => s.frames.some((f) => /bz2|BZ2/.test(f) && !f.endsWith('_[j]')));
    const samples = bz2.reduce((n, s) => n + s.count, 0);
    assert.ok(samples > 50, `${samples} samples in libbz2/_bz2 frames; e.g. ${stacks.slice(0, 3).map((s) => s.frames.slice(-2).join(';')).join(' | ')}`);
  } finally {
    target.kill('SIGKILL');
  }
});
