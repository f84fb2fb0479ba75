/**
 * The unwind rows compiled from real files' .eh_frame (native/src/cfi_table.cc),
 * without root: sorted, each one the rule libdw gives at the first, a middle
 * and the last address of its range (a gap where libdw has none), and almost
 * all of a kind the unwinder steps with. That the rows unwind as libdwfl does
 * is tested on live processes (test/integration/cfi-unwind.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nativeAddon } from '../../src/native.js';
import { pyenvPython } from '../helpers/pythons.js';

const addon = nativeAddon();

/** bpf/cfi-unwind.h's kinds. */
const CFI_GAP = 0;
const CFI_PLT = 3;
const CFI_OUTERMOST = 4;
const CFI_UNSUPPORTED = 5;

const FILES: readonly (readonly [string, string, { plt?: boolean; outermost?: boolean }])[] = [
  ["Debian 12's python3.11 (static, stripped)", '/usr/bin/python3.11', { plt: true, outermost: true }],
  ["Debian 12's libc", '/lib/x86_64-linux-gnu/libc.so.6', { outermost: true }],
  ["pyenv's libpython3.11 (built without frame pointers)", pyenvPython('3.11.7').executable.replace(/bin\/python3\.11$/, 'lib/libpython3.11.so.1.0'), {}],
];

for (const [label, file, has] of FILES) {
  test(`${label}: the rows are the CFI's rules, in order, almost all of a kind the unwinder steps with`, () => {
    const rows = addon.cfiRows(file);
    assert.ok(rows.pc.length > 10_000, `${rows.pc.length} rows`);
    for (let i = 1; i < rows.pc.length; i++) assert.ok(rows.pc[i]! > rows.pc[i - 1]!, `row ${i} is not after row ${i - 1}`);
    assert.deepEqual([...rows.mismatches].map((a) => `0x${a.toString(16)}`), []);
    const kinds = [...rows.kind];
    const unsupported = kinds.filter((k) => k === CFI_UNSUPPORTED).length;
    const described = kinds.filter((k) => k !== CFI_GAP).length;
    assert.ok(unsupported <= 0.01 * described, `${unsupported} of ${described} rows unsupported`);
    // The PLT's computed CFA, and _start/clone3 whose return address is undefined.
    if (has.plt) assert.ok(kinds.includes(CFI_PLT), 'no PLT row');
    if (has.outermost) assert.ok(kinds.includes(CFI_OUTERMOST), 'no outermost row');
  });
}

test('a file that is not ELF is refused with the reason', () => {
  assert.throws(() => addon.cfiRows('/etc/hostname'), /cannot read \/etc\/hostname/);
});
