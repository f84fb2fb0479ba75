/**
 * The object readers behind Python thread names, over memory images laid out
 * as each version lays its objects: combined and split dicts (index widths,
 * entry kinds, deleted entries), instance attributes wherever the version
 * keeps them, small ints in both size encodings, and garbage refused.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { lookupStr, readAttributes, readDict, readSmallInt } from '../../src/python/dicts.js';
import type { PythonLayout } from '../../src/python/layout.js';
import { buildLayout } from '../../src/python/offsets.js';
import { OFFSET_TABLES } from '../../src/python/sources/tables.generated.js';
import { specFor } from '../../src/python/versions.js';
import { SparseMemory } from '../fuzz/memory-image.js';

function layoutFor(minor: number): PythonLayout {
  const version = { major: 3, minor, micro: 0, hex: 0 };
  return buildLayout(OFFSET_TABLES[minor]!, { version, spec: specFor(version)!, source: 'test', codeTypeAddress: null, matchByFsbase: false });
}

/** Objects placed one after another in a memory image. */
class Image {
  readonly memory = new SparseMemory();
  private next = 0x10_0000n;

  place(bytes: Buffer, before = 0): bigint {
    const at = this.next + BigInt(before);
    this.memory.set(this.next, bytes);
    this.next += BigInt(bytes.length + 0x100);
    return at;
  }

  str(layout: PythonLayout, text: string): bigint {
    const u = layout.unicode;
    // Room for the reader's optimistic read past the text, as a heap gives.
    const bytes = Buffer.alloc(u.compactSize + 256);
    bytes.writeBigInt64LE(BigInt(text.length), u.length);
    bytes.writeUInt32LE((1 << u.kindShift) | (1 << u.compactShift) | (1 << u.asciiShift), u.state);
    bytes.write(text, u.asciiSize, 'latin1');
    return this.place(bytes);
  }

  int(layout: PythonLayout, size: bigint, digit: number): bigint {
    const o = layout.objects!;
    const bytes = Buffer.alloc(o.longDigit + 8);
    bytes.writeBigInt64LE(size, o.longSize);
    bytes.writeUInt32LE(digit, o.longDigit);
    return this.place(bytes);
  }

  /** A keys object of `entries` (a null value: a deleted entry), as the version lays it out. */
  keys(layout: PythonLayout, entries: readonly [bigint, bigint | null][], split: boolean, general = false): bigint {
    const o = layout.objects!;
    const slots = 8;
    const entryBytes = o.keysSizeIsLog2 && !general ? 16 : 24;
    const bytes = Buffer.alloc(o.keysIndices + slots + entries.length * entryBytes);
    if (o.keysSizeIsLog2) {
      bytes[o.keysSize] = 3;
      bytes[o.keysLog2IndexBytes!] = 3;
      // DICT_KEYS_GENERAL (0, entries with hashes), DICT_KEYS_UNICODE (1) or DICT_KEYS_SPLIT (2).
      bytes[o.keysKind!] = general ? 0 : split ? 2 : 1;
    } else {
      bytes.writeBigInt64LE(BigInt(slots), o.keysSize);
    }
    bytes.writeBigInt64LE(BigInt(entries.length), o.keysEntryCount);
    const keyAt = entryBytes === 24 ? 8 : 0;
    entries.forEach(([key, value], i) => {
      const at = o.keysIndices + slots + i * entryBytes;
      bytes.writeBigUInt64LE(key, at + keyAt);
      if (!split) bytes.writeBigUInt64LE(value ?? 0n, at + keyAt + 8);
    });
    return this.place(bytes);
  }

  dict(layout: PythonLayout, keys: bigint, values: bigint): bigint {
    const o = layout.objects!;
    const bytes = Buffer.alloc(Math.max(o.dictKeys, o.dictValues) + 8);
    bytes.writeBigUInt64LE(keys, o.dictKeys);
    bytes.writeBigUInt64LE(values, o.dictValues);
    return this.place(bytes);
  }

  /** A values array for a split table, with the version's header before it. */
  values(layout: PythonLayout, values: readonly (bigint | null)[]): bigint {
    const header = layout.objects!.valuesArray ?? 0;
    const bytes = Buffer.alloc(header + values.length * 8);
    values.forEach((v, i) => bytes.writeBigUInt64LE(v ?? 0n, header + i * 8));
    return this.place(bytes);
  }
}

