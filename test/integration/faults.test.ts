/**
 * Faults, each shown on real processes: the target execs, stops, forks, or
 * starts and ends threads all the time; the profiler's output cannot be
 * written, bpftrace is killed, or a signal arrives while attaching or
 * sampling. Every run ends cleanly, says what happened, keeps what it
 * collected and leaves no bpftrace or stray file behind. docs/faults.md
 * lists these tests by their [ID] (test/unit/faults-table.test.ts keeps it
 * current).
 */
import assert from 'node:assert/strict';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { parseBpftraceLine } from '../../src/sampler/bpftrace-records.js';
import { nativeAddon } from '../../src/native.js';
import { findDebugFile } from '../../src/target/debug-files.js';
import { readableFile } from '../../src/target/files.js';
import { parseFolded, pythonNames, type FoldedStack } from '../helpers/folded.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { buildFixtureBpf, copyPackage, type PackageCopy } from '../helpers/package-copy.js';
import { bpftraceCount, cpuSecondsOf, watchPeakMemory, runMixprof, sampleForCpu, startSampling, startWorkload, waitForCpuSeconds, waitForEachCpuSeconds, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

const UNWINDERS = ['fp', 'dwarf'] as const;
const total = (stacks: FoldedStack[]): number => stacks.reduce((n, s) => n + s.count, 0);
const leafCount = (stacks: FoldedStack[], leaf: string): number => total(stacks.filter((s) => pythonNames(s.frames).at(-1) === leaf));

/** mixprof's own files in the temporary directory (fallback outputs). */
async function strayFiles(): Promise<string[]> {
  return (await readdir(tmpdir())).filter((f) => /^mixprof-\d+-/.test(f));
}

let python: string;
let dir: string;
let strayBefore: string[];

before(async () => {
  assertRoot();
  python = pyenvPython('3.11.7').executable;
  dir = await mkdtemp(path.join(tmpdir(), 'mixprof-faults-'));
  strayBefore = await strayFiles();
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  // No fault left a file of mixprof's behind (a fallback output a test expects is removed by it).
  assert.deepEqual((await strayFiles()).filter((f) => !strayBefore.includes(f)), []);
  assert.equal(await bpftraceCount(), 0, 'a bpftrace process was left running');
});

describe('target faults', () => {
  for (const unwind of UNWINDERS) {
    test(`[F01] the target execs another program (${unwind}): sampling ends there and keeps what came before`, async () => {
      const w = await startWorkload(python, [path.join(WORKLOADS, 'execs.py')], 60_000, {}, 'pipe');
      let replaced: number | null = null;
      try {
        const out = path.join(dir, `exec-${unwind}.folded`);
        const { child } = await startSampling(['sample', '-x', String(w.pid), '--unwind', unwind, '--mark-python', '-o', out]);
        await waitForCpuSeconds(w.pid, 1, 30_000);
        // A busy program, so that the sampler meets it at once.
        w.child.stdin!.write(`${python} ${path.join(WORKLOADS, 'spinners.py')}\n`);
        replaced = w.pid;
        const r = await child;
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /\(the target exec'd another program\)/);
        const stacks = parseFolded(await readFile(out, 'utf8'));
        assert.ok(leafCount(stacks, 'spin_before_exec') >= 50, `${leafCount(stacks, 'spin_before_exec')} samples before the exec`);
        // Nothing of the new program was read as the old one's.
        assert.ok(stacks.every((s) => !s.frames.some((f) => f.startsWith('spin ('))), 'frames of the program exec\'d into');
      } finally {
        await w.stop();
        if (replaced) await execa('kill', ['-9', String(replaced)], { reject: false });
      }
    });
  }

  test('[F02] the target is stopped (SIGSTOP) and continued during sampling: sampling goes on to the end', async () => {
    const w = await startWorkload(python, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const out = path.join(dir, 'stopped.folded');
      const run = await startSampling(['sample', '-x', String(w.pid), '-o', out]);
      const cpuAtStart = await cpuSecondsOf(w.pid);
      await waitForCpuSeconds(w.pid, 0.5, 60_000);
      process.kill(w.pid, 'SIGSTOP');
      // Stopped for a second: the scenario's length, not a wait for readiness.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      process.kill(w.pid, 'SIGCONT');
      await waitForCpuSeconds(w.pid, 1, 60_000);
      // The CPU time it had while sampled: at least this before the stop, at most the other after it.
      const least = (await cpuSecondsOf(w.pid)) - cpuAtStart;
      const r = await run.stop();
      const most = (await cpuSecondsOf(w.pid)) - cpuAtStart;
      assert.equal(r.exitCode, 0, r.stderr);
      // Still sampling when stopped by hand: the stop was not taken for the end.
      assert.match(r.stderr, /\(interrupted\)/);
      const n = total(parseFolded(await readFile(out, 'utf8')));
      // About one sample per 1/99 s of CPU time before and after the stop (had sampling ended at the stop, a third of that).
      assert.ok(n >= 0.75 * least * 99 && n <= 1.1 * most * 99 + 5, `${n} samples for ${least.toFixed(2)}-${most.toFixed(2)} s of CPU`);
    } finally {
      await w.stop();
    }
  });

  for (const unwind of UNWINDERS) {
    test(`[F03] threads start and end hundreds of times a second (${unwind}): every sample is kept, none malformed, no frame misnamed`, async () => {
      const w = await startWorkload(python, [path.join(WORKLOADS, 'churn.py')]);
      try {
        // Until it has run 3 s of CPU (about 1.5 s idle), when hundreds of threads have come and gone, however busy the machine.
        const r = await sampleForCpu(['sample', '-x', String(w.pid), '-F', '199', '--unwind', unwind, '--mark-python'], w.pid, 3);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.doesNotMatch(r.stderr, /malformed/);
        assert.match(r.stderr, /lost events: 0\b/);
        const stacks = parseFolded(r.stdout);
        // A thread torn down on another CPU while a sample walks it can leave a frame
        // unreadable (a handful in a thousand, said so); a wrong name, never.
        const samples = Number(/mixprof: (\d+) samples/.exec(r.stderr)?.[1]);
        const unreadable = Number(/(\d+) samples? with unreadable Python frames/.exec(r.stderr)?.[1] ?? 0);
        assert.ok(unreadable <= 0.005 * samples, r.stderr);
        // Those are marked as such, and in no more samples than the report says.
        const marked = stacks.filter((s) => s.frames.includes('[unknown python frame]_[j]')).reduce((n, s) => n + s.count, 0);
        assert.ok(marked <= unreadable, `${marked} samples with an unknown Python frame, ${unreadable} reported\n${r.stderr}`);
        // Every other: the workload's own frames and the standard library's (threading, _weakrefset), named by their short paths.
        // The line may be absent: some instructions have none (an except clause's clean-up), and a frame
        // being set up or torn down can point outside its code; the function and file are still its own.
        const foreign = stacks.flatMap((s) => s.frames).filter((f) => f.endsWith('_[j]') && f !== '[unknown python frame]_[j]' && !/\((test\/workloads\/churn\.py|\w+\.py)(:\d+)?\)_\[j\]$/.test(f));
        assert.deepEqual([...new Set(foreign)], []);
        const threads = Number(/, (\d+) threads?,/.exec(r.stderr)?.[1]);
        assert.ok(threads >= 100, `${threads} threads sampled`);
        assert.ok(leafCount(stacks, 'short_task') >= 0.5 * total(stacks), `${leafCount(stacks, 'short_task')}/${total(stacks)} samples in short_task`);
      } finally {
        await w.stop();
      }
    });
  }

  for (const unwind of UNWINDERS) {
    test(`[F20] the sampler misses threads that run (${unwind}): a warning names them with their CPU time and samples`, async () => {
      const w = await startWorkload<{ a: number; b: number; main: number }>(python, [path.join(WORKLOADS, 'spinners.py')]);
      try {
        const spinners = [w.ready.a, w.ready.b].map((tid) => ({ pid: w.pid, tid }));
        // Sampled as it is, no thread is missed; with every sample but the main thread's dropped, the two spinners are.
        const fine = await sampleForCpu(['sample', '-x', String(w.pid), '--unwind', unwind], spinners, 1);
        assert.equal(fine.exitCode, 0, fine.stderr);
        assert.doesNotMatch(fine.stderr, /missed/);
        const r = await sampleForCpu(['sample', '-x', String(w.pid), '--unwind', unwind], spinners, 1, 120_000, { MIXPROF_FAULT: 'miss-threads' });
        assert.equal(r.exitCode, 0, r.stderr);
        const warning = r.stderr.split('\n').find((line) => line.includes('warning: the sampler missed')) ?? '';
        assert.match(warning, /missed 2 threads that ran: /, r.stderr);
        for (const tid of [w.ready.a, w.ready.b]) assert.match(warning, new RegExp(`\\(${tid}: \\d+\\.\\d s on CPU, 0 of ~\\d+ samples\\)`), warning);
        assert.ok(!warning.includes(`(${w.ready.main}:`), 'the main thread, which got its samples, is not named');
        assert.match(warning, new RegExp(`--unwind ${unwind === 'fp' ? 'dwarf' : 'fp'}`));
      } finally {
        await w.stop();
      }
    });
  }

  test('[F04] the target forks workers: without --subprocesses only the process given is sampled', async () => {
    const w = await startWorkload<{ parent: number; fork: number; exec: number }>(python, [path.join(WORKLOADS, 'workers.py')]);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1.5', '--mark-python', '-q']);
      assert.equal(r.exitCode, 0, r.stderr);
      const names = parseFolded(r.stdout).flatMap((s) => pythonNames(s.frames));
      assert.ok(!names.includes('fork_worker_spin') && !names.includes('exec_worker_spin'), names.join(', '));
    } finally {
      await w.stop();
      for (const pid of [w.ready.fork, w.ready.exec]) await execa('kill', ['-9', String(pid)], { reject: false });
    }
  });
});

describe('load', () => {
  for (const unwind of UNWINDERS) {
    test(`[L01] 2000 threads, a busy one started before all of them (${unwind}): both busy threads sampled with their Python frames, mixprof's memory bounded`, async () => {
      const w = await startWorkload<{ first: number; last: number }>(python, [path.join(WORKLOADS, 'many-threads.py'), '2000'], 120_000);
      try {
        const run = await startSampling(['sample', '-x', String(w.pid), '--unwind', unwind, '--threads', '--mark-python', '--top', '0']);
        const memory = watchPeakMemory(run.child.pid!);
        // Until each busy thread has run a second on a CPU (99 samples), however busy the machine.
        await waitForEachCpuSeconds([{ pid: w.pid, tid: w.ready.first }, { pid: w.pid, tid: w.ready.last }], 1, 120_000);
        const r = await run.stop();
        memory.stop();
        assert.equal(r.exitCode, 0, r.stderr);
        // Measured 90-110 MiB (fp) and 150-180 MiB (dwarf) on the test machines.
        assert.ok(memory.peak() > 0 && memory.peak() <= 400 * 2 ** 20, `peak memory ${(memory.peak() / 2 ** 20).toFixed(0)} MiB`);
        // Its thread state is at the far end of the interpreter's list, past 2000 others.
        const stacks = parseFolded(r.stdout);
        for (const [name, tid] of [['first', w.ready.first], ['last', w.ready.last]] as const) {
          const mine = stacks.filter((s) => s.frames[0]!.endsWith(`(${tid})`));
          assert.ok(total(mine) >= 50, `${name}: ${total(mine)} samples`);
          assert.ok(leafCount(mine, 'spin') >= 0.95 * total(mine), `${name}: ${leafCount(mine, 'spin')}/${total(mine)} samples in spin`);
        }
        assert.match(r.stderr, /with Python frames: (99\.\d|100\.0)%/);
      } finally {
        await w.stop();
      }
    });

    test(`[L03] a process with 3000 mapped (and deleted) files (${unwind}): sampled as any other`, async () => {
      const w = await startWorkload<{ maps: number }>(python, [path.join(WORKLOADS, 'many-maps.py'), '3000']);
      try {
        assert.ok(w.ready.maps >= 3000, `${w.ready.maps} mappings`);
        // Until it has run 1.5 s on a CPU (about 148 samples), however busy the machine.
        const r = await sampleForCpu(['sample', '-x', String(w.pid), '--unwind', unwind, '--mark-python', '--top', '0'], w.pid, 1.5);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /with Python frames: (99\.\d|100\.0)%/);
        const stacks = parseFolded(r.stdout);
        assert.ok(leafCount(stacks, 'spin_with_maps') >= 0.95 * total(stacks) && total(stacks) >= 100, `${leafCount(stacks, 'spin_with_maps')}/${total(stacks)}`);
      } finally {
        await w.stop();
      }
    });

    test(`[L02] 500-frame recursion (${unwind}): the innermost 128 Python frames and a truncation mark`, async () => {
      const w = await startWorkload<{ depth: number }>(python, [path.join(WORKLOADS, 'deep.py'), '500']);
      try {
        // Until it has run 1.5 s on a CPU (about 148 samples), however busy the machine.
        const r = await sampleForCpu(['sample', '-x', String(w.pid), '--unwind', unwind, '--mark-python', '--top', '0'], w.pid, 1.5);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /truncated Python stacks: (9\d|100)\.\d%/);
        const deepest = parseFolded(r.stdout).filter((s) => s.frames.includes('[truncated python stack]'));
        assert.ok(total(deepest) >= 50, `${total(deepest)} truncated samples`);
        for (const s of deepest) assert.equal(pythonNames(s.frames).filter((n) => n === 'deep').length, 128, s.frames.join(';').slice(0, 300));
      } finally {
        await w.stop();
      }
    });
  }
});

