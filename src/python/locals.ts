/**
 * A frame's local variables and their values, read from the target's memory
 * (`mixprof dump --locals`). The values of ints, floats, strs, bytes, bools
 * and None are shown whole, as Python's repr() shows them; containers as
 * their type and size; other objects as their type and address, as py-spy
 * shows them. A cell (a variable an inner function uses) is shown by what
 * it holds. What cannot be read is said, never guessed.
 */
import { readPointer, type MemoryReader } from '../target/memory.js';
import { readInt } from './dicts.js';
import type { PythonLayout } from './layout.js';
import type { LocalsOffsets } from './offsets.js';
import { readPyBytes, readPyUnicode } from './unicode.js';

export interface LocalVariable {
  readonly name: string;
  /** repr() for the simple types, "list of 3" and "<Foo at 0x7f..>" for the others. */
  readonly value: string;
  readonly argument: boolean;
}

/** More locals than any function has: the bound on a misread count. */
const MAX_LOCALS = 1024;
/** A type's name is a C string: read this much of it. */
const TYPE_NAME_BYTES = 64;

function readCString(memory: MemoryReader, address: bigint, max: number): string | null {
  const bytes = address === 0n ? null : memory.read(address, max);
  if (!bytes) return null;
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? max : end).toString('utf8');
}

/** The name of an object's type (tp_name: "int", "collections.OrderedDict"). */
export function typeNameOf(memory: MemoryReader, layout: PythonLayout, o: LocalsOffsets, object: bigint): string | null {
  const type = readPointer(memory, object + BigInt(layout.objectType));
  return type === 0n ? null : readCString(memory, readPointer(memory, type + BigInt(o.typeName)), TYPE_NAME_BYTES);
}

/** Python's repr() of a str or bytes' text: single quotes unless the text has some and no double ones. */
export function pythonRepr(text: string, prefix = ''): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = '';
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (char === '\\' || char === quote) out += `\\${char}`;
    else if (char === '\n') out += '\\n';
    else if (char === '\r') out += '\\r';
    else if (char === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (prefix === 'b' && code > 0x7e)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += char;
  }
  return `${prefix}${quote}${out}${quote}`;
}

/** repr() of a float as Python writes it: "2.5", "100000.0", "1e+22", "nan", "inf". */
export function floatRepr(value: number): string {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return value > 0 ? 'inf' : '-inf';
  if (Number.isInteger(value) && Math.abs(value) < 1e16) return value.toFixed(1);
  return String(value);
}

const SIZED: Readonly<Record<string, (o: LocalsOffsets) => { readonly offset: number; readonly what: string }>> = {
  list: (o) => ({ offset: o.varSize, what: 'item' }),
  tuple: (o) => ({ offset: o.varSize, what: 'item' }),
  dict: (o) => ({ offset: o.dictUsed, what: 'item' }),
  set: (o) => ({ offset: o.setUsed, what: 'item' }),
  frozenset: (o) => ({ offset: o.setUsed, what: 'item' }),
};

/** How an object reads in a dump: see the module's comment. */
export function describeObject(memory: MemoryReader, layout: PythonLayout, object: bigint, depth = 0): string {
  const o = layout.locals!;
  const at = `0x${object.toString(16)}`;
  const type = typeNameOf(memory, layout, o, object);
  if (type === null) return `<unreadable object at ${at}>`;
  switch (type) {
    case 'NoneType':
      return 'None';
    case 'bool':
    case 'int': {
      const value = layout.objects ? readInt(memory, layout.objects, object) : null;
      if (type === 'bool') return value === null ? '<bool>' : value === 0n ? 'False' : 'True';
      return value === null ? `<int at ${at}>` : value.toString();
    }
    case 'float': {
      const bytes = memory.read(object + BigInt(o.floatValue), 8);
      return bytes ? floatRepr(bytes.readDoubleLE(0)) : `<float at ${at}>`;
    }
    case 'str': {
      const text = readPyUnicode(memory, layout.unicode, object);
      return text === null ? `<str at ${at}>` : pythonRepr(text);
    }
    case 'bytes': {
      const bytes = readPyBytes(memory, layout.bytes, object);
      return bytes === null ? `<bytes at ${at}>` : pythonRepr(bytes.toString('latin1'), 'b');
    }
    case 'cell': {
      // A variable an inner function shares: what it holds (empty until it is assigned).
      const content = readPointer(memory, object + BigInt(o.cellRef));
      return content === 0n ? '<empty cell>' : depth > 0 ? `<cell at ${at}>` : describeObject(memory, layout, content, depth + 1);
    }
    default: {
      const sized = SIZED[type]?.(o);
      if (sized) {
        const size = memory.read(object + BigInt(sized.offset), 8)?.readBigInt64LE(0);
        if (size !== undefined && size >= 0n) return `${type} of ${size} ${sized.what}${size === 1n ? '' : 's'}`;
      }
      return `<${type} at ${at}>`;
    }
  }
}

/**
 * The variables of the frame at `frame` running code object `code`, in the
 * code's order (arguments first), the unbound ones left out; null when the
 * code object's names cannot be read.
 */
export function readFrameLocals(memory: MemoryReader, layout: PythonLayout, frame: bigint, code: bigint): LocalVariable[] | null {
  const o = layout.locals;
  if (!o) return null;
  const names = readPointer(memory, code + BigInt(o.codeLocalNames));
  const count = names === 0n ? undefined : memory.read(names + BigInt(o.varSize), 8)?.readBigInt64LE(0);
  if (count === undefined || count < 0n || count > BigInt(MAX_LOCALS)) return null;
  const n = Number(count);
  const nameAddresses = n === 0 ? Buffer.alloc(0) : memory.read(names + BigInt(o.tupleItems), n * 8);
  const values = n === 0 ? Buffer.alloc(0) : memory.read(frame + BigInt(o.frameLocals), n * 8);
  const argc = memory.read(code + BigInt(o.codeArgCount), 4)?.readInt32LE(0);
  if (!nameAddresses || !values || argc === undefined) return null;
  const variables: LocalVariable[] = [];
  for (let i = 0; i < n; i++) {
    const raw = values.readBigUInt64LE(i * 8);
    const value = raw & layout.frame.codeMask;
    if (value === 0n) continue;
    const name = readPyUnicode(memory, layout.unicode, nameAddresses.readBigUInt64LE(i * 8)) ?? `<local ${i}>`;
    variables.push({ name, value: describeObject(memory, layout, value), argument: i < argc });
  }
  return variables;
}