describe('dicts', () => {
  for (const minor of [8, 10, 11, 12, 13, 15]) {
    test(`3.${minor}: a combined dict's entries in order, a deleted one skipped, a str key found`, () => {
      const layout = layoutFor(minor);
      const image = new Image();
      const [a, b, c] = [image.str(layout, 'threading'), image.str(layout, 'gone'), image.str(layout, '_active')];
      const dict = image.dict(layout, image.keys(layout, [[a, 0x1111n], [b, null], [c, 0x2222n]], false), 0n);
      const items = readDict(image.memory, layout.objects!, dict);
      assert.deepEqual(items, [{ key: a, value: 0x1111n }, { key: c, value: 0x2222n }]);
      assert.equal(lookupStr(image.memory, layout, items!, '_active'), 0x2222n);
      assert.equal(lookupStr(image.memory, layout, items!, '_activ'), null);
    });

    test(`3.${minor}: a dict with keys other than str (threading._active's ints) has entries with hashes`, () => {
      const layout = layoutFor(minor);
      const image = new Image();
      const dict = image.dict(layout, image.keys(layout, [[0x1234n, 0x1111n], [0x5678n, null], [0x9abcn, 0x2222n]], false, true), 0n);
      assert.deepEqual(readDict(image.memory, layout.objects!, dict), [{ key: 0x1234n, value: 0x1111n }, { key: 0x9abcn, value: 0x2222n }]);
    });

    test(`3.${minor}: a split dict's values come from its values array`, () => {
      const layout = layoutFor(minor);
      const image = new Image();
      const [n, id] = [image.str(layout, '_name'), image.str(layout, '_native_id')];
      const keys = image.keys(layout, [[n, null], [id, null]], true);
      const values = image.values(layout, [0xaaaan, 0xbbbbn]);
      const dict = image.dict(layout, keys, values);
      assert.deepEqual(readDict(image.memory, layout.objects!, dict), [{ key: n, value: 0xaaaan }, { key: id, value: 0xbbbbn }]);
    });
  }

  test('a keys object with an implausible size or count is refused, not read', () => {
    for (const minor of [8, 12]) {
      const layout = layoutFor(minor);
      const o = layout.objects!;
      const image = new Image();
      const bytes = Buffer.alloc(o.keysIndices + 64);
      if (o.keysSizeIsLog2) bytes[o.keysSize] = 60;
      else bytes.writeBigInt64LE(7n, o.keysSize);
      bytes.writeBigInt64LE(1n, o.keysEntryCount);
      assert.equal(readDict(image.memory, o, image.dict(layout, image.place(bytes), 0n)), null, `3.${minor}: size`);
      const huge = Buffer.alloc(o.keysIndices + 64);
      if (o.keysSizeIsLog2) huge[o.keysSize] = 3;
      else huge.writeBigInt64LE(8n, o.keysSize);
      huge.writeBigInt64LE(1n << 40n, o.keysEntryCount);
      assert.equal(readDict(image.memory, o, image.dict(layout, image.place(huge), 0n)), null, `3.${minor}: count`);
    }
  });
});

