/**
 * `mixprof doctor` on this machine, and on the same machine with a part taken
 * away: bpftrace missing, the addon not loading, tracefs not mounted for a
 * bpftrace that needs it, no privileges. Each check is one line; what is
 * broken says what to do; the status says whether sampling can work.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { execa } from 'execa';
import { MIXPROF } from '../helpers/paths.js';
import { bpftraceCount, runMixprof } from '../helpers/processes.js';
import { testBpftrace } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { NOBODY } from '../helpers/serve.js';
import { runWithoutTracefs } from '../helpers/tracefs.js';

const CHECKS = ['privileges', 'kernel', 'lockdown', 'ptrace', 'native addon', 'DWARF sampler', 'bpftrace', 'tracefs', 'sample rate', 'profile store'];

interface Line {
  readonly status: 'ok' | 'warn' | 'FAIL';
  readonly name: string;
  readonly text: string;
}

/** The report's check lines by name, and its summary. */
function parseReport(stdout: string): { lines: Map<string, Line>; summary: string } {
  const lines = new Map<string, Line>();
  const text = stdout.trimEnd().split('\n');
  for (const line of text.slice(0, -1)) {
    const m = /^ {2}(ok|warn|FAIL) {2,}(.+?) {2,}(\S.*)$/.exec(line);
    assert.ok(m, `not a check line: ${JSON.stringify(line)}`);
    const name = CHECKS.find((c) => m[2]!.trim() === c);
    assert.ok(name, `unknown check ${m[2]}`);
    lines.set(name, { status: m[1] as Line['status'], name, text: m[3]! });
  }
  return { lines, summary: text.at(-1)! };
}

describe('mixprof doctor', () => {
  before(() => assertRoot());

  test('on this machine, as root: every check on one line in order, the samplers tried for real, ready', async () => {
    const r = await runMixprof(['doctor']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const { lines, summary } = parseReport(r.stdout);
    assert.deepEqual([...lines.keys()], CHECKS);
    for (const name of ['privileges', 'kernel', 'native addon', 'DWARF sampler', 'bpftrace']) assert.equal(lines.get(name)!.status, 'ok', r.stdout);
    assert.match(lines.get('bpftrace')!.text, /^\d+\.\d+\.\d+ \(.+\) runs programs/);
    assert.match(summary, /^mixprof doctor: ready/);
    assert.equal(await bpftraceCount(), 0);
  });

  test('--json gives the same checks for tools', async () => {
    const r = await runMixprof(['doctor', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { ready: boolean; checks: { name: string; status: string; detail: string }[] };
    assert.equal(report.ready, true);
    assert.deepEqual(report.checks.map((c) => c.name), CHECKS);
  });

  test('bpftrace missing: a warning that only --unwind fp needs it, how to install it, still ready', async () => {
    const r = await runMixprof(['doctor'], { env: { MIXPROF_BPFTRACE: '/nonexistent/bpftrace' } });
    assert.equal(r.exitCode, 0, r.stdout);
    const line = parseReport(r.stdout).lines.get('bpftrace')!;
    assert.equal(line.status, 'warn');
    assert.match(line.text, /bpftrace was not found .*only --unwind fp needs it.*; to fix: install it with `apt-get install bpftrace`/);
  });

  test('the addon does not load: the addon and the DWARF sampler fail, each saying what to do, exit 1', async () => {
    const r = await runMixprof(['doctor'], { env: { MIXPROF_FAULT: 'addon-load' } });
    assert.equal(r.exitCode, 1, r.stdout);
    const { lines, summary } = parseReport(r.stdout);
    assert.equal(lines.get('native addon')!.status, 'FAIL');
    assert.match(lines.get('native addon')!.text, /could not be loaded.*; to fix: build it/);
    assert.equal(lines.get('DWARF sampler')!.status, 'FAIL');
    assert.match(summary, /^mixprof doctor: not ready: 2 problems/);
  });

  test("tracefs not mounted, with sid's bpftrace 0.27 that needs it: a warning with the mount command; the doctor mounts nothing", async () => {
    const bpftrace = await testBpftrace('sid-bpftrace');
    const r = await runWithoutTracefs(['doctor'], { MIXPROF_BPFTRACE: bpftrace });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const { lines } = parseReport(r.stdout);
    assert.equal(lines.get('tracefs')!.status, 'warn');
    assert.match(lines.get('tracefs')!.text, /to fix: mount it now with `mount -t tracefs nodev \/sys\/kernel\/tracing`/);
    assert.match(lines.get('bpftrace')!.text, /^0\.27\.\d+ .*not run, as it needs tracefs/);
    assert.doesNotMatch(r.stderr, /mounted tracefs/);
  });

  test('as an unprivileged user: privileges and the DWARF sampler fail, saying to run as root, exit 1', async () => {
    assert.ok(existsSync(MIXPROF));
    const r = await execa(MIXPROF, ['doctor'], { uid: NOBODY, gid: NOBODY, cwd: '/', reject: false, timeout: 120_000, env: {} });
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const { lines } = parseReport(r.stdout);
    assert.equal(lines.get('privileges')!.status, 'FAIL');
    assert.match(lines.get('privileges')!.text, /^uid 65534, missing CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE; to fix: run mixprof as root/);
    assert.equal(lines.get('DWARF sampler')!.status, 'FAIL');
    assert.equal(await bpftraceCount(), 0);
  });
});