describe('security', () => {
  describe('a container (a chrooted process)', () => {
    // A minimal root: sleep, its loader and libc; lib/abs.so points at the root's own libc,
    // lib/evil.so at a host library the root does not have.
    let root: string;
    let child: ReturnType<typeof spawn>;
    let pid: number;
    const inRoot = (file: string): string => `/proc/${pid}/root${file}`;
    before(async () => {
      root = path.join(dir, 'croot');
      await mkdir(path.join(root, 'bin'), { recursive: true });
      await mkdir(path.join(root, 'lib64'), { recursive: true });
      await mkdir(path.join(root, 'lib', 'x86_64-linux-gnu'), { recursive: true });
      await copyFile('/bin/sleep', path.join(root, 'bin', 'sleep'));
      await copyFile('/lib64/ld-linux-x86-64.so.2', path.join(root, 'lib64', 'ld-linux-x86-64.so.2'));
      await copyFile('/lib/x86_64-linux-gnu/libc.so.6', path.join(root, 'lib', 'x86_64-linux-gnu', 'libc.so.6'));
      await symlink('/lib/x86_64-linux-gnu/libc.so.6', path.join(root, 'lib', 'abs.so'));
      await symlink('/lib/x86_64-linux-gnu/libz.so.1', path.join(root, 'lib', 'evil.so'));
      child = spawn('chroot', [root, '/bin/sleep', '1000'], { stdio: 'ignore' });
      pid = child.pid!;
      const deadline = Date.now() + 10_000;
      while ((await readlink(`/proc/${pid}/root`).catch(() => '')) !== root) {
        assert.ok(Date.now() < deadline, 'the chrooted process did not start');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    after(() => {
      child?.kill('SIGKILL');
    });

    test("[S05] a container's files are opened inside its root: an absolute symlink resolves there, never to the host's file", async () => {
      const addon = nativeAddon();
      assert.equal(addon.elfInfo(inRoot('/lib/abs.so')).buildId, addon.elfInfo('/lib/x86_64-linux-gnu/libc.so.6').buildId);
      assert.throws(() => addon.elfInfo(inRoot('/lib/evil.so')), /No such file/);
      // The host's file is there, and a plain open through /proc/PID/root would have reached it.
      assert.ok(addon.elfInfo('/lib/x86_64-linux-gnu/libz.so.1').buildId);
      assert.ok((await readFile(inRoot('/lib/evil.so'))).length > 0);
    });

    test("[S06] a container's files are looked up inside its root too: a host file behind its symlink is neither its mapped library nor its debug file; a FIFO is refused", async () => {
      const addon = nativeAddon();
      // The host's libz seen through the container's link would pass for a mapping of it
      // (same inode): it is read through map_files instead, which opens what is mapped.
      const libz = await stat('/lib/x86_64-linux-gnu/libz.so.1');
      assert.equal((await stat(inRoot('/lib/evil.so'))).ino, libz.ino, 'a plain stat through /proc/PID/root reaches the host file');
      assert.equal(addon.fileIdentity(inRoot('/lib/evil.so')), null);
      assert.equal(addon.fileIdentity(inRoot('/lib/abs.so'))?.regular, true);
      const target = { pid, comm: 'sleep', exe: '/bin/sleep', root: inRoot(''), cwd: '/' };
      const mapping = (file: string, inode: number) => ({ start: 0x7f0000000000n, end: 0x7f0000001000n, perms: 'r-xp', offset: 0n, inode, path: file });
      assert.match(readableFile(addon, target, mapping('/lib/evil.so', libz.ino)), new RegExp(`^/proc/${pid}/map_files/`));
      const libc = await stat(path.join(root, 'lib', 'x86_64-linux-gnu', 'libc.so.6'));
      assert.equal(readableFile(addon, target, mapping('/lib/abs.so', libc.ino)), inRoot('/lib/abs.so'));

      // A debug file with DWARF that only the host has, and the container's build-id link to it.
      const hostOnly = path.join(dir, 'host-only');
      await mkdir(hostOnly, { recursive: true });
      await writeFile(path.join(hostOnly, 'dbg.c'), 'int host_only_secret(int x) { return x * 3; }\n');
      const debugFile = path.join(hostOnly, 'libdbg.so');
      await execa('gcc', ['-g', '-shared', '-fPIC', '-Wl,--build-id', '-o', debugFile, path.join(hostOnly, 'dbg.c')]);
      const info = addon.elfInfo(debugFile);
      assert.ok(info.buildId && info.hasDebugInfo);
      const link = (dirName: string): string => path.join(root, dirName, '.build-id', info.buildId!.slice(0, 2), `${info.buildId!.slice(2)}.debug`);
      await mkdir(path.dirname(link('dbg-link')), { recursive: true });
      await symlink(debugFile, link('dbg-link'));
      await mkdir(path.dirname(link('dbg-copy')), { recursive: true });
      await copyFile(debugFile, link('dbg-copy'));
      // The container's library: the same build, stripped (its build-id kept).
      await execa('strip', ['--strip-all', '-o', path.join(root, 'lib', 'libdbg.so'), debugFile]);
      const stripped = addon.elfInfo(inRoot('/lib/libdbg.so'));
      assert.ok(stripped.buildId === info.buildId && !stripped.hasDebugInfo);
      const query = (debugDir: string) => ({ file: inRoot('/lib/libdbg.so'), pathInTarget: '/lib/libdbg.so', elf: stripped, root: inRoot(''), extraFiles: [], debugDirs: [debugDir] });
      assert.equal(findDebugFile(addon, query('/dbg-link')), null);
      assert.equal(findDebugFile(addon, query('/dbg-copy')), inRoot(link('dbg-copy').slice(root.length)));

      // A FIFO where a library is expected: refused at once, never opened (which would block).
      await execa('mkfifo', [path.join(root, 'lib', 'fifo.so')]);
      assert.equal(addon.fileIdentity(inRoot('/lib/fifo.so'))?.regular, false);
      assert.throws(() => addon.elfInfo(inRoot('/lib/fifo.so')), /not a regular file/);
      assert.throws(() => addon.lookupSymbols(inRoot('/lib/fifo.so'), ['x']), /not a regular file/);
    });
  });

  test('[S03] a -d path and a command full of shell syntax are passed as arguments, never run', async () => {
    const canary = path.join(dir, 'canary');
    // A file name cannot hold a slash: its canary would land in mixprof's working directory.
    const nameCanary = path.join(process.cwd(), 'mixprof-s03-canary');
    const hostile = path.join(dir, `lib z; touch mixprof-s03-canary; $(touch mixprof-s03-canary) \`touch mixprof-s03-canary\` '"\n.so`);
    await execa('cp', ['/lib/x86_64-linux-gnu/libz.so.1', hostile]);
    const w = await startWorkload(python, [path.join(WORKLOADS, 'short-lived.py'), '60']);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '-q', '-d', hostile, '-o', path.join(dir, 'hostile.folded')]);
      assert.equal(r.exitCode, 0, r.stderr);
      const rec = await execa(MIXPROF, ['record', '-q', '-o', path.join(dir, 'hostile-record.folded'), '--', 'echo', `; touch ${canary}`, `$(touch ${canary})`], { reject: false, timeout: 60_000 });
      assert.equal(rec.exitCode, 0, rec.stderr);
      assert.equal(rec.stdout, `; touch ${canary} $(touch ${canary})`);
      await assert.rejects(readFile(canary), 'a shell ran part of an argument');
      await assert.rejects(readFile(nameCanary), 'a shell ran part of a file name');
    } finally {
      await w.stop();
    }
  });
});

