/** How dump --locals writes values: Python's repr() for the simple types, ints of many digits, and what a layout's object reads as. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readInt } from '../../src/python/dicts.js';
import type { ObjectLayout } from '../../src/python/layout.js';
import { floatRepr, pythonRepr } from '../../src/python/locals.js';
import type { MemoryReader } from '../../src/target/memory.js';

/** Memory holding one buffer at `base`. */
function memoryAt(base: bigint, bytes: Buffer): MemoryReader {
  const read = (address: bigint, length: number): Buffer | null => {
    const start = Number(address - base);
    return start >= 0 && start + length <= bytes.length ? bytes.subarray(start, start + length) : null;
  };
  return { read, readMany: (addresses, lengths) => addresses.map((a, i) => read(a, lengths[i]!)) };
}

/** An int object with 30-bit digits, laid out as 3.11 (ob_size) or 3.12+ (lv_tag) lays it out. */
function intObject(value: bigint, tag: boolean): Buffer {
  const digits: number[] = [];
  for (let v = value < 0n ? -value : value; v > 0n; v >>= 30n) digits.push(Number(v & 0x3fffffffn));
  const bytes = Buffer.alloc(24 + 4 * Math.max(1, digits.length));
  const sign = value < 0n ? 2n : value === 0n ? 1n : 0n;
  bytes.writeBigInt64LE(tag ? (BigInt(digits.length) << 3n) | sign : value < 0n ? -BigInt(digits.length) : BigInt(digits.length), 16);
  digits.forEach((d, i) => bytes.writeUInt32LE(d, 24 + 4 * i));
  return bytes;
}

describe('values as Python writes them', () => {
  test('str and bytes: single quotes unless the text has some and no double ones; escapes', () => {
    assert.equal(pythonRepr('zzz'), "'zzz'");
    assert.equal(pythonRepr("it's"), '"it\'s"');
    assert.equal(pythonRepr(`'"`), `'\\'"'`);
    assert.equal(pythonRepr('a\nb\tc\\'), "'a\\nb\\tc\\\\'");
    assert.equal(pythonRepr('größe'), "'größe'");
    assert.equal(pythonRepr('\u0001'), "'\\x01'");
    assert.equal(pythonRepr('xy\u00ff', 'b'), "b'xy\\xff'");
  });

  test('float: a whole number keeps its ".0"; nan and inf', () => {
    assert.equal(floatRepr(2.5), '2.5');
    assert.equal(floatRepr(100000), '100000.0');
    assert.equal(floatRepr(-0.125), '-0.125');
    assert.equal(floatRepr(1e22), '1e+22');
    assert.equal(floatRepr(Number.NaN), 'nan');
    assert.equal(floatRepr(-Infinity), '-inf');
  });

  for (const tag of [false, true]) {
    test(`int of any size up to 32 digits (${tag ? 'lv_tag, 3.12+' : 'ob_size, before 3.12'})`, () => {
      const layout = { longSize: 16, longDigit: 24, longSizeIsTag: tag } as ObjectLayout;
      for (const value of [0n, 1n, -7n, 2n ** 30n, -(2n ** 64n) - 5n, 10n ** 200n]) {
        assert.equal(readInt(memoryAt(0x1000n, intObject(value, tag)), layout, 0x1000n), value);
      }
      assert.equal(readInt(memoryAt(0x1000n, intObject(2n ** 1000n, tag)), layout, 0x1000n), null, 'more digits than shown');
      assert.equal(readInt(memoryAt(0x1000n, Buffer.alloc(8)), layout, 0x1000n), null, 'unreadable');
    });
  }
});
