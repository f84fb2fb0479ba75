/**
 * The report's warnings name their true cause. A Python program whose time
 * goes to a library routine without call frame information (hand-written
 * assembly, as OpenBLAS's kernels are): the DWARF unwind stops there, and the
 * report says so, naming the routine, instead of blaming the interpreter's
 * symbols (which are all there) and asking for a -dbg package.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { execa } from 'execa';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { FIXTURES, WORKLOADS } from '../helpers/paths.js';
import { sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

let dir: string;
let workload: Workload<unknown>;

before(async () => {
  assertRoot();
  dir = await mkdtemp(path.join(tmpdir(), 'mixprof-no-cfi-'));
  const library = path.join(dir, 'libspin.so');
  await execa('gcc', ['-shared', '-o', library, path.join(FIXTURES, 'no-cfi', 'spin.s')]);
  // Built as intended: no FDE covers the routine.
  assert.doesNotMatch((await execa('readelf', ['--debug-dump=frames', library])).stdout, /FDE/);
  workload = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'no-cfi.py'), library]);
});
after(async () => {
  await workload?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('time in a routine without CFI: the warning names where the unwind stopped, not the eval loop, and the routine stays under its Python caller', async () => {
  const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--unwind', 'dwarf', '--mark-python'], workload.pid, 1.5);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stderr, /warning: in \d+\.\d% of samples the native unwind stopped before it reached the interpreter, most often at spin_no_cfi in libspin\.so, which has no call frame information/);
  assert.doesNotMatch(r.stderr, /eval loop has no symbol|-dbg/);
  const stacks = parseFolded(r.stdout);
  const total = stacks.reduce((n, s) => n + s.count, 0);
  const underCaller = stacks.filter((s) => pythonNames(s.frames).at(-1) === 'kernel_call' && s.frames.some((f) => f === 'spin_no_cfi')).reduce((n, s) => n + s.count, 0);
  assert.ok(underCaller / total >= 0.9, `${underCaller}/${total} samples show kernel_call -> spin_no_cfi`);
});
