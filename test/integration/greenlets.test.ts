/**
 * Greenlets (gevent, eventlet): each runs on a stack of its own, switched by
 * the greenlet module, and its Python frames are its own chain. A sample in
 * a greenlet is rooted at [greenlet] (its bootstrap), with its Python frames
 * and what they called: whole, not a stack that disagrees with itself or an
 * incomplete one.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, systemPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

let workload: Workload<unknown>;

before(async () => {
  assertRoot();
  // Debian 12's python3-greenlet, for Debian 12's python3.11.
  const module = (await debianPython('greenlet')).executable;
  const python = systemPython('/usr/bin/python3.11').executable;
  workload = await startWorkload(python, [path.join(WORKLOADS, 'greenlets.py'), path.dirname(path.dirname(module))]);
});
after(async () => {
  await workload?.stop();
});

test("a greenlet's samples are rooted at [greenlet], with its own Python frames, and count as whole native stacks", async () => {
  const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--unwind', 'dwarf', '--mark-python'], workload.pid, 1.5);
  assert.equal(r.exitCode, 0, r.stderr);
  const stacks = parseFolded(r.stdout);
  const count = (list: typeof stacks): number => list.reduce((n, s) => n + s.count, 0);
  const total = count(stacks);
  const inWorkers = stacks.filter((s) => pythonNames(s.frames).includes('worker'));
  const rooted = inWorkers.filter((s) => s.frames[0] === '[greenlet]' && JSON.stringify(pythonNames(s.frames).slice(0, 2)) === JSON.stringify(['worker', 'crunch']));
  // crunch is where the time goes, inside the greenlets.
  assert.ok(count(inWorkers) >= 0.8 * total, `${count(inWorkers)}/${total} samples in the worker greenlets\n${r.stderr}`);
  assert.ok(count(rooted) >= 0.95 * count(inWorkers), `${count(rooted)}/${count(inWorkers)} worker samples are [greenlet];worker;crunch...\n${r.stdout}`);
  const complete = Number(/native stack complete: ([\d.]+)%/.exec(r.stderr)?.[1]);
  assert.ok(complete >= 95, r.stderr);
  assert.doesNotMatch(r.stderr, /disagree/);
});
