import assert from 'node:assert/strict';
import { test } from 'node:test';
import { effectiveCapabilities, missingCapabilities } from '../../src/target/privileges.js';
import { parseBpftraceVersion } from '../../src/sampler/bpftrace.js';

test('capabilities from /proc/self/status', () => {
  assert.equal(effectiveCapabilities('Name:\tx\nCapEff:\t000001ffffffffff\n'), 0x1ffffffffffn);
  assert.deepEqual(missingCapabilities(0x1ffffffffffn), []);
  assert.deepEqual(missingCapabilities(0n), ['CAP_BPF', 'CAP_PERFMON', 'CAP_SYS_PTRACE']);
  // CAP_SYS_ADMIN covers BPF and perf events on kernels before 5.8.
  assert.deepEqual(missingCapabilities((1n << 21n) | (1n << 19n)), []);
});

test('bpftrace versions', () => {
  assert.deepEqual(parseBpftraceVersion('bpftrace v0.17.0\n'), [0, 17, 0]);
  assert.deepEqual(parseBpftraceVersion('bpftrace v0.21.2-dirty'), [0, 21, 2]);
  assert.equal(parseBpftraceVersion('nope'), null);
});
