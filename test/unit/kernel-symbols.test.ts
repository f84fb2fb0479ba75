import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { KernelSymbols, kallsymsName, parseKallsyms } from '../../src/symbolize/kernel.js';

const KALLSYMS = [
  'ffffffff81000000 T _stext',
  'ffffffff81000100 t helper',
  'ffffffff81000200 D some_data',
  'ffffffff81000300 T vfs_read',
  'ffffffffc0a01000 t ext4_helper\t[ext4]',
  '',
].join('\n');

test('kernel addresses are named by the text symbol at or below them', () => {
  const k = new KernelSymbols(KALLSYMS);
  assert.equal(k.available, true);
  assert.equal(k.name(0xffffffff81000000n), '_stext');
  assert.equal(k.name(0xffffffff81000150n), 'helper');
  // Data symbols do not name code: the address belongs to the text symbol before.
  assert.equal(k.name(0xffffffff81000250n), 'helper');
  assert.equal(k.name(0xffffffff81000310n), 'vfs_read');
  assert.equal(k.name(0xffffffffc0a01010n), 'ext4_helper');
  assert.equal(k.name(0x1000n), '[unknown kernel]');
});

test("names stay right past the bound on addresses kept, one function's addresses sharing its name", () => {
  const k = new KernelSymbols(`ffffffff81000000 T first\nffffffff81100000 T second\nffffffff81200000 T end\n`);
  // More distinct addresses than are kept named (each function 0x100000 bytes long).
  for (let i = 0n; i < 60_000n; i++) {
    assert.equal(k.name(0xffffffff81000000n + i * 29n), i * 29n < 0x100000n ? 'first' : 'second');
  }
  assert.equal(k.name(0xffffffff81000000n), 'first');
  assert.equal(k.name(0xffffffff810fffffn), 'first');
  assert.equal(k.name(0xffffffff81100000n), 'second');
});

test('a kallsyms hidden from this user (all zeros) names nothing', () => {
  const k = new KernelSymbols('0000000000000000 T _stext\n0000000000000000 t helper\n');
  assert.equal(k.available, false);
  assert.equal(k.name(0xffffffff81000150n), '[unknown kernel]');
});

test("this machine's /proc/kallsyms: every text symbol names its own address (or an alias at it), read only when first asked", () => {
  let reads = 0;
  const text = readFileSync('/proc/kallsyms', 'utf8');
  const k = new KernelSymbols(() => {
    reads++;
    return text;
  });
  assert.equal(reads, 0);
  const byAddress = new Map<bigint, string[]>();
  for (const line of text.split('\n')) {
    const [address, type, name] = line.split(/\s+/);
    if (!address || !name || (type !== 't' && type !== 'T') || !address.startsWith('ffffffff')) continue;
    const value = BigInt('0x' + address);
    byAddress.set(value, [...(byAddress.get(value) ?? []), name]);
  }
  assert.ok(byAddress.size > 1000, 'kallsyms is readable as root');
  let checked = 0;
  for (const [address, names] of [...byAddress].filter((_, i) => i % 97 === 0)) {
    assert.ok(names.includes(k.name(address)), `${address.toString(16)}: ${k.name(address)} is not one of ${names.join(', ')}`);
    checked++;
  }
  assert.ok(checked > 10);
  assert.equal(reads, 1);
});

test('kallsyms taken in chunks cut anywhere (mid-line, mid-name, a line at a time) parses as the whole file does', () => {
  const bytes = Buffer.from(KALLSYMS + 'ffffffff81000400 T last_without_newline', 'latin1');
  const expected = parseKallsyms([bytes]);
  // The five text symbols, named in address order.
  assert.equal(expected.starts.length, 5);
  const nameAt = (i: number): string => kallsymsName(expected, i);
  assert.deepEqual([0, 1, 2, 3, 4].map(nameAt), ['_stext', 'helper', 'vfs_read', 'last_without_newline', 'ext4_helper']);
  for (const size of [1, 2, 3, 7, 19, 26]) {
    const chunks: Buffer[] = [];
    for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
    assert.deepEqual(parseKallsyms(chunks), expected, `chunks of ${size} bytes`);
  }
});

test('symbols at one address keep their order in the file; long names are named whole', () => {
  // 3,000 names of 150-250 bytes, the last two hundred at one address.
  const names = Array.from({ length: 3000 }, (_, i) => `sym_${i}_`.padEnd(150 + (i % 101), String.fromCharCode(97 + (i % 26))));
  const lines = names.map((name, i) => `ffffffff${(0x81000000 + Math.min(i, 2800) * 16).toString(16)} t ${name}`);
  const table = parseKallsyms([Buffer.from(lines.reverse().join('\n') + '\n', 'latin1')]);
  const inFileOrder = [...names.slice(0, 2800)].concat(names.slice(2800).reverse());
  assert.deepEqual(names.map((_, i) => kallsymsName(table, i)), inFileOrder);
});

test("this machine's /proc/kallsyms read by the table itself (in chunks) names as the file read whole does", async () => {
  const text = readFileSync('/proc/kallsyms', 'utf8');
  const whole = new KernelSymbols(text);
  const own = new KernelSymbols();
  const addresses = text
    .split('\n')
    .filter((line, i) => i % 101 === 0 && /^ffffffff[0-9a-f]{8} [tT] /.test(line))
    .map((line) => BigInt('0x' + line.slice(0, 16)) + 3n);
  assert.ok(addresses.length > 100, 'kallsyms is readable as root');
  for (const address of addresses) assert.equal(own.name(address), whole.name(address), address.toString(16));
});
