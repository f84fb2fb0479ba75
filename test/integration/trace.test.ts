/**
 * `mixprof trace` on real interpreters with USDT probes: Debian's python3.11
 * (whose call entries need the line probe) and sid's python3.15. The
 * workload (test/workloads/trace-calls.py) runs a known number of rounds,
 * each a caller calling a callee twice, while traced, and times them itself:
 * the counts must be exact and the times agree within 10%. Interpreters
 * without the probes are refused, or traced for GC and imports only, in one
 * line.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, nextJsonLine, runMixprof, startContainerWorkload, startSampling, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, systemPython, testBpftrace } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

interface TraceJson {
  pid: number;
  calls: number;
  unattributed_calls: number;
  functions: { function: string; module: string; qualname: string; file: string; line: number; calls: number; own_ns: number; total_ns: number }[];
  gc: { generation: number; pauses: number; total_ns: number; longest_ns: number }[];
  imports: { module: string; imports: number; ns: number }[];
  traced: { functions: boolean; gc: boolean; imports: boolean };
}

interface Done {
  rounds: number;
  depth: number;
  recurse_ns: number;
  collections: number;
  callee_ns: number;
  caller_ns: number;
}

const ROUNDS = 200;
const WORKLOAD = path.join(WORKLOADS, 'trace-calls.py');


/** The line of `def name(` in the workload. */
async function defLine(name: string): Promise<number> {
  const lines = (await readFile(WORKLOAD, 'utf8')).split('\n');
  const index = lines.findIndex((l) => l.startsWith(`def ${name}(`));
  assert.ok(index >= 0, `def ${name} in ${WORKLOAD}`);
  return index + 1;
}

const within = (actual: number, expected: number, share: number): boolean => Math.abs(actual - expected) <= expected * share;

const PROBED: readonly (readonly [string, () => Promise<string>])[] = [
  ["3.11 (Debian's)", async () => systemPython('/usr/bin/python3.11').executable],
  ["3.15 (Debian sid's)", async () => (await debianPython('sid-3.15')).executable],
];

