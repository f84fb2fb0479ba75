/**
 * --threads roots carry Python's names for the threads (threading.Thread.name)
 * where the kernel knows only the program's: read from the target's
 * threading module through each way offsets are found (DWARF, the built-in
 * table, _Py_DebugOffsets, a free-threaded build's larger objects), through
 * both samplers, and in a container, whose threads know themselves by other
 * ids. Names longer than the kernel's 15 bytes, not ASCII, or changed after
 * the thread started are shown whole. The host is kept busy throughout.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseFolded, threadOf, type FoldedStack } from '../helpers/folded.js';
import { startLoad, type Load } from '../helpers/load.js';
import { tidsByNamespaceTid } from '../helpers/namespaces.js';
import { WORKLOADS } from '../helpers/paths.js';
import { sampleForCpu, startContainerWorkload, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

interface Ready {
  readonly pid: number;
  /** Thread name to id, as the threads see them. */
  readonly threads: Record<string, number>;
}

interface Case {
  readonly label: string;
  readonly executable: () => Promise<string>;
  /** --unwind, when not auto. */
  readonly unwind?: 'fp';
  readonly container?: boolean;
  /** The threads run in a child forked before sampling starts, followed with --subprocesses. */
  readonly forked?: boolean;
}

const CASES: readonly Case[] = [
  { label: '3.8 (pyenv: DWARF in libpython)', executable: async () => pyenvPython('3.8.18').executable },
  { label: "3.11 (Debian 12's: the built-in table)", executable: async () => '/usr/bin/python3.11' },
  { label: '3.12 (pyenv: values tagged in the dict pointer)', executable: async () => pyenvPython('3.12.1').executable },
  { label: "3.13 (sid's: _Py_DebugOffsets)", executable: async () => (await debianPython('sid-3.13')).executable },
  { label: '3.13t (free-threaded: larger object headers)', executable: async () => (await debianPython('trixie-3.13t')).executable },
  { label: "3.15 (sid's, frame pointers: the bpftrace sampler)", executable: async () => (await debianPython('sid-3.15')).executable, unwind: 'fp' },
  { label: '3.12 in a forked child (followed)', executable: async () => pyenvPython('3.12.1').executable, forked: true },
  { label: '3.11 in a container (other PID namespace)', executable: async () => (await debianPython('debian-3.11')).executable, container: true },
];

describe('Python thread names on thread roots', () => {
  let load: Load;
  before(async () => {
    assertRoot();
    load = await startLoad();
  });
  after(async () => {
    await load?.stop();
  });

  for (const c of CASES) {
    test(`${c.label}: each thread's samples sit under its Python name`, async () => {
      const script = path.join(WORKLOADS, 'named-threads.py');
      let workload: Workload<Ready>;
      let pid: number;
      let names: Record<string, number>;
      if (c.container) {
        const root = path.resolve(path.dirname(await c.executable()), '..', '..');
        const started = await startContainerWorkload<Ready>(root, script);
        workload = started.workload;
        pid = started.pid;
        const kernel = await tidsByNamespaceTid(pid);
        names = Object.fromEntries(Object.entries(workload.ready.threads).map(([name, tid]) => [name, kernel.get(tid) ?? -1]));
      } else {
        workload = await startWorkload<Ready>(await c.executable(), c.forked ? [script, 'fork'] : [script]);
        pid = workload.pid;
        names = workload.ready.threads;
        assert.equal(workload.ready.pid === pid, !c.forked, 'the threads run in the process the test expects');
      }
      const threadsPid = c.container ? pid : workload.ready.pid;
      try {
        assert.deepEqual(Object.keys(names).sort(), ['MainThread', 'ingest-worker-with-a-long-name', 'renamed-later', 'trätt-ø'], 'the workload names its threads as this test expects');
        const r = await sampleForCpu(['sample', '-x', String(pid), '--threads', ...(c.forked ? ['--subprocesses'] : []), ...(c.unwind ? ['--unwind', c.unwind] : [])], Object.values(names).map((tid) => ({ pid: threadsPid, tid })), 0.2);
        assert.equal(r.exitCode, 0, r.stderr);
        if (c.unwind) assert.match(r.stderr, /native stacks unwound with frame pointers/);
        const stacks = parseFolded(r.stdout);
        for (const [name, tid] of Object.entries(names)) {
          const of = stacks.filter((s: FoldedStack) => threadOf(s.frames) === tid);
          const named = of.filter((s) => s.frames[0] === `${name} (${tid})`);
          const total = of.reduce((n, s) => n + s.count, 0);
          assert.ok(total > 0, `no samples of ${name} (${tid})\n${r.stderr}`);
          assert.equal(named.reduce((n, s) => n + s.count, 0), total, `${name}: roots ${[...new Set(of.map((s) => s.frames[0]))].join(', ')}`);
        }
      } finally {
        await workload.stop();
      }
    });
  }
});
