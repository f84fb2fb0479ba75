/** `mixprof doctor`'s verdicts on the machine's settings, from the text each file holds. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatReport } from '../../src/cli/commands/doctor.js';
import { judgeBtf, judgeLockdown, judgePrivileges, judgePtraceScope, judgeSampleRate, judgeTracefs, summarize, type CheckResult } from '../../src/doctor/judge.js';

const status = (uid: number, capEff: string): string => `Name:\tnode\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nCapEff:\t${capEff}\n`;

describe("the doctor's verdicts", () => {
  test('privileges: root with every capability passes; a user without them fails, saying what to grant', () => {
    assert.equal(judgePrivileges(status(0, '000001ffffffffff')).status, 'ok');
    assert.match(judgePrivileges(status(0, '000001ffffffffff')).detail, /^root,/);
    const user = judgePrivileges(status(1000, '0000000000000000'));
    assert.equal(user.status, 'fail');
    assert.match(user.detail, /uid 1000, missing CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE/);
    assert.match(user.fix!, /sudo/);
    // CAP_SYS_ADMIN stands in for CAP_BPF and CAP_PERFMON; CAP_SYS_PTRACE is still needed.
    const admin = judgePrivileges(status(0, (1n << 21n).toString(16)));
    assert.equal(admin.status, 'fail');
    assert.match(admin.detail, /missing CAP_SYS_PTRACE$/);
  });

  test('kernel: without BTF the DWARF sampler cannot load', () => {
    assert.equal(judgeBtf(true, '6.1.0').status, 'ok');
    const none = judgeBtf(false, '5.4.0');
    assert.equal(none.status, 'fail');
    assert.match(none.fix!, /CONFIG_DEBUG_INFO_BTF/);
  });

  test('lockdown: confidentiality fails, integrity and none pass, no file passes', () => {
    assert.equal(judgeLockdown('none integrity [confidentiality]\n').status, 'fail');
    assert.equal(judgeLockdown('none [integrity] confidentiality\n').status, 'ok');
    assert.equal(judgeLockdown('[none] integrity confidentiality\n').status, 'ok');
    assert.equal(judgeLockdown(null).status, 'ok');
  });

  test('ptrace scope: 3 fails (even root cannot read memory), 0 to 2 and no Yama pass', () => {
    assert.equal(judgePtraceScope('3\n').status, 'fail');
    for (const scope of ['0\n', '1\n', '2\n', null]) assert.equal(judgePtraceScope(scope).status, 'ok');
  });

  test('sample rate: a kernel limit below the usual rates warns with the sysctl to raise it', () => {
    assert.equal(judgeSampleRate('100000\n', 1000).status, 'ok');
    const low = judgeSampleRate('500\n', 1000);
    assert.equal(low.status, 'warn');
    assert.match(low.detail, /at most 500 samples/);
    assert.match(low.fix!, /sysctl kernel\.perf_event_max_sample_rate=10000/);
    assert.equal(judgeSampleRate(null, 1000).status, 'ok');
  });

  test('tracefs: missing only matters to a bpftrace that needs it', () => {
    assert.equal(judgeTracefs(true, true, 'mount X').status, 'ok');
    assert.equal(judgeTracefs(false, false, 'mount X').status, 'ok');
    assert.equal(judgeTracefs(null, false, 'mount X').status, 'ok');
    const needed = judgeTracefs(true, false, 'mount X');
    assert.equal(needed.status, 'warn');
    assert.match(needed.fix!, /`mount X`/);
  });

  test('summary: any failure is "not ready"; warnings alone are ready', () => {
    const ok: CheckResult = { name: 'a', status: 'ok', detail: 'fine' };
    const warn: CheckResult = { name: 'b', status: 'warn', detail: 'meh', fix: 'do x' };
    const fail: CheckResult = { name: 'c', status: 'fail', detail: 'broken', fix: 'do y' };
    assert.deepEqual(summarize([ok]), { ready: true, line: 'ready' });
    assert.deepEqual(summarize([ok, warn]), { ready: true, line: 'ready, with 1 warning' });
    assert.deepEqual(summarize([fail, warn, warn]), { ready: false, line: 'not ready: 1 problem, 2 warnings' });
  });

  test('the report: one line per check with its fix, names aligned, then the summary', () => {
    const text = formatReport([
      { name: 'kernel', status: 'ok', detail: 'fine' },
      { name: 'bpftrace', status: 'warn', detail: 'not found', fix: 'apt-get install bpftrace' },
    ]);
    assert.equal(text, '  ok    kernel    fine\n  warn  bpftrace  not found; to fix: apt-get install bpftrace\nmixprof doctor: ready, with 1 warning\n');
  });
});
