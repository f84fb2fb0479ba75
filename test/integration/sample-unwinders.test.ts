/**
 * On a build with frame pointers (Debian sid's python3.14d) both unwinders
 * must give the same stacks: the same target is sampled with --unwind fp,
 * then with --unwind dwarf, and the stacks of its threads are compared.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChainsReady } from '../helpers/chains.js';
import { parseFolded, pythonNames, type FoldedStack } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';


/** The thread-start frames of glibc (named by offset in sid's stripped libc). */
const THREAD_START = /^(\[libc\.so\.6\+0x[0-9a-f]+\]|__clone3|clone3|start_thread)$/;

/**
 * A stack cut after its last Python frame: where inside its C callees a
 * sample landed is luck, the frames that lead there are what must agree.
 * glibc's thread-start frames are left out too: the frame-pointer chain ends
 * at start_thread (clone3 sets no frame pointer), CFI goes on to clone3.
 */
function shape(frames: readonly string[]): string {
  let last = -1;
  frames.forEach((f, i) => {
    if (f.endsWith('_[j]')) last = i;
  });
  let first = 0;
  while (first < last && THREAD_START.test(frames[first]!)) first++;
  return frames.slice(first, last + 1).join(';');
}

function shares(stacks: readonly FoldedStack[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of stacks) out.set(shape(s.frames), (out.get(shape(s.frames)) ?? 0) + s.count);
  return out;
}

/** The share of `a`'s samples whose shape `b` also has. */
function covered(a: Map<string, number>, b: Map<string, number>): number {
  let all = 0;
  let both = 0;
  for (const [key, n] of a) {
    all += n;
    if (b.has(key)) both += n;
  }
  return both / all;
}

describe("frame pointers and DWARF agree on Debian sid's python3.14d", () => {
  let workload: Workload<ChainsReady>;
  const runs = new Map<string, Map<string, number>>();

  before(async () => {
    assertRoot();
    const python = await debianPython('sid-3.14d');
    workload = await startWorkload<ChainsReady>(python.executable, [path.join(WORKLOADS, 'chains.py')]);
    for (const unwind of ['fp', 'dwarf']) {
      // Until the target has used 5 s of CPU (about 1000 samples), however busy the machine.
      const r = await sampleForCpu(['sample', '-x', String(workload.pid), '-F', '199', '--mark-python', '--unwind', unwind], workload.pid, 5);
      assert.equal(r.exitCode, 0, r.stderr);
      // Only the stacks of the chain threads, which sit in known places.
      const stacks = parseFolded(r.stdout).filter((s) => pythonNames(s.frames).length > 1);
      runs.set(unwind, shares(stacks));
    }
  });
  after(async () => {
    await workload?.stop();
  });

  // A stack the unwind took to the thread's start begins with a native frame
  // (pythread_wrapper) rather than a Python one. A frame-pointer unwind gets
  // there only when no function on the way lacks a frame pointer (libc's
  // do), so fp is compared with dwarf where it got there.
  const complete = (m: Map<string, number>): Map<string, number> => new Map([...m].filter(([k]) => !k.split(';')[0]!.endsWith('_[j]')));
  const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

  test('every stack a frame-pointer unwind completes, DWARF gives too', (t) => {
    const fp = runs.get('fp')!;
    const dwarf = runs.get('dwarf')!;
    const fpComplete = complete(fp);
    t.diagnostic(`fp: ${total(fpComplete)}/${total(fp)} samples complete; dwarf: ${total(complete(dwarf))}/${total(dwarf)}; complete fp stacks also in dwarf: ${(100 * covered(fpComplete, dwarf)).toFixed(1)}%`);
    // Enough to compare: their share moves with which threads the ticks catch (25-31% over runs).
    assert.ok(total(fpComplete) >= 100, `too few complete frame-pointer stacks to compare: ${total(fpComplete)}`);
    assert.ok(total(complete(dwarf)) / total(dwarf) >= 0.95);
    assert.ok(covered(fpComplete, dwarf) >= 0.9, [...fpComplete.keys()].filter((k) => !dwarf.has(k)).slice(0, 3).join('\n'));
  });

  // (libexpat keeps no frame pointer: only DWARF shows the expat sandwich whole.)
  test('the sorted() sandwich reads the same both ways', () => {
    for (const handler of ['sort_key']) {
      const top = (m: Map<string, number>): string => [...complete(m)].filter(([k]) => k.includes(`${handler} (`)).sort((a, b) => b[1] - a[1])[0]?.[0] ?? '';
      assert.notEqual(top(runs.get('fp')!), '');
      assert.equal(top(runs.get('dwarf')!), top(runs.get('fp')!));
    }
  });
});
