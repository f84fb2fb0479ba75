/**
 * bpftrace releases other than the system's (Debian 12's 0.17): Debian 13's
 * 0.23 and sid's 0.27, unpacked with their libraries by
 * test/fixtures/pythons.sh. The chain and --gil tests run the bpftrace walk
 * under each; here, what a release needs from the machine: 0.27 reads the
 * kernel's events from tracefs as it starts, which mixprof mounts when it is
 * missing, or says in one line how to. Each run is in a mount namespace of
 * its own where tracefs is not mounted, whatever the machine has.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, runMixprof, startWorkload } from '../helpers/processes.js';
import { debianPython, pyenvPython, testBpftrace } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { runWithoutTracefs } from '../helpers/tracefs.js';

describe("tracefs, which sid's bpftrace 0.27 reads as it starts", () => {
  let bpftrace: string;
  before(async () => {
    assertRoot();
    bpftrace = await testBpftrace('sid-bpftrace');
  });

  test('[F21] tracefs is not mounted: mixprof mounts it, says so in one line, and samples', async () => {
    const w = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const r = await runWithoutTracefs(['sample', '-x', String(w.pid), '-t', '2', '--unwind', 'fp', '--mark-python'], { MIXPROF_BPFTRACE: bpftrace });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.equal(r.stderr.split('\n').filter((l) => l.includes('tracefs')).length, 1, r.stderr);
      assert.match(r.stderr, /^mixprof: mounted tracefs on \/sys\/kernel\/tracing \(bpftrace 0\.27\.\d+ reads the kernel's events there\)$/m);
      const stacks = parseFolded(r.stdout);
      assert.ok(stacks.some((s) => pythonNames(s.frames).length > 0), r.stdout.slice(0, 500));
    } finally {
      await w.stop();
    }
  });

  test('[F22] tracefs is not mounted and cannot be: one error line saying how to mount it, no bpftrace started', async () => {
    const w = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const r = await runWithoutTracefs(['sample', '-x', String(w.pid), '-t', '2', '--unwind', 'fp'], { MIXPROF_BPFTRACE: bpftrace }, true);
      assert.equal(r.exitCode, 1, r.stderr);
      const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('mixprof: error:'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /bpftrace 0\.27\.\d+ needs tracefs, which is not mounted, and mounting it on \/sys\/kernel\/tracing failed: .+ \(mount it with `mount -t tracefs nodev \/sys\/kernel\/tracing`/);
      assert.equal(await bpftraceCount(), 0);
    } finally {
      await w.stop();
    }
  });
});

describe('a host without bpftrace', () => {
  before(() => assertRoot());

  test("[F23] auto needs no bpftrace, also for sid's 3.15, which keeps frame pointers: the DWARF sampler samples it", async () => {
    const w = await startWorkload((await debianPython('sid-3.15')).executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const r = await runMixprof(['sample', '-x', String(w.pid), '-t', '2', '--mark-python'], { env: { MIXPROF_BPFTRACE: '/nonexistent/bpftrace' } });
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /^mixprof: native stacks unwound with DWARF call frame information \(the default; --unwind fp walks frame pointers with bpftrace instead\)$/m);
      assert.doesNotMatch(r.stderr, /bpftrace was not found/);
      const stacks = parseFolded(r.stdout);
      assert.ok(stacks.some((s) => pythonNames(s.frames).includes('<module>')), r.stdout.slice(0, 500));
    } finally {
      await w.stop();
    }
  });
});
