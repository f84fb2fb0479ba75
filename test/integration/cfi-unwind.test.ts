/**
 * The DWARF sampler unwinds user stacks with the modules' .eh_frame compiled
 * into rows (native/src/cfi_table.cc, bpf/cfi-unwind.h), in the kernel and,
 * for what the kernel leaves, in user space; libdwfl's unwinder stays the
 * reference. With MIXPROF_CHECK_UNWIND=1 every stack the rows unwind (in
 * either place) is unwound by libdwfl too: they must give the same frames on
 * real processes of each kind of build (a shared libpython, static and
 * stripped interpreters with and without frame pointers, a free-threaded
 * one), in CPU and in wall-clock mode (stacks stopped in system calls).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChainsReady } from '../helpers/chains.js';
import { WORKLOADS } from '../helpers/paths.js';
import { sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, systemPython, type TestPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

/** Stacks whose rows and libdwfl may differ: none were seen; a stack read while the target changes it could. */
const MAX_DIFFERING = 0.01;
/** Stacks the rows leave to libdwfl (signal frames, rules they do not hold). */
const MAX_LEFT_TO_LIBDWFL = 0.05;

/**
 * Stacks the kernel unwinds, at least: all but those met before their
 * modules' rows were loaded (the first poll's) and those the rows do not hold.
 */
const MIN_IN_KERNEL = 0.5;

interface UnwindCheck {
  readonly tables: number;
  readonly libdwfl: number;
  readonly checked: number;
  readonly differed: number;
  readonly kernelChecked: number;
  readonly kernelDiffered: number;
}

function unwindCheck(stderr: string): UnwindCheck {
  const m = /unwinds of process \d+: (\d+) with the compiled rows, (\d+) by libdwfl; (\d+) checked against libdwfl, (\d+) differed; in the kernel \d+, (\d+) checked against libdwfl, (\d+) differed/.exec(stderr);
  assert.ok(m, `no unwind check in: ${stderr}`);
  const [tables, libdwfl, checked, differed, kernelChecked, kernelDiffered] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  return { tables, libdwfl, checked, differed, kernelChecked, kernelDiffered };
}

const CASES: readonly (readonly [string, () => TestPython | Promise<TestPython>])[] = [
  ['pyenv CPython 3.11 (shared libpython, no frame pointers)', () => pyenvPython('3.11.7')],
  ["Debian 12's /usr/bin/python3.11 (static, stripped)", () => systemPython('/usr/bin/python3.11')],
  ["Debian sid's CPython 3.15 (static, stripped, frame pointers)", () => debianPython('sid-3.15')],
  ['free-threaded CPython 3.13t', () => debianPython('trixie-3.13t')],
];

for (const [label, interpreter] of CASES) {
  describe(`the compiled rows unwind as libdwfl does: ${label}`, () => {
    let workload: Workload<ChainsReady>;
    before(async () => {
      assertRoot();
      workload = await startWorkload<ChainsReady>((await interpreter()).executable, [path.join(WORKLOADS, 'chains.py')]);
    });
    after(async () => {
      await workload?.stop();
    });

    for (const mode of ['cpu', 'wall'] as const) {
      test(`${mode} mode: the same frames for every stack, almost all unwound with the rows`, async () => {
        // Until the target has used 2 s of CPU (about 1000 samples at 499 Hz), however busy the machine.
        const r = await sampleForCpu(['sample', '-x', String(workload.pid), '-F', '499', '--mode', mode, '-o', '/dev/null'], workload.pid, 2, 120_000, { MIXPROF_CHECK_UNWIND: '1' });
        assert.equal(r.exitCode, 0, r.stderr);
        const check = unwindCheck(r.stderr);
        const all = check.tables + check.libdwfl;
        assert.ok(all >= 200, `only ${all} stacks unwound`);
        assert.equal(check.checked, check.tables);
        assert.ok(check.libdwfl <= MAX_LEFT_TO_LIBDWFL * all, `${check.libdwfl} of ${all} stacks left to libdwfl`);
        assert.ok(check.differed <= MAX_DIFFERING * check.checked, `${check.differed} of ${check.checked} stacks unwound differently`);
        // Checking, the kernel sends its unwind and the copy both: each unwind it made is held to libdwfl's of the copy.
        assert.ok(check.kernelChecked >= MIN_IN_KERNEL * all, `the kernel unwound only ${check.kernelChecked} of ${all} stacks`);
        assert.ok(check.kernelDiffered <= MAX_DIFFERING * check.kernelChecked, `${check.kernelDiffered} of ${check.kernelChecked} stacks unwound differently in the kernel`);
      });
    }

    test('without checking, the kernel unwinds most stacks whole (those not sent short) and the report says how many', async () => {
      const r = await sampleForCpu(['sample', '-x', String(workload.pid), '-F', '499', '-o', '/dev/null'], workload.pid, 2, 120_000);
      assert.equal(r.exitCode, 0, r.stderr);
      const m = /native stack complete: ([\d.]+)%/.exec(r.stderr);
      const samples = Number(/mixprof: (\d+) samples at/.exec(r.stderr)?.[1] ?? 0);
      // Samples the sampler sent short (its ring nearly full: a loaded machine drained it late) are not the unwinder's to complete.
      const short = Number(/(\d+) samples? kept only the native frames the kernel could unwind/.exec(r.stderr)?.[1] ?? 0);
      assert.ok(m && samples > short, `no samples: ${r.stderr}`);
      const complete = (Number(m[1]) / 100) * samples;
      assert.ok(complete >= 0.95 * (samples - short) - 1, `native stacks not complete: ${r.stderr}`);
      const k = /native stacks unwound in the kernel: ([\d.]+)%/.exec(r.stderr);
      assert.ok(k, `no kernel unwind share in: ${r.stderr}`);
      assert.ok(Number(k[1]) >= 100 * MIN_IN_KERNEL, `only ${k[1]}% unwound in the kernel`);
    });

    if (label.startsWith('pyenv')) {
      test('rows 8 bytes off (MIXPROF_FAULT=cfi-rows): the check sees most stacks differ', async () => {
        const r = await sampleForCpu(['sample', '-x', String(workload.pid), '-F', '499', '-o', '/dev/null'], workload.pid, 1, 120_000, { MIXPROF_CHECK_UNWIND: '1', MIXPROF_FAULT: 'cfi-rows' });
        assert.equal(r.exitCode, 0, r.stderr);
        const check = unwindCheck(r.stderr);
        assert.ok(check.checked >= 100, `only ${check.checked} stacks checked`);
        assert.ok(check.differed >= 0.5 * check.checked, `${check.differed} of ${check.checked} stacks differed`);
        // The kernel's rows are skewed too: its unwinds differ, or lose their way and are left to user space.
        const agreed = check.kernelChecked - check.kernelDiffered;
        assert.ok(agreed <= 0.5 * check.checked, `${agreed} of ${check.checked} stacks unwound in the kernel as libdwfl does`);
      });
    }
  });
}
