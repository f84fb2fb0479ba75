/**
 * Offsets from DWARF debug info, read with the addon's struct reader. Every
 * member the version needs must be found: a missing one means the debug file
 * does not describe this interpreter, and guessing would give garbage.
 */
import { MixprofError } from '../../errors.js';
import type { MemberLayout, NativeAddon, StructLayoutRequest, StructLayoutResult } from '../../native.js';
import type { LocalsOffsets, ObjectOffsets, StructOffsets } from '../offsets.js';
import type { VersionSpec } from '../versions.js';

export function offsetsFromDwarf(addon: NativeAddon, debugFile: string, spec: VersionSpec, label = debugFile): StructOffsets {
  const n = spec.names;
  const optional = (name: string | null): string[] => (name ? [name] : []);
  const threadMembers = ['prev', 'next', 'thread_id', n.threadFrame, ...(spec.hasNativeThreadId ? ['native_thread_id'] : [])];
  // 3.11+ keeps locals, cells and free variables in one array the code object names together.
  const localsMember = spec.minor >= 11 ? 'localsplus' : 'f_localsplus';
  const localNamesMember = spec.minor >= 11 ? 'co_localsplusnames' : 'co_varnames';
  const gilIn = n.gil.in === 'runtime' ? n.runtime : n.interp;
  const requests: StructLayoutRequest[] = [
    { type: n.runtime, members: [n.interpretersHead, ...(gilIn === n.runtime ? [n.gil.member] : [])] },
    { type: n.interp, members: [n.threadsHead, ...(gilIn === n.interp ? [n.gil.member] : []), n.objects.modules] },
    { type: n.gil.type, members: ['last_holder', 'locked'] },
    { type: n.thread, members: threadMembers },
    { type: n.frame, members: [n.frameCode, n.frameInstr, n.framePrevious, ...optional(n.frameIsEntry), ...optional(n.frameOwner), localsMember] },
    {
      type: 'PyCodeObject',
      members: ['co_filename', 'co_name', 'co_firstlineno', n.codeLineTable, ...optional(n.codeQualname), ...optional(n.codeFirstTraceable), ...optional(n.codeBytecode), localNamesMember, 'co_argcount'],
    },
    { type: 'PyASCIIObject', members: ['length', 'state.kind', 'state.compact', 'state.ascii'] },
    { type: 'PyCompactUnicodeObject', members: [] },
    { type: 'PyBytesObject', members: ['ob_base.ob_size', 'ob_sval'] },
    { type: 'PyObject', members: ['ob_type'] },
  ];
  if (n.cframe) requests.push({ type: n.cframe.type, members: [n.cframe.currentFrame] });
  const log2Keys = n.objects.keysSize === 'dk_log2_size';
  const inlineValues = spec.instanceAttributes === 'inline-values';
  requests.push(
    { type: 'PyModuleObject', members: ['md_dict'] },
    { type: 'PyTypeObject', members: ['tp_basicsize', 'tp_flags', 'tp_dictoffset', 'tp_name'] },
    { type: 'PyHeapTypeObject', members: ['ht_cached_keys'] },
    { type: 'PyDictObject', members: ['ma_keys', 'ma_values', 'ma_used'] },
    { type: 'PyVarObject', members: ['ob_size'] },
    { type: 'PyTupleObject', members: ['ob_item'] },
    { type: 'PyFloatObject', members: ['ob_fval'] },
    { type: 'PyCellObject', members: ['ob_ref'] },
    { type: 'PySetObject', members: ['used'] },
    { type: '_dictkeysobject', members: [n.objects.keysSize, 'dk_nentries', 'dk_indices', ...(log2Keys ? ['dk_log2_index_bytes', 'dk_kind'] : [])] },
    ...(log2Keys ? [{ type: '_dictvalues', members: ['values', ...(inlineValues ? ['valid'] : [])] }] : []),
    { type: 'PyLongObject', members: [n.objects.longSize, n.objects.longDigit] },
  );

  let results: StructLayoutResult[];
  try {
    results = addon.structLayout(debugFile, requests);
  } catch (error) {
    throw new MixprofError('NO_DEBUG_INFO', `cannot read DWARF from ${label}: ${(error as Error).message}`, 'pass a matching debug file with -d', { cause: error });
  }
  const byType = new Map(results.map((r) => [r.type, r]));
  const member = (type: string, name: string): MemberLayout => {
    const found = byType.get(type)?.members[name];
    if (!found) {
      throw new MixprofError(
        'NO_DEBUG_INFO',
        `the debug info in ${label} has no ${type}.${name} (not a CPython 3.${spec.minor} debug file?)`,
        'pass the debug file that matches this interpreter build with -d',
      );
    }
    return found;
  };
  const offset = (type: string, name: string): number => member(type, name).offset;
  const maybe = (type: string, name: string | null): number | null => (name ? offset(type, name) : null);
  // Only --gil needs these: a build that lacks them is still profiled, and --gil says it cannot be.
  const ifPresent = (type: string, name: string): number | null => byType.get(type)?.members[name]?.offset ?? null;
  const size = (type: string): number => {
    const found = byType.get(type)?.size;
    if (found === null || found === undefined) {
      throw new MixprofError('NO_DEBUG_INFO', `the debug info in ${label} does not describe ${type}`, 'pass the debug file that matches this interpreter build with -d');
    }
    return found;
  };
  // A member the optional groups below need, or null: each group is all there or not given.
  const at = (type: string, name: string): number | null => byType.get(type)?.members[name]?.offset ?? null;
  // Only Python thread names need these: a build without them all is still profiled.
  const objectOffsets = (): ObjectOffsets | null => {
    const found = {
      interpModules: at(n.interp, n.objects.modules),
      moduleDict: at('PyModuleObject', 'md_dict'),
      typeBasicSize: at('PyTypeObject', 'tp_basicsize'),
      typeFlags: at('PyTypeObject', 'tp_flags'),
      typeDictOffset: at('PyTypeObject', 'tp_dictoffset'),
      heapTypeCachedKeys: at('PyHeapTypeObject', 'ht_cached_keys'),
      dictKeys: at('PyDictObject', 'ma_keys'),
      dictValues: at('PyDictObject', 'ma_values'),
      keysSize: at('_dictkeysobject', n.objects.keysSize),
      keysEntryCount: at('_dictkeysobject', 'dk_nentries'),
      keysIndices: at('_dictkeysobject', 'dk_indices'),
      longSize: at('PyLongObject', n.objects.longSize),
      longDigit: at('PyLongObject', n.objects.longDigit),
    };
    const log2 = log2Keys
      ? { keysLog2IndexBytes: at('_dictkeysobject', 'dk_log2_index_bytes'), keysKind: at('_dictkeysobject', 'dk_kind'), valuesArray: at('_dictvalues', 'values') }
      : { keysLog2IndexBytes: null, keysKind: null, valuesArray: null };
    const valuesValid = inlineValues ? at('_dictvalues', 'valid') : null;
    if (Object.values(found).some((v) => v === null)) return null;
    if (log2Keys && Object.values(log2).some((v) => v === null)) return null;
    if (inlineValues && valuesValid === null) return null;
    return { ...(found as { [K in keyof typeof found]: number }), ...log2, valuesValid };
  };
  // Only dump --locals needs these: a build without them all is still profiled.
  const localsOffsets = (): LocalsOffsets | null => {
    const found = {
      frameLocals: at(n.frame, localsMember),
      codeLocalNames: at('PyCodeObject', localNamesMember),
      codeArgCount: at('PyCodeObject', 'co_argcount'),
      varSize: at('PyVarObject', 'ob_size'),
      tupleItems: at('PyTupleObject', 'ob_item'),
      floatValue: at('PyFloatObject', 'ob_fval'),
      typeName: at('PyTypeObject', 'tp_name'),
      cellRef: at('PyCellObject', 'ob_ref'),
      dictUsed: at('PyDictObject', 'ma_used'),
      setUsed: at('PySetObject', 'used'),
    };
    return Object.values(found).some((v) => v === null) ? null : (found as { [K in keyof typeof found]: number });
  };
  const state = offset('PyASCIIObject', 'state.kind');
  const shift = (name: string): number => {
    const m = member('PyASCIIObject', name);
    return (m.offset - state) * 8 + (m.bitOffset ?? 0);
  };
  return {
    runtimeInterpretersHead: offset(n.runtime, n.interpretersHead),
    interpThreadsHead: offset(n.interp, n.threadsHead),
    threadPrev: offset(n.thread, 'prev'),
    threadNext: offset(n.thread, 'next'),
    threadId: offset(n.thread, 'thread_id'),
    threadNativeId: spec.hasNativeThreadId ? offset(n.thread, 'native_thread_id') : null,
    threadFrame: offset(n.thread, n.threadFrame),
    cframeCurrentFrame: n.cframe ? offset(n.cframe.type, n.cframe.currentFrame) : null,
    frameCode: offset(n.frame, n.frameCode),
    frameInstr: offset(n.frame, n.frameInstr),
    framePrevious: offset(n.frame, n.framePrevious),
    frameIsEntry: maybe(n.frame, n.frameIsEntry),
    frameOwner: maybe(n.frame, n.frameOwner),
    codeFilename: offset('PyCodeObject', 'co_filename'),
    codeName: offset('PyCodeObject', 'co_name'),
    codeQualname: maybe('PyCodeObject', n.codeQualname),
    codeLineTable: offset('PyCodeObject', n.codeLineTable),
    codeFirstLineNo: offset('PyCodeObject', 'co_firstlineno'),
    codeFirstTraceable: maybe('PyCodeObject', n.codeFirstTraceable),
    codeBytecode: maybe('PyCodeObject', n.codeBytecode),
    unicodeLength: offset('PyASCIIObject', 'length'),
    unicodeState: state,
    unicodeKindShift: shift('state.kind'),
    unicodeCompactShift: shift('state.compact'),
    unicodeAsciiShift: shift('state.ascii'),
    unicodeAsciiSize: size('PyASCIIObject'),
    unicodeCompactSize: size('PyCompactUnicodeObject'),
    bytesSize: offset('PyBytesObject', 'ob_base.ob_size'),
    bytesData: offset('PyBytesObject', 'ob_sval'),
    objectType: offset('PyObject', 'ob_type'),
    runtimeGil: n.gil.in === 'runtime' ? ifPresent(gilIn, n.gil.member) : null,
    interpGil: n.gil.in === 'interpreter' ? ifPresent(gilIn, n.gil.member) : null,
    gilLastHolder: ifPresent(n.gil.type, 'last_holder'),
    gilLocked: ifPresent(n.gil.type, 'locked'),
    objects: objectOffsets(),
    locals: localsOffsets(),
  };
}
