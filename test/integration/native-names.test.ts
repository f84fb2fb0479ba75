/**
 * Native code without a name: an address no symbol covers is named by its
 * module and the offset of the function .eh_frame describes around it, so
 * every address of one unnamed routine (an assembly routine of a stripped
 * libcrypto, a static function of a stripped library) is one frame, not one
 * frame per instruction sampled.
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
/** unnamed_loop's offset in the library, from an unstripped build of the same source. */
let start: number;

before(async () => {
  assertRoot();
  dir = await mkdtemp(path.join(tmpdir(), 'mixprof-unnamed-'));
  const named = path.join(dir, 'libnamed.so');
  const library = path.join(dir, 'libfde.so');
  const source = path.join(FIXTURES, 'unnamed', 'loop.c');
  await execa('gcc', ['-O1', '-shared', '-fPIC', '-o', named, source]);
  await execa('cp', [named, library]);
  await execa('strip', ['--strip-all', library]);
  const symbol = /^([0-9a-f]+) t unnamed_loop$/m.exec((await execa('nm', [named])).stdout);
  assert.ok(symbol, 'the unstripped build names unnamed_loop');
  start = parseInt(symbol[1]!, 16);
  // Built as intended: nothing names it any more; its text is mapped at its file offset.
  assert.doesNotMatch((await execa('nm', ['-D', library])).stdout, /unnamed_loop/);
  assert.match((await execa('readelf', ['-lW', library])).stdout, /LOAD\s+0x0*1000 0x0*1000 .* R E/);
  workload = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'no-cfi.py'), library, 'fde_entry']);
});
after(async () => {
  await workload?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('the addresses of an unnamed routine are one frame, named by the start of its .eh_frame entry', async () => {
  const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--unwind', 'dwarf', '--mark-python'], workload.pid, 1.5);
  assert.equal(r.exitCode, 0, r.stderr);
  const stacks = parseFolded(r.stdout);
  const names = new Set(stacks.flatMap((s) => s.frames.filter((f) => f.startsWith('[libfde.so+'))));
  assert.deepEqual([...names], [`[libfde.so+0x${start.toString(16)}]`], r.stdout);
  // And it stays in place: under fde_entry, under its Python caller.
  const total = stacks.reduce((n, s) => n + s.count, 0);
  const inLoop = stacks.filter((s) => pythonNames(s.frames).at(-1) === 'kernel_call' && s.frames.at(-1) === [...names][0] && s.frames.at(-2) === 'fde_entry').reduce((n, s) => n + s.count, 0);
  assert.ok(inLoop / total >= 0.9, `${inLoop}/${total} samples end in kernel_call -> fde_entry -> the routine\n${r.stdout}`);
});