describe('profiler faults', () => {
  let w: Workload<unknown>;
  before(async () => {
    w = await startWorkload(python, [path.join(WORKLOADS, 'short-lived.py'), '600']);
  });
  after(async () => {
    await w?.stop();
  });

  test('[F05] the output cannot be written (a full disk): one error line, the profile kept in a file it names', async () => {
    // A small file system filled to its last block (/dev/full, a device, is refused before any write).
    const full = path.join(dir, 'full');
    await mkdir(full);
    await execa('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', full]);
    try {
      await execa('sh', ['-c', 'cat /dev/zero > "$1"', 'sh', path.join(full, 'filler')], { reject: false });
      const out = path.join(full, 'out.folded');
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '-q', '-o', out]);
      assert.equal(r.exitCode, 1);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.ok(lines[0]!.startsWith(`mixprof: error: cannot write ${out}: ENOSPC: no space left on device`), lines[0]);
      // The new file it was writing is gone.
      assert.deepEqual(await readdir(full), ['filler']);
      const fallback = /written to (\S+) instead/.exec(lines[0]!)?.[1];
      assert.ok(fallback, lines[0]);
      try {
        assert.ok(total(parseFolded(await readFile(fallback, 'utf8'))) > 0);
      } finally {
        await rm(fallback, { force: true });
      }
    } finally {
      await execa('umount', [full]);
    }
  });

  test('[F06] bpftrace is killed mid-run: the samples it had printed are written, one error line, non-zero exit', async () => {
    const out = path.join(dir, 'bpftrace-killed.folded');
    const raw = path.join(dir, 'bpftrace-killed.jsonl');
    const { child } = await startSampling(['sample', '-x', String(w.pid), '--unwind', 'fp', '-o', out], 60_000, { MIXPROF_TRACE_RAW: raw });
    // bpftrace prints its samples every second: wait until it has printed 50 (what mixprof read, kept raw).
    const printed = async (): Promise<number> => {
      const events = (await readFile(raw, 'utf8').catch(() => '')).split('\n').map((line) => parseBpftraceLine(line));
      return events.reduce((n, e) => n + (e?.type === 'samples' ? e.samples.reduce((m, x) => m + x.count, 0) : 0), 0);
    };
    const deadline = Date.now() + 60_000;
    while ((await printed()) < 50) {
      assert.ok(Date.now() < deadline, `bpftrace printed ${await printed()} samples in 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const before = await printed();
    const { stdout } = await execa('pgrep', ['-P', String(child.pid), '-x', 'bpftrace']);
    process.kill(Number(stdout.trim()), 'SIGKILL');
    const r = await child;
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /\(bpftrace exited\)/);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('mixprof: error:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /bpftrace ended unexpectedly \(killed by SIGKILL\)/);
    const written = total(parseFolded(await readFile(out, 'utf8')));
    assert.ok(written >= before, `${written} samples written of the ${before} bpftrace had printed`);
  });

  test('[F13] the DWARF sampler fails mid-run: what it had delivered is written, one error line, non-zero exit', async () => {
    const out = path.join(dir, 'poll-failed.folded');
    // The first poll after 100 samples fails the way a failing ring-buffer read does.
    const r = await runMixprof(['sample', '-x', String(w.pid), '--unwind', 'dwarf', '-o', out], { env: { MIXPROF_FAULT: 'dwarf-poll:100' } });
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /\(the sampler failed\)/);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('mixprof: error:'));
    assert.equal(errors.length, 1, r.stderr);
    assert.match(errors[0]!, /sampling stopped early: the ring buffer could not be read/);
    assert.ok(total(parseFolded(await readFile(out, 'utf8'))) >= 100);
  });

  test('[F24] the ring fills faster than it is drained: samples the kernel cannot unwind whole are kept with the frames it found, not copied, and counted', async () => {
    const out = path.join(dir, 'late-drains.folded');
    // Every stack copied (the rows unwind in user space only), into a 1 MiB ring drained 4 times a second.
    const r = await sampleForCpu(['sample', '-x', String(w.pid), '--unwind', 'dwarf', '-F', '4999', '--mark-python', '-o', out], w.pid, 1, 120_000, {
      MIXPROF_FAULT: 'late-drains',
      MIXPROF_UNWINDER: 'tables',
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const note = /note: (?:.*; )?(\d+) samples? kept only the native frames the kernel could unwind, not a stack copy: the ring buffer was nearly full/.exec(r.stderr);
    assert.ok(note, r.stderr);
    const kept = Number(note[1]);
    const lost = Number(/lost events: (\d+)/.exec(r.stderr)?.[1]);
    assert.ok(kept > 0 && lost < kept, `${kept} kept short, ${lost} lost: ${r.stderr}`);
    // Those samples keep their Python frames: every sample written is under the spinning loop.
    const stacks = parseFolded(await readFile(out, 'utf8'));
    const samples = /mixprof: (\d+) samples/.exec(r.stderr);
    assert.equal(total(stacks), Number(samples?.[1]), r.stderr);
    const inLoop = total(stacks.filter((s) => pythonNames(s.frames)[0] === '<module>'));
    assert.ok(inLoop >= 0.95 * total(stacks), `${inLoop} of ${total(stacks)} samples under <module>`);
  });

  test('[F14] the native addon cannot be loaded: one error line saying how to build it', async () => {
    const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1'], { env: { MIXPROF_FAULT: 'addon-load' } });
    assert.equal(r.exitCode, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^mixprof: error: the native addon could not be loaded .*npm run setup/);
  });

  test("[F17] bpftrace refuses to start (more probes than BPFTRACE_MAX_PROBES allows): one error line with bpftrace's reason, no bpftrace left", async () => {
    const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '--unwind', 'fp'], { env: { BPFTRACE_MAX_PROBES: '0' } });
    assert.equal(r.exitCode, 1);
    const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('mixprof: ') || l.startsWith('mixprof: error:'));
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^mixprof: error: bpftrace could not start: Can't attach to \d+ probes because it exceeds the current limit of 0 probes.*MIXPROF_DEBUG=1/);
    assert.equal(await bpftraceCount(), 0);
    // The details the hint promises: bpftrace's own messages.
    const debug = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '--unwind', 'fp'], { env: { BPFTRACE_MAX_PROBES: '0', MIXPROF_DEBUG: '1' } });
    assert.equal(debug.exitCode, 1);
    assert.match(debug.stderr, /^bpftrace's messages:\n(.*\n)*.*exceeds the current limit of 0 probes/m);
  });

  describe('the DWARF sampler cannot be loaded', () => {
    let copy: PackageCopy;
    before(async () => {
      copy = await copyPackage(path.join(dir, 'stale'));
    });
    const dwarfRun = (env: Record<string, string> = {}) =>
      execa(copy.mixprof, ['sample', '-x', String(w.pid), '-t', '1', '-q', '--unwind', 'dwarf', '-o', path.join(dir, 'never.folded')], { reject: false, timeout: 60_000, stdin: 'ignore', env });
    const oneError = (stderr: string): string => {
      const lines = stderr.trim().split('\n');
      assert.equal(lines.length, 1, stderr);
      assert.match(lines[0]!, /^mixprof: error: the DWARF sampler could not start: /);
      return lines[0]!;
    };

    test('[F18] its BPF object is stale (another build\'s) or no BPF object at all: one error line saying to rebuild', async () => {
      await buildFixtureBpf('stale-sampler', copy.bpfObject);
      const stale = await dwarfRun();
      assert.equal(stale.exitCode, 1);
      assert.match(oneError(stale.stderr), /dwarf-sampler\.bpf\.o does not match this addon \(rebuild it\)/);
      await writeFile(copy.bpfObject, 'not an ELF file\n');
      const garbage = await dwarfRun();
      assert.equal(garbage.exitCode, 1);
      assert.match(oneError(garbage.stderr), /cannot open \S+dwarf-sampler\.bpf\.o/);
      await assert.rejects(readFile(path.join(dir, 'never.folded')));
    });

    test("[F19] the kernel refuses the DWARF sampler (its verifier rejects the program): one error line; MIXPROF_DEBUG=1 adds the verifier's reason", async () => {
      await buildFixtureBpf('refused-sampler', copy.bpfObject);
      const refused = await dwarfRun();
      assert.equal(refused.exitCode, 1);
      assert.match(oneError(refused.stderr), /cannot load the sampler into the kernel: Permission denied .*MIXPROF_DEBUG=1/);
      const debug = await dwarfRun({ MIXPROF_DEBUG: '1' });
      assert.equal(debug.exitCode, 1);
      assert.match(debug.stderr, /invalid mem access 'scalar'/);
    });
  });

  for (const unwind of UNWINDERS) {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      test(`[F07] ${signal} while sampling (${unwind}): the result is written, no bpftrace left`, async () => {
        const out = path.join(dir, `${signal}-${unwind}.folded`);
        const { child } = await startSampling(['sample', '-x', String(w.pid), '--unwind', unwind, '-F', '199', '-o', out]);
        await waitForCpuSeconds(w.pid, 1.2, 30_000);
        child.kill(signal);
        const r = await child;
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /\(interrupted\)/);
        assert.ok(total(parseFolded(await readFile(out, 'utf8'))) >= 50);
        assert.equal(await bpftraceCount(), 0);
      });
    }

    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    test(`[F08] ${signal} while attaching (${unwind}): it stops cleanly, saying whether anything was collected`, async () => {
      const out = path.join(dir, `attach-${signal}-${unwind}.folded`);
      const child = execa(MIXPROF, ['sample', '-x', String(w.pid), '--unwind', unwind, '-o', out], { reject: false, timeout: 120_000, stdin: 'ignore' });
      // Its first line comes once the interpreter is found, before the sampler is loaded.
      await new Promise<void>((resolve, reject) => {
        child.stderr!.once('data', () => resolve());
        child.once('exit', () => reject(new Error('mixprof exited before attaching')));
      });
      child.kill(signal);
      const r = await child;
      if (r.exitCode === 130) {
        const errors = r.stderr.split('\n').filter((l) => l.startsWith('mixprof: error:'));
        assert.equal(errors.length, 1, r.stderr);
        assert.match(errors[0]!, /interrupted before sampling started/);
      } else {
        // The sampler was already attached: an (almost) empty profile, written.
        assert.equal(r.exitCode, 0, r.stderr);
        assert.match(r.stderr, /\(interrupted\)/);
        await readFile(out, 'utf8');
      }
      assert.equal(await bpftraceCount(), 0);
    });
    }
  }

  describe('writing to a reader that is slow or gone', () => {
    /** What the test FIFO holds: one page (F_SETPIPE_SZ), which any profile fills, however few samples a loaded machine gives. */
    const PIPE_BYTES = 4096;
    // A FIFO is a pipe of 64 KiB: the flame graph of a second of a process that
    // starts hundreds of threads, one root per thread, is several times that.
    let churn: Workload<unknown>;
    before(async () => {
      churn = await startWorkload(python, [path.join(WORKLOADS, 'churn.py')]);
    });
    after(async () => {
      await churn?.stop();
    });

    /** mixprof writing its SVG to a FIFO that nobody reads yet; `read()` drains it. */
    async function writingToFifo(name: string): Promise<{ child: ReturnType<typeof spawn>; stderr: () => string; exited: Promise<number | string | null>; read: () => Promise<string>; takeSomeAndGo: () => string }> {
      const fifo = path.join(dir, name);
      await execa('mkfifo', [fifo]);
      // Open from the start so the writer has a reader; read only by read().
      const idleReader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      // F_SETPIPE_SZ (1031) on the FIFO while idleReader keeps it open.
      await execa('/usr/bin/python3', ['-c', 'import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY | os.O_NONBLOCK); fcntl.fcntl(fd, 1031, int(sys.argv[2])); os.close(fd)', fifo, String(PIPE_BYTES)]);
      const writeEnd = openSync(fifo, constants.O_WRONLY);
      const child = spawn(MIXPROF, ['sample', '-x', String(churn.pid), '-t', '1', '--threads', '-f', 'svg'], { stdio: ['ignore', writeEnd, 'pipe'] });
      closeSync(writeEnd);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
      // Reads what the FIFO holds and gets until every writer is gone.
      const read = async (): Promise<string> => {
        const chunks: Buffer[] = [];
        const buffer = Buffer.alloc(64 * 1024);
        const deadline = Date.now() + 60_000;
        try {
          for (;;) {
            let n: number;
            try {
              n = readSync(idleReader, buffer);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
              assert.ok(Date.now() < deadline, 'the writer never finished');
              await new Promise((resolve) => setTimeout(resolve, 10));
              continue;
            }
            if (n === 0) return Buffer.concat(chunks).toString();
            chunks.push(Buffer.from(buffer.subarray(0, n)));
          }
        } finally {
          closeSync(idleReader);
        }
      };
      // As head does: one read, then the read end is closed.
      const takeSomeAndGo = (): string => {
        const buffer = Buffer.alloc(4096);
        const n = readSync(idleReader, buffer);
        closeSync(idleReader);
        return buffer.subarray(0, n).toString();
      };
      return { child, stderr: () => stderr, exited, read, takeSomeAndGo };
    }

    /** Until one of the process's threads sleeps in a pipe write (the FIFO is full). */
    async function blockedOnPipe(pid: number, timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const tasks = await readdir(`/proc/${pid}/task`).catch(() => [] as string[]);
        for (const tid of tasks) {
          if ((await readFile(`/proc/${pid}/task/${tid}/wchan`, 'utf8').catch(() => '')).trim().endsWith('pipe_write')) return;
        }
        assert.ok(Date.now() < deadline, `mixprof never blocked writing its output`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    async function until(condition: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (!condition()) {
        assert.ok(Date.now() < deadline, what);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }

    test('[F15] a signal while the profile is written to a reader not reading yet: the write completes; a second one has it written to a file', async () => {
      for (const [first, second] of [['SIGTERM', null], ['SIGINT', 'SIGHUP']] as const) {
        const run = await writingToFifo(`out-${first}.svg`);
        await blockedOnPipe(run.child.pid!, 60_000);
        run.child.kill(first);
        await until(() => /still writing the profile/.test(run.stderr()), `no note after ${first}: ${run.stderr()}`);
        if (second === null) {
          const svg = await run.read();
          assert.equal(await run.exited, 0, run.stderr());
          assert.ok(svg.length > PIPE_BYTES, `only ${svg.length} bytes: the pipe never filled`);
          assert.match(svg.trimEnd(), /<\/svg>$/);
          assert.match(svg, /short_task/);
          continue;
        }
        run.child.kill(second);
        // Its write still waits in the kernel: it ends by SIGINT, which shells report as 130.
        assert.equal(await run.exited, 'SIGINT', run.stderr());
        const partial = await run.read();
        const errors = run.stderr().split('\n').filter((l) => l.startsWith('mixprof: error:'));
        assert.equal(errors.length, 1, run.stderr());
        assert.match(errors[0]!, /interrupted while stdout's reader had taken at least \d+ of \d+ bytes of the profile/);
        const fallback = /the whole profile was written to (\S+)\)/.exec(errors[0]!)?.[1];
        assert.ok(fallback, errors[0]);
        const whole = await readFile(fallback, 'utf8');
        await rm(fallback);
        assert.match(whole.trimEnd(), /<\/svg>$/);
        assert.match(whole, /short_task/);
        assert.ok(partial.length < whole.length && whole.startsWith(partial), `the reader got ${partial.length} bytes of ${whole.length}`);
      }
      assert.equal(await bpftraceCount(), 0);
    });

    test('[F16] the reader exits before taking the whole profile (| head): one error line, the profile kept in a file it names', async () => {
      // A pipe's 64 KiB, not a socket's buffers: the profile (hundreds of KiB) cannot all be written before the reader goes.
      const run = await writingToFifo('out-head.svg');
      await blockedOnPipe(run.child.pid!, 60_000);
      const head = run.takeSomeAndGo();
      assert.equal(await run.exited, 1, run.stderr());
      const lines = run.stderr().split('\n').filter((l) => l.startsWith('mixprof: '));
      const errors = lines.filter((l) => l.startsWith('mixprof: error:'));
      assert.equal(errors.length, 1, run.stderr());
      assert.match(errors[0]!, /^mixprof: error: stdout was closed after its reader had taken at least \d+ of \d+ bytes of the profile \(the whole profile was written to \S+\)$/);
      const fallback = /written to (\S+)\)/.exec(errors[0]!)![1]!;
      const whole = await readFile(fallback, 'utf8');
      await rm(fallback);
      assert.ok(head.length > 0 && whole.startsWith(head));
      assert.match(whole.trimEnd(), /<\/svg>$/);
      assert.equal(await bpftraceCount(), 0);
    });
  });
});
