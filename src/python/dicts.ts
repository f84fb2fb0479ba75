/**
 * Reads the few objects mixprof follows past the frames: dicts (combined or
 * split), a class instance's attributes and small ints. Every pointer comes
 * from a running process and may be stale or torn: a failed or implausible
 * read gives null, never an exception.
 */
import type { ObjectLayout, PythonLayout } from './layout.js';
import { readPyUnicode } from './unicode.js';
import { readPointer, type MemoryReader } from '../target/memory.js';

export interface DictItem {
  readonly key: bigint;
  readonly value: bigint;
}

/** Bounds that keep a garbage pointer cheap: sys.modules holds a few thousand entries at most. */
const MAX_ENTRIES = 1 << 16;
const MAX_LOG2_SIZE = 24;
/** PyDictKeyEntry {hash, key, value}; from 3.11 str-only keys drop the hash: PyDictUnicodeEntry {key, value}. */
const GENERAL_ENTRY_BYTES = 24;
const UNICODE_ENTRY_BYTES = 16;
const DICT_KEYS_GENERAL = 0;
const Py_TPFLAGS_INLINE_VALUES = 1n << 2n;
const Py_TPFLAGS_MANAGED_DICT = 1n << 4n;
const Py_TPFLAGS_HEAPTYPE = 1n << 9n;


/** The bytes of a keys object's index table, and of each entry. */
function keysShape(o: ObjectLayout, head: Buffer): { indexBytes: number; entryBytes: number } | null {
  if (o.keysSizeIsLog2) {
    const log2Size = head[o.keysSize]!;
    const log2IndexBytes = head[o.keysLog2IndexBytes!]!;
    if (log2Size > MAX_LOG2_SIZE || log2IndexBytes > MAX_LOG2_SIZE + 3) return null;
    return { indexBytes: 2 ** log2IndexBytes, entryBytes: head[o.keysKind!] === DICT_KEYS_GENERAL ? GENERAL_ENTRY_BYTES : UNICODE_ENTRY_BYTES };
  }
  // Before 3.11: dk_size slots, each index as wide as the size needs.
  const size = Number(head.readBigInt64LE(o.keysSize));
  if (size <= 0 || size > 2 ** MAX_LOG2_SIZE || (size & (size - 1)) !== 0) return null;
  const width = size <= 0xff ? 1 : size <= 0xffff ? 2 : 4;
  return { indexBytes: size * width, entryBytes: GENERAL_ENTRY_BYTES };
}

/**
 * The live entries of a keys object, in insertion order; a split table's
 * values come from `values` (the instance's array), a combined one's from
 * the entries themselves.
 */
export function readKeys(memory: MemoryReader, o: ObjectLayout, keys: bigint, values: bigint | null): DictItem[] | null {
  const head = memory.read(keys, o.keysIndices);
  if (!head) return null;
  const shape = keysShape(o, head);
  const count = Number(head.readBigInt64LE(o.keysEntryCount));
  if (!shape || count < 0 || count > MAX_ENTRIES) return null;
  if (count === 0) return [];
  const entries = memory.read(keys + BigInt(o.keysIndices + shape.indexBytes), count * shape.entryBytes);
  const valueArray = values === null ? null : memory.read(values, count * 8);
  if (!entries || (values !== null && !valueArray)) return null;
  const keyAt = shape.entryBytes === GENERAL_ENTRY_BYTES ? 8 : 0;
  const items: DictItem[] = [];
  for (let i = 0; i < count; i++) {
    const key = entries.readBigUInt64LE(i * shape.entryBytes + keyAt);
    const value = valueArray ? valueArray.readBigUInt64LE(i * 8) : entries.readBigUInt64LE(i * shape.entryBytes + keyAt + 8);
    // A deleted entry keeps its slot with no key (or no value).
    if (key !== 0n && value !== 0n) items.push({ key, value });
  }
  return items;
}

export function readDict(memory: MemoryReader, o: ObjectLayout, dict: bigint): DictItem[] | null {
  const head = memory.read(dict, Math.max(o.dictKeys, o.dictValues) + 8);
  if (!head) return null;
  const keys = head.readBigUInt64LE(o.dictKeys);
  const values = head.readBigUInt64LE(o.dictValues);
  if (keys === 0n) return null;
  return readKeys(memory, o, keys, values === 0n ? null : values + BigInt(o.valuesArray ?? 0));
}