for (const [version, executable] of PROBED) {
  describe(`mixprof trace, Python ${version}`, () => {
    let dir: string;
    let workload: Workload<{ pid: number }>;
    let report: TraceJson;
    let done: Done;
    let stderr: string;

    before(async () => {
      assertRoot();
      dir = await mkdtemp(path.join(tmpdir(), 'mixprof-trace-'));
      workload = await startWorkload<{ pid: number }>(await executable(), [WORKLOAD, String(ROUNDS)], 60_000, {}, 'pipe');
      const out = path.join(dir, 'trace.json');
      // No -t: traced from the attach to Ctrl-C, the workload's rounds all inside.
      const run = await startSampling(['trace', '-x', String(workload.pid), '-o', out], 60_000, {}, [MIXPROF], /tracing calls/);
      const finished = nextJsonLine<Done>(workload, 'DONE', 120_000);
      workload.child.stdin!.write('go\n');
      done = await finished;
      const result = await run.stop('SIGINT');
      stderr = result.stderr;
      assert.equal(result.exitCode, 0, stderr);
      report = JSON.parse(await readFile(out, 'utf8')) as TraceJson;
    });
    after(async () => {
      await workload?.stop();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    const fn = (name: string) => {
      const found = report.functions.find((f) => f.function === `trace-calls.${name}`);
      assert.ok(found, `trace-calls.${name} among ${report.functions.map((f) => f.function).join(', ')}`);
      return found;
    };

    test('counts every call exactly: the caller once a round, the callee twice', () => {
      assert.equal(done.rounds, ROUNDS);
      assert.equal(fn('caller').calls, ROUNDS);
      assert.equal(fn('callee').calls, 2 * ROUNDS);
      assert.equal(report.unattributed_calls, 0);
    });

    test('names each function by module.qualname, its file and its first line', async () => {
      const callee = fn('callee');
      assert.equal(callee.qualname, 'callee');
      assert.equal(callee.file, WORKLOAD);
      assert.equal(callee.line, await defLine('callee'));
      assert.equal(fn('caller').line, await defLine('caller'));
    });

    test('a recursion: every call counted, its TOTAL counted once (the outermost call), not once per level', () => {
      const recurse = fn('recurse');
      assert.equal(recurse.calls, (done.depth + 1) * ROUNDS);
      assert.ok(within(recurse.total_ns, done.recurse_ns, 0.1), `recurse TOTAL ${recurse.total_ns} ns, timed by itself ${done.recurse_ns} ns`);
    });

    test("OWN and TOTAL agree with the workload's own timing within 10%", () => {
      const callee = fn('callee');
      const caller = fn('caller');
      assert.ok(within(callee.total_ns, done.callee_ns, 0.1), `callee TOTAL ${callee.total_ns} ns, timed by itself ${done.callee_ns} ns`);
      // A leaf: its own time is its total.
      assert.ok(within(callee.own_ns, done.callee_ns, 0.1), `callee OWN ${callee.own_ns} ns, timed by itself ${done.callee_ns} ns`);
      assert.ok(within(caller.total_ns, done.caller_ns, 0.1), `caller TOTAL ${caller.total_ns} ns, timed by itself ${done.caller_ns} ns`);
      // The caller's own time is its total less its callees'.
      assert.ok(within(caller.own_ns + callee.total_ns, caller.total_ns, 0.1), `caller OWN ${caller.own_ns} + callee TOTAL ${callee.total_ns} against caller TOTAL ${caller.total_ns}`);
      assert.ok(caller.own_ns < caller.total_ns / 2, `caller OWN ${caller.own_ns} ns of TOTAL ${caller.total_ns} ns`);
    });

    test('reports the garbage collections and the import the workload made', () => {
      const full = report.gc.find((g) => g.generation === 2);
      assert.ok(full && full.pauses >= done.collections, `generation 2 pauses: ${JSON.stringify(report.gc)}`);
      assert.ok(full.longest_ns > 0 && full.total_ns >= full.longest_ns);
      const imported = report.imports.find((i) => i.module === 'colorsys');
      assert.ok(imported && imported.ns > 0, `imports: ${JSON.stringify(report.imports)}`);
    });

    test('the table on stderr lists the functions; no bpftrace is left behind', async () => {
      assert.match(stderr, /CALLS\s+OWN\s+OWN\/CALL\s+TOTAL\s+TOTAL\/CALL\s+FUNCTION/);
      assert.match(stderr, new RegExp(`\\b${2 * ROUNDS}\\s.*trace-calls\\.callee \\(`));
      assert.equal(await bpftraceCount(), 0);
    });
  });
}

describe('mixprof trace: interpreters without the probes, and mistakes', () => {
  test("[B19] pyenv's 3.12 has no probes: one line that says so and what to use instead", async () => {
    assertRoot();
    const workload = await startWorkload<{ pid: number }>(pyenvPython('3.12.1').executable, [WORKLOAD, '1'], 60_000, {}, 'pipe');
    try {
      const r = await runMixprof(['trace', '-x', String(workload.pid), '-t', '1']);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr, /has no USDT probes to trace: it was built without --with-dtrace.*mixprof sample/);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    } finally {
      await workload.stop();
    }
  });

  test("sid's 3.14 fires no call probes: said in a line, and its collections are traced", async () => {
    assertRoot();
    const workload = await startWorkload<{ pid: number }>((await debianPython('sid-3.14')).executable, [WORKLOAD, '3'], 60_000, {}, 'pipe');
    const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-trace-'));
    try {
      const out = path.join(dir, 'trace.json');
      const run = await startSampling(['trace', '-x', String(workload.pid), '-o', out], 60_000, {}, [MIXPROF], /tracing garbage collections/);
      const finished = nextJsonLine<Done>(workload, 'DONE', 60_000);
      workload.child.stdin!.write('go\n');
      await finished;
      const r = await run.stop('SIGINT');
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /fires no function__entry\/return probes \(CPython 3\.12 to 3\.14 dropped them\)/);
      const report = JSON.parse(await readFile(out, 'utf8')) as TraceJson;
      assert.deepEqual(report.traced, { functions: false, gc: true, imports: true });
      assert.deepEqual(report.functions, []);
      assert.ok((report.gc.find((g) => g.generation === 2)?.pauses ?? 0) >= 3, JSON.stringify(report.gc));
    } finally {
      await workload.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('[F25] the target exits while traced: its calls until then are reported, and trace ends by itself', async () => {
    assertRoot();
    const workload = await startWorkload<{ pid: number }>(systemPython('/usr/bin/python3.11').executable, [WORKLOAD, '50', '1000'], 60_000, {}, 'pipe');
    const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-trace-'));
    try {
      const out = path.join(dir, 'trace.json');
      const run = await startSampling(['trace', '-x', String(workload.pid), '-o', out], 60_000, {}, [MIXPROF], /tracing calls/);
      const finished = nextJsonLine<Done>(workload, 'DONE', 60_000);
      workload.child.stdin!.write('go\n');
      await finished;
      // Its input closed, the workload exits.
      workload.child.stdin!.end();
      const r = await run.child;
      assert.equal(r.exitCode, 0, r.stderr);
      const report = JSON.parse(await readFile(out, 'utf8')) as TraceJson;
      assert.equal(report.functions.find((f) => f.function === 'trace-calls.caller')?.calls, 50);
      assert.equal(report.functions.find((f) => f.function === 'trace-calls.callee')?.calls, 100);
      assert.equal(await bpftraceCount(), 0);
    } finally {
      await workload.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("in a container (its own mount and PID namespaces, the interpreter at a path the host lacks): traced with sid's bpftrace 0.27, functions named; 0.17 refused in one line", async () => {
    assertRoot();
    // Debian's 3.11, unpacked into a private root (test/fixtures/pythons.sh).
    const debian311 = await debianPython('debian-3.11');
    const bpftrace = await testBpftrace('sid-bpftrace');
    const { pid, workload } = await startContainerWorkload<{ pid: number }>(path.resolve(path.dirname(debian311.executable), '..', '..'), WORKLOAD, ['forever']);
    const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-trace-'));
    try {
      const out = path.join(dir, 'trace.json');
      const r = await runMixprof(['trace', '-x', String(pid), '-t', '1', '-o', out], { env: { MIXPROF_BPFTRACE: bpftrace } });
      assert.equal(r.exitCode, 0, r.stderr);
      const report = JSON.parse(await readFile(out, 'utf8')) as TraceJson;
      const calls = (name: string): number => report.functions.find((f) => f.function === `trace-calls.${name}`)?.calls ?? 0;
      assert.ok(calls('caller') > 100, JSON.stringify(report.functions));
      // Rounds cut by the start and the end of tracing may lack a call or two.
      assert.ok(Math.abs(calls('callee') - 2 * calls('caller')) <= 2, `callee ${calls('callee')}, caller ${calls('caller')}`);
      assert.equal(report.functions.find((f) => f.function === 'trace-calls.callee')?.file, '/work/trace-calls.py');
      assert.equal(report.unattributed_calls, 0);
      const old = await runMixprof(['trace', '-x', String(pid), '-t', '1']);
      assert.notEqual(old.exitCode, 0);
      assert.match(old.stderr, /runs in a container \(another mount namespace\), whose USDT probes bpftrace 0\.17\.\d+ cannot attach to .*use bpftrace 0\.27\.0 or newer/);
      assert.equal(old.stderr.trim().split('\n').length, 1, old.stderr);
      assert.equal(await bpftraceCount(), 0);
    } finally {
      await workload.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('[B18] a bad --match and a missing process are one line each', async () => {
    const bad = await runMixprof(['trace', '-x', '1', '--match', 'x(']);
    assert.notEqual(bad.exitCode, 0);
    assert.match(bad.stderr, /--match x\(: not a regular expression/);
    const gone = await runMixprof(['trace', '-x', '999999999']);
    assert.notEqual(gone.exitCode, 0);
    assert.match(gone.stderr, /no process with PID 999999999/);
    assert.equal(gone.stderr.trim().split('\n').length, 1, gone.stderr);
  });
});