describe('instance attributes', () => {
  const HEAPTYPE = 1n << 9n;
  const MANAGED_DICT = 1n << 4n;
  const INLINE_VALUES = 1n << 2n;

  function typeObject(image: Image, layout: PythonLayout, flags: bigint, fields: { dictOffset?: bigint; basicSize?: bigint; cachedKeys?: bigint }): bigint {
    const o = layout.objects!;
    const bytes = Buffer.alloc(o.heapTypeCachedKeys + 8);
    bytes.writeBigUInt64LE(flags, o.typeFlags);
    bytes.writeBigInt64LE(fields.dictOffset ?? 0n, o.typeDictOffset);
    bytes.writeBigInt64LE(fields.basicSize ?? 0n, o.typeBasicSize);
    bytes.writeBigUInt64LE(fields.cachedKeys ?? 0n, o.heapTypeCachedKeys);
    return image.place(bytes);
  }

  /** An instance with `before` bytes in front of it (the pre-header) and `after` bytes of object. */
  function instance(image: Image, layout: PythonLayout, type: bigint, before: [number, bigint][], after: [number, bigint][], size = 64): bigint {
    const bytes = Buffer.alloc(32 + size);
    bytes.writeBigUInt64LE(type, 32 + layout.objectType);
    for (const [offset, value] of before) bytes.writeBigUInt64LE(value, 32 + offset);
    for (const [offset, value] of after) bytes.writeBigUInt64LE(value, 32 + offset);
    return image.place(bytes, 32);
  }

  test('3.8: through the dict at tp_dictoffset', () => {
    const layout = layoutFor(8);
    const image = new Image();
    const name = image.str(layout, '_name');
    const dict = image.dict(layout, image.keys(layout, [[name, 0x77n]], false), 0n);
    const type = typeObject(image, layout, HEAPTYPE, { dictOffset: 16n });
    const obj = instance(image, layout, type, [], [[16, dict]]);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, obj)!, '_name'), 0x77n);
  });

  test('3.11: values pointed to 4 words before the object, else the dict 3 words before', () => {
    const layout = layoutFor(11);
    const image = new Image();
    const name = image.str(layout, '_name');
    const keys = image.keys(layout, [[name, null]], true);
    const type = typeObject(image, layout, HEAPTYPE | MANAGED_DICT, { cachedKeys: keys });
    const withValues = instance(image, layout, type, [[-32, image.values(layout, [0x55n])]], []);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, withValues)!, '_name'), 0x55n);
    const dict = image.dict(layout, image.keys(layout, [[name, 0x66n]], false), 0n);
    const withDict = instance(image, layout, type, [[-24, dict]], []);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, withDict)!, '_name'), 0x66n);
  });

  test('3.12: values tagged (address minus one) 3 words before the object, or an untagged dict', () => {
    const layout = layoutFor(12);
    const image = new Image();
    const name = image.str(layout, '_name');
    const keys = image.keys(layout, [[name, null]], true);
    const type = typeObject(image, layout, HEAPTYPE | MANAGED_DICT, { cachedKeys: keys });
    const values = image.values(layout, [0x55n]);
    const tagged = instance(image, layout, type, [[-24, values - 1n]], []);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, tagged)!, '_name'), 0x55n);
    const dict = image.dict(layout, image.keys(layout, [[name, 0x66n]], false), 0n);
    const untagged = instance(image, layout, type, [[-24, dict]], []);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, untagged)!, '_name'), 0x66n);
  });

  test('3.13: inline values after the basic size while valid, else the managed dict', () => {
    const layout = layoutFor(13);
    const o = layout.objects!;
    const image = new Image();
    const name = image.str(layout, '_name');
    const keys = image.keys(layout, [[name, null]], true);
    const type = typeObject(image, layout, HEAPTYPE | MANAGED_DICT | INLINE_VALUES, { cachedKeys: keys, basicSize: 16n });
    const inline = (valid: number, dict: bigint): bigint =>
      instance(image, layout, type, [[-24, dict]], [[16 + o.valuesArray!, 0x55n], [16 + o.valuesValid! - 3, BigInt(valid) << 24n]]);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, inline(1, 0n))!, '_name'), 0x55n);
    const dict = image.dict(layout, image.keys(layout, [[name, 0x66n]], false), 0n);
    assert.equal(lookupStr(image.memory, layout, readAttributes(image.memory, layout, inline(0, dict))!, '_name'), 0x66n);
  });
});

describe('small ints', () => {
  test('before 3.12 the size is the digit count; from 3.12 lv_tag holds count << 3 and the sign', () => {
    const old = layoutFor(11);
    const tagged = layoutFor(12);
    const image = new Image();
    assert.equal(readSmallInt(image.memory, old.objects!, image.int(old, 1n, 12345)), 12345);
    assert.equal(readSmallInt(image.memory, old.objects!, image.int(old, 0n, 0)), 0);
    assert.equal(readSmallInt(image.memory, old.objects!, image.int(old, 2n, 1)), null, 'two digits');
    assert.equal(readSmallInt(image.memory, old.objects!, image.int(old, -1n, 5)), null, 'negative');
    assert.equal(readSmallInt(image.memory, tagged.objects!, image.int(tagged, 1n << 3n, 12345)), 12345);
    assert.equal(readSmallInt(image.memory, tagged.objects!, image.int(tagged, 1n, 0)), 0);
    assert.equal(readSmallInt(image.memory, tagged.objects!, image.int(tagged, (1n << 3n) | 2n, 5)), null, 'negative');
    assert.equal(readSmallInt(image.memory, tagged.objects!, image.int(tagged, 2n << 3n, 5)), null, 'two digits');
  });
});
