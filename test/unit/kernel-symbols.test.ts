import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KernelSymbols } from '../../src/symbolize/kernel.js';

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

test('a kallsyms hidden from this user (all zeros) names nothing', () => {
  const k = new KernelSymbols('0000000000000000 T _stext\n0000000000000000 t helper\n');
  assert.equal(k.available, false);
  assert.equal(k.name(0xffffffff81000150n), '[unknown kernel]');
});
