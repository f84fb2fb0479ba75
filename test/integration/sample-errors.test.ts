/** Every error a user can cause gets one clear line and a non-zero exit. */
import assert from 'node:assert/strict';
import { SUPPORTED_VERSIONS } from '../../src/python/versions.js';
import { splitStat } from '../../src/target/proc-stat.js';
import { chmod, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { parseFolded } from '../helpers/folded.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { runMixprof, sampleForCpu, startSampling, startWorkload, waitForCpuSeconds } from '../helpers/processes.js';
import { debianPython, pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

/** A kernel thread (PF_KTHREAD in its stat flags): kthreadd is PID 2 on most machines, not on all. */
async function firstKernelThread(): Promise<{ pid: number; comm: string }> {
  for (const entry of (await readdir('/proc')).filter((e) => /^\d+$/.test(e)).sort((a, b) => Number(a) - Number(b))) {
    const stat = splitStat(await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => ''));
    if (stat && (Number(stat.fields[6]) & 0x00200000) !== 0) return { pid: Number(entry), comm: stat.comm };
  }
  throw new Error('no kernel thread in /proc');
}

function oneErrorLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${stderr}`);
  assert.match(lines[0]!, /^mixprof: error: /);
  assert.match(lines[0]!, pattern);
}


describe('bad input', () => {
  let dir: string;
  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-errors-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('[B01] no such PID', async () => {
    const r = await runMixprof(['sample', '-x', '999999999', '-t', '1']);
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /no process with PID 999999999/);
  });

  test('[B14] a kernel thread: one line saying it runs no user code', async () => {
    const kthread = await firstKernelThread();
    const r = await runMixprof(['sample', '-x', String(kthread.pid), '-t', '1']);
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, new RegExp(`process ${kthread.pid} \\(${kthread.comm.replace(/[^\w]/g, '.')}\\) is a kernel thread: it runs no user code`));
  });

  test('[B15] a zombie: one line saying it has exited and waits for its parent', async () => {
    // A parent that never collects its child's status.
    const script = 'import os, sys, time\npid = os.fork()\nif pid == 0:\n    os._exit(0)\nwhile open(f"/proc/{pid}/stat").read().split(") ")[1][0] != "Z":\n    time.sleep(0.01)\nprint(f"READY {{\\"zombie\\": {pid}}}", flush=True)\nsys.stdin.read()\n';
    const parent = await startWorkload<{ zombie: number }>(pyenvPython('3.11.7').executable, ['-c', script], 60_000, {}, 'pipe');
    try {
      const r = await runMixprof(['sample', '-x', String(parent.ready.zombie), '-t', '1']);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, new RegExp(`process ${parent.ready.zombie} \\(python3\\.11\\) has exited: it is a zombie, waiting for its parent to collect its status`));
    } finally {
      await parent.stop();
    }
  });

  test('[B02] a PID that is not a number', async () => {
    const r = await runMixprof(['sample', '-x', 'abc']);
    assert.notEqual(r.exitCode, 0);
    oneErrorLine(r.stderr, /--pid must be a whole number/);
  });

  test('[B03] a missing -d file', async () => {
    const r = await runMixprof(['sample', '-x', String(process.pid), '-d', path.join(dir, 'nope.so')]);
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /nope\.so: no such readable file/);
  });

  test('[B16] a -d file that is not ELF: one line, before sampling', async () => {
    const text = path.join(dir, 'notelf.txt');
    await writeFile(text, 'not a library\n');
    const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '30', '-d', text]);
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /-d .*notelf\.txt: not an ELF file \(pass a library, an executable or a separate debug file/);
  });

  test('[B17] an -o path that cannot be written (a read-only file system, a missing directory): refused before sampling', async () => {
    const readOnly = path.join(dir, 'ro');
    await execa('mkdir', ['-p', readOnly]);
    await execa('mount', ['-t', 'tmpfs', '-o', 'ro,size=64k', 'tmpfs', readOnly]);
    try {
      for (const [out, why] of [
        [path.join(readOnly, 'p.folded'), /EROFS: read-only file system/],
        [path.join(dir, 'missing', 'p.folded'), /no such directory|ENOENT/],
      ] as const) {
        // -t 30: had it sampled first, it would say so and take that long.
        const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '30', '-o', out]);
        assert.equal(r.exitCode, 1);
        oneErrorLine(r.stderr, new RegExp(`cannot write ${out.replace(/[.]/g, '\\.')}: .*\\(choose another -o path \\(nothing was sampled\\)\\)`));
        assert.match(r.stderr, why);
      }
      // record does not start its command.
      const marker = path.join(dir, 'started');
      const r = await runMixprof(['record', '-o', path.join(readOnly, 'r.folded'), '--', 'touch', marker]);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, /cannot write .*r\.folded: .*nothing was sampled/);
      assert.equal(existsSync(marker), false);
    } finally {
      await execa('umount', [readOnly]);
    }
  });

  test('[B13] a -d path that is a FIFO or a directory', async () => {
    const fifo = path.join(dir, 'lib.fifo');
    await execa('mkfifo', [fifo]);
    // Nothing ever writes to the FIFO: opening it to read would wait for good.
    for (const bad of [fifo, dir]) {
      const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '1', '-d', bad]);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, new RegExp(`-d ${bad.replace(/[.]/g, '\\.')}: not a regular file`));
    }
  });

  test('[B04] not root', async () => {
    const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', MIXPROF, 'sample', '-x', String(process.pid), '-t', '1'], { reject: false });
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /not permitted to profile: missing CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE \(run mixprof as root/);
  });

  test('node missing from PATH (bin/mixprof runs it): one clear line', async () => {
    const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '1'], { env: { PATH: path.join(dir, 'nothing-here') } });
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /^mixprof: error: node is not on PATH \(install Node\.js 20 or newer/);
  });

  // bpftrace runs the frame-pointer sampler; the DWARF one is loaded by the addon.
  test('[B05] bpftrace missing', async () => {
    // A PATH with node (which bin/mixprof runs) and no bpftrace.
    const nodeOnly = path.join(dir, 'node-only');
    await mkdir(nodeOnly, { recursive: true });
    await symlink(process.execPath, path.join(nodeOnly, 'node')).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
    const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '1', '--unwind', 'fp'], { env: { PATH: nodeOnly } });
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /bpftrace was not found .*apt-get install bpftrace/);
  });

  test('[B06] bpftrace too old', async () => {
    const fake = path.join(dir, 'old', 'bpftrace');
    await execa('mkdir', ['-p', path.dirname(fake)]);
    await writeFile(fake, '#!/bin/sh\necho "bpftrace v0.16.0"\n');
    await chmod(fake, 0o755);
    const r = await runMixprof(['sample', '-x', String(process.pid), '-t', '1', '--unwind', 'fp'], { env: { PATH: `${path.dirname(fake)}:/usr/bin:/bin` } });
    assert.equal(r.exitCode, 1);
    oneErrorLine(r.stderr, /bpftrace v0\.16\.0 is too old: mixprof needs 0\.17\.0 or newer/);
  });

  test('[B07] a Python older than 3.8 is named, and gets a native and kernel profile', async () => {
    const python = pyenvPython('3.7.16');
    const w = await startWorkload(python.executable, [path.join(WORKLOADS, 'short-lived.py'), '60']);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '-F', '199']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`Python 3\\.7 \\(.*libpython3\\.7m?\\.so.*\\) is not supported; supported: ${SUPPORTED_VERSIONS.join(', ').replace(/\./g, '\\.')}; profiling native and kernel frames only`));
      assert.ok(parseFolded(r.stdout).length > 0);
    } finally {
      await w.stop();
    }
  });

  test('[B08] Python 2 is named too', async () => {
    const python = pyenvPython('2.7.18');
    const child = spawn(python.executable, ['-c', 'import sys\nprint("READY {}")\nsys.stdout.flush()\nwhile True: pass'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      const r = await runMixprof(['sample', '-x', String(child.pid), '-t', '1', '-F', '199']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /Python 2\.7 \(\S+python2\.7\S*\) is not supported; supported: 3\.8, .*; profiling native and kernel frames only/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('[B09] no debug info when DWARF is required: says which package or -d file would give it', async () => {
    const python = await debianPython('debian-3.11');
    const w = await startWorkload(python.executable, [path.join(WORKLOADS, 'short-lived.py'), '60']);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '1', '--offsets-from', 'dwarf']);
      assert.equal(r.exitCode, 1);
      oneErrorLine(r.stderr, /no debug info for Python 3\.11\.\d+ in \S+python3\.11 \(build-id [0-9a-f]+\) \(install python3\.11-dbg matching the running build, or pass its debug file with -d FILE\)/);
    } finally {
      await w.stop();
    }
  });
});

describe('targets that are not Python, exit early, or are interrupted', () => {
  before(assertRoot);

  test('[B10] a process that is not Python gets a native and kernel profile and a note', async () => {
    const child = spawn('sh', ['-c', 'echo READY {}; while :; do :; done'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      await new Promise((resolve) => child.stdout!.once('data', resolve));
      // Until it has run a second on a CPU (199 samples), however busy the machine.
      const r = await sampleForCpu(['sample', '-x', String(child.pid), '-F', '199'], child.pid!, 1);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /runs no CPython interpreter that mixprof recognises; profiling native and kernel frames only/);
      const stacks = parseFolded(r.stdout);
      assert.ok(stacks.reduce((n, s) => n + s.count, 0) > 50);
    } finally {
      child.kill('SIGKILL');
    }
  });

  test('[F09] the target exiting during sampling still writes every sample', async () => {
    const python = pyenvPython('3.11.7');
    // It exits when its stdin closes: once sampled for a second of its CPU time (199 samples), however long attaching took.
    const w = await startWorkload<{ pid: number }>(python.executable, [path.join(WORKLOADS, 'short-lived.py'), '-'], 60_000, {}, 'pipe');
    try {
      const run = await startSampling(['sample', '-x', String(w.pid), '-t', '300', '-F', '199', '--mark-python']);
      await waitForCpuSeconds(w.pid, 1, 120_000);
      w.child.stdin!.end();
      const r = await run.child;
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /\(target exited\)/);
      const stacks = parseFolded(r.stdout);
      const samples = stacks.reduce((n, s) => n + s.count, 0);
      assert.ok(samples > 100, `${samples} samples`);
      assert.ok(stacks.some((s) => s.frames.some((f) => f.startsWith('<module> (') && f.endsWith('_[j]'))));
      // Native names come from files and a maps snapshot, so they survive the target.
      const named = stacks.filter((s) => s.frames.some((f) => !f.endsWith('_[j]') && !f.endsWith('_[k]') && !f.startsWith('[')));
      assert.ok(named.length > 0, 'no named native frame after the target exited');
    } finally {
      await w.stop();
    }
  });

  test('[F10] bpftrace dies with mixprof even when mixprof is killed with SIGKILL', async () => {
    const python = pyenvPython('3.11.7');
    const w = await startWorkload(python.executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const { child } = await startSampling(['sample', '-x', String(w.pid), '-o', '/dev/null', '--unwind', 'fp']);
      const { stdout } = await execa('pgrep', ['-P', String(child.pid), '-x', 'bpftrace']);
      const bpftrace = Number(stdout.trim());
      assert.ok(bpftrace > 0);
      child.kill('SIGKILL');
      await child;
      // The parent-death signal is delivered at once; allow the kernel a moment to reap.
      const deadline = Date.now() + 10_000;
      while (existsSync(`/proc/${bpftrace}`) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(existsSync(`/proc/${bpftrace}`), false, `bpftrace ${bpftrace} still running`);
    } finally {
      await w.stop();
    }
  });

  test('[F11] the DWARF sampler leaves no BPF program behind when mixprof is killed with SIGKILL', async () => {
    const python = pyenvPython('3.11.7');
    const w = await startWorkload(python.executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const { child } = await startSampling(['sample', '-x', String(w.pid), '-o', '/dev/null', '--unwind', 'dwarf']);
      const programs = await bpfProgramIds(child.pid!);
      assert.ok(programs.length > 0, 'the sampler holds no BPF program');
      child.kill('SIGKILL');
      await child;
      // The program goes with the last file descriptor: the kernel frees it as the process is reaped.
      const deadline = Date.now() + 10_000;
      let left = programs;
      while (left.length > 0 && Date.now() < deadline) {
        const alive = await Promise.all(left.map(async (id) => (await execa('bpftool', ['prog', 'show', 'id', String(id)], { reject: false })).exitCode === 0));
        left = left.filter((_, i) => alive[i]);
        if (left.length > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.deepEqual(left, [], `BPF programs ${left.join(', ')} still loaded`);
    } finally {
      await w.stop();
    }
  });
});

/** Ids of the BPF programs a process holds open. */
async function bpfProgramIds(pid: number): Promise<number[]> {
  const ids: number[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (link !== 'anon_inode:bpf-prog') continue;
    const id = /prog_id:\s*(\d+)/.exec(await readFile(`/proc/${pid}/fdinfo/${fd}`, 'utf8'))?.[1];
    if (id) ids.push(Number(id));
  }
  return ids;
}
