/**
 * Greenlets (gevent, eventlet): each runs on a stack of its own, switched by
 * the greenlet module, and its Python frames are its own chain. A sample in
 * a greenlet is rooted at [greenlet] (its bootstrap), with its Python frames
 * and what they called: whole, not a stack that disagrees with itself or an
 * incomplete one.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { runMixprof, sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
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

describe('a gevent service (its hub on libev, the standard library monkey-patched)', () => {
  let service: Workload<unknown> | undefined;
  after(async () => {
    await service?.stop();
  });

  test("in wall-clock mode the hub's waits are under [greenlet];Hub.run and each worker's time under [greenlet];worker, none disagreeing", async () => {
    const module = (await debianPython('greenlet')).executable;
    const packages = path.dirname(path.dirname(module));
    const root = path.resolve(packages, '..', '..', '..', '..');
    service = await startWorkload(systemPython('/usr/bin/python3.11').executable, [path.join(WORKLOADS, 'gevent_app.py'), packages], 60_000, { LD_LIBRARY_PATH: path.join(root, 'usr', 'lib', 'x86_64-linux-gnu') });
    const r = await runMixprof(['sample', '-x', String(service.pid), '--mode', 'wall', '-t', '3', '--mark-python', '--top', '0']);
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    const count = (list: typeof stacks): number => list.reduce((n, s) => n + s.count, 0);
    const total = count(stacks);
    const greenletNamed = (s: (typeof stacks)[number], names: string[]): boolean => s.frames[0] === '[greenlet]' && JSON.stringify(pythonNames(s.frames).slice(0, names.length)) === JSON.stringify(names);
    const crunching = stacks.filter((s) => pythonNames(s.frames).includes('crunch'));
    const hub = stacks.filter((s) => pythonNames(s.frames).includes('Hub.run'));
    const what = `${count(crunching)} in crunch, ${count(hub)} in the hub, of ${total}\n${r.stdout}`;
    assert.ok(count(crunching) >= 0.05 * total && count(hub) >= 0.1 * total, what);
    assert.ok(count(crunching.filter((s) => greenletNamed(s, ['worker', 'crunch']))) >= 0.95 * count(crunching), what);
    assert.ok(count(hub.filter((s) => greenletNamed(s, ['Hub.run']))) >= 0.95 * count(hub), what);
    // The hub waits for its next event in libev's epoll_wait.
    const waiting = hub.filter((s) => s.frames.some((f) => /^(epoll_wait|do_epoll_wait_\[k\])$/.test(f)));
    assert.ok(count(waiting) >= 0.5 * count(hub), what);
    const disagree = Number(/(\d+) samples? where native eval-loop frames and Python frames disagree/.exec(r.stderr)?.[1] ?? 0);
    assert.ok(disagree <= 0.01 * total, r.stderr);
  });
});