/** An instance's attributes, wherever its version and class keep them. */
export function readAttributes(memory: MemoryReader, layout: PythonLayout, instance: bigint): DictItem[] | null {
  const o = layout.objects;
  if (!o) return null;
  const type = readPointer(memory, instance + BigInt(layout.objectType));
  const typeHead = memory.read(type, o.heapTypeCachedKeys + 8);
  if (!typeHead) return null;
  const flags = typeHead.readBigUInt64LE(o.typeFlags);
  const sharedKeys = (flags & Py_TPFLAGS_HEAPTYPE) !== 0n ? typeHead.readBigUInt64LE(o.heapTypeCachedKeys) : 0n;
  const split = (values: bigint): DictItem[] | null => (sharedKeys === 0n ? null : readKeys(memory, o, sharedKeys, values + BigInt(o.valuesArray ?? 0)));
  const dictAt = (address: bigint): DictItem[] | null => {
    const dict = readPointer(memory, address);
    return dict === 0n ? null : readDict(memory, o, dict);
  };
  const managed = (flags & Py_TPFLAGS_MANAGED_DICT) !== 0n;
  switch (o.instanceAttributes) {
    case 'values-before-object':
      if (managed) {
        const values = readPointer(memory, instance - 32n);
        return values !== 0n ? split(values) : dictAt(instance + BigInt(o.managedDictOffset));
      }
      break;
    case 'dict-or-values':
      if (managed) {
        // Values are stored as their address minus one (the low bit is the tag); untagged, the word is the dict.
        const word = readPointer(memory, instance + BigInt(o.managedDictOffset));
        return (word & 1n) === 1n ? split(word + 1n) : word !== 0n ? readDict(memory, o, word) : null;
      }
      break;
    case 'inline-values':
      if ((flags & Py_TPFLAGS_INLINE_VALUES) !== 0n) {
        const values = instance + typeHead.readBigUInt64LE(o.typeBasicSize);
        const valid = memory.read(values + BigInt(o.valuesValid ?? 0), 1)?.[0];
        if (valid) return split(values);
      }
      if (managed) return dictAt(instance + BigInt(o.managedDictOffset));
      break;
    case 'dict-offset':
      break;
  }
  const dictOffset = typeHead.readBigInt64LE(o.typeDictOffset);
  // A negative offset counts from the end of a variable-size object: not a Thread's case.
  return dictOffset > 0n ? dictAt(instance + dictOffset) : null;
}

/** The value of an int object between 0 and 2**30 (one digit), else null. */
export function readSmallInt(memory: MemoryReader, o: ObjectLayout, address: bigint): number | null {
  const head = memory.read(address, o.longDigit + 4);
  if (!head) return null;
  const size = head.readBigInt64LE(o.longSize);
  if (o.longSizeIsTag) {
    // lv_tag: digit count << 3, sign in the low bits (0 positive, 1 zero, 2 negative).
    if ((size & 3n) === 1n) return 0;
    if ((size & 7n) !== 0n || size >> 3n !== 1n) return null;
  } else {
    if (size === 0n) return 0;
    if (size !== 1n) return null;
  }
  return head.readUInt32LE(o.longDigit);
}

/** Ints up to this many 30-bit digits are read whole (about 300 decimal digits). */
const MAX_INT_DIGITS = 32;

/** An int object's value, or null when it is too large to show or cannot be read. */
export function readInt(memory: MemoryReader, objects: ObjectLayout, address: bigint): bigint | null {
  const head = memory.read(address, objects.longDigit);
  if (!head) return null;
  const size = head.readBigInt64LE(objects.longSize);
  let digits: number;
  let negative: boolean;
  if (objects.longSizeIsTag) {
    // lv_tag: digit count << 3, sign in the low bits (0 positive, 1 zero, 2 negative).
    if ((size & 3n) === 1n) return 0n;
    digits = Number(size >> 3n);
    negative = (size & 3n) === 2n;
  } else {
    digits = Number(size < 0n ? -size : size);
    negative = size < 0n;
  }
  if (digits === 0) return 0n;
  if (digits > MAX_INT_DIGITS) return null;
  const data = memory.read(address + BigInt(objects.longDigit), digits * 4);
  if (!data) return null;
  let value = 0n;
  for (let i = digits - 1; i >= 0; i--) value = (value << 30n) | BigInt(data.readUInt32LE(i * 4) & 0x3fffffff);
  return negative ? -value : value;
}

/** The value stored under a str key, found by comparing key texts. */
export function lookupStr(memory: MemoryReader, layout: PythonLayout, items: readonly DictItem[], name: string): bigint | null {
  // A cheap first pass on length and the text just after the ASCII header, all keys in a few reads.
  const { unicode } = layout;
  const wanted = unicode.asciiSize + name.length;
  const heads = memory.readMany(
    items.map((item) => item.key),
    items.map(() => wanted),
  );
  for (let i = 0; i < items.length; i++) {
    const head = heads[i];
    if (!head || Number(head.readBigInt64LE(unicode.length)) !== name.length) continue;
    if (head.subarray(unicode.asciiSize).toString('latin1') !== name) continue;
    // The bytes matched as ASCII; confirm it is a compact ASCII str and not a look-alike.
    if (readPyUnicode(memory, unicode, items[i]!.key) === name) return items[i]!.value;
  }
  return null;
}
