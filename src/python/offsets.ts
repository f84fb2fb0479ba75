/**
 * Builds a PythonLayout from DWARF debug info with the addon's struct reader.
 * Every member the sampler needs must be found: a missing one means the debug
 * file does not describe this interpreter, and guessing would give garbage.
 */
import { MixprofError } from '../errors.js';
import type { MemberLayout, NativeAddon, StructLayoutRequest, StructLayoutResult } from '../native.js';
import type { PythonLayout, PythonVersion } from './layout.js';
import type { VersionSpec } from './versions.js';

const ALL_BITS = (1n << 64n) - 1n;
const LOW_32_BITS = (1n << 32n) - 1n;

export function layoutFromDwarf(
  addon: NativeAddon,
  debugFile: string,
  version: PythonVersion,
  spec: VersionSpec,
  codeTypeAddress: bigint | null,
  /** How to name the debug file to the user (its path inside the target). */
  debugFileLabel = debugFile,
): PythonLayout {
  const n = spec.names;
  const requests: StructLayoutRequest[] = [
    { type: n.runtime, members: [n.interpretersHead] },
    { type: n.interp, members: [n.threadsHead] },
    { type: n.thread, members: [n.threadNext, n.threadKey, n.threadFrame] },
    {
      type: n.frame,
      members: [n.frameCode, n.frameInstr, n.framePrevious, ...(n.frameIsEntry ? [n.frameIsEntry] : []), ...(n.frameOwner ? [n.frameOwner] : [])],
    },
    {
      type: n.code,
      members: [
        'co_filename',
        'co_name',
        'co_firstlineno',
        n.codeLineTable,
        ...(n.codeQualname ? [n.codeQualname] : []),
        ...(n.codeFirstTraceable ? [n.codeFirstTraceable] : []),
        ...(n.codeBytecode ? [n.codeBytecode] : []),
      ],
    },
    { type: 'PyASCIIObject', members: ['length', 'state.kind', 'state.compact', 'state.ascii'] },
    { type: 'PyCompactUnicodeObject', members: [] },
    { type: 'PyBytesObject', members: ['ob_base.ob_size', 'ob_sval'] },
    { type: 'PyObject', members: ['ob_type'] },
  ];
  if (n.cframe) requests.push({ type: n.cframe.type, members: [n.cframe.currentFrame] });

  let results: StructLayoutResult[];
  try {
    results = addon.structLayout(debugFile, requests);
  } catch (error) {
    throw new MixprofError('NO_DEBUG_INFO', `cannot read DWARF from ${debugFile}: ${(error as Error).message}`, 'pass a matching debug file with -d', { cause: error });
  }
  const byType = new Map(results.map((r) => [r.type, r]));
  const member = (type: string, name: string): MemberLayout => {
    const found = byType.get(type)?.members[name];
    if (!found) {
      throw new MixprofError(
        'NO_DEBUG_INFO',
        `the debug info in ${debugFile} has no ${type}.${name} (not a CPython ${version.major}.${version.minor} debug file?)`,
        'pass the debug file that matches this interpreter build with -d',
      );
    }
    return found;
  };
  const offset = (type: string, name: string): number => member(type, name).offset;
  const size = (type: string): number => {
    const found = byType.get(type)?.size;
    if (found === null || found === undefined) {
      throw new MixprofError('NO_DEBUG_INFO', `the debug info in ${debugFile} does not describe ${type}`, 'pass the debug file that matches this interpreter build with -d');
    }
    return found;
  };
  const bitShift = (type: string, base: number, name: string): number => {
    const m = member(type, name);
    return (m.offset - base) * 8 + (m.bitOffset ?? 0);
  };

  const isEntry = n.frameIsEntry ? offset(n.frame, n.frameIsEntry) : null;
  const owner = n.frameOwner ? offset(n.frame, n.frameOwner) : null;
  const flagFields = [isEntry, owner].filter((v): v is number => v !== null);
  const flags = flagFields.length > 0 ? Math.min(...flagFields) : offset(n.frame, n.framePrevious);

  const codeFields = [
    offset(n.code, 'co_filename'),
    offset(n.code, 'co_name'),
    offset(n.code, 'co_firstlineno'),
    offset(n.code, n.codeLineTable),
    ...(n.codeQualname ? [offset(n.code, n.codeQualname)] : []),
    ...(n.codeFirstTraceable ? [offset(n.code, n.codeFirstTraceable)] : []),
  ];
  const state = member('PyASCIIObject', 'state.kind');
  const stateBase = state.offset;

  return {
    version,
    source: `DWARF in ${debugFileLabel}`,
    runtime: {
      interpretersHead: offset(n.runtime, n.interpretersHead),
      threadsHead: offset(n.interp, n.threadsHead),
    },
    thread: {
      next: offset(n.thread, n.threadNext),
      threadKey: offset(n.thread, n.threadKey),
      threadKeyIsFsbase: spec.threadKeyIsFsbase,
      frame: offset(n.thread, n.threadFrame),
      cframeCurrentFrame: n.cframe ? offset(n.cframe.type, n.cframe.currentFrame) : null,
    },
    frame: {
      code: offset(n.frame, n.frameCode),
      codeMask: ALL_BITS,
      instr: offset(n.frame, n.frameInstr),
      instrMask: spec.instrKind === 'pointer' ? ALL_BITS : LOW_32_BITS,
      instrKind: spec.instrKind,
      previous: offset(n.frame, n.framePrevious),
      flags,
      isEntryByte: isEntry === null ? null : isEntry - flags,
      ownerByte: owner === null ? null : owner - flags,
      ownerCStack: spec.ownerCStack,
    },
    code: {
      filename: offset(n.code, 'co_filename'),
      name: offset(n.code, 'co_name'),
      qualname: n.codeQualname ? offset(n.code, n.codeQualname) : null,
      lineTable: offset(n.code, n.codeLineTable),
      lineTableFormat: spec.lineTableFormat,
      firstLineNo: offset(n.code, 'co_firstlineno'),
      firstTraceable: n.codeFirstTraceable ? offset(n.code, n.codeFirstTraceable) : null,
      bytecode: n.codeBytecode ? offset(n.code, n.codeBytecode) : null,
      readSize: Math.max(...codeFields) + 8,
    },
    unicode: {
      length: offset('PyASCIIObject', 'length'),
      state: stateBase,
      kindShift: bitShift('PyASCIIObject', stateBase, 'state.kind'),
      compactShift: bitShift('PyASCIIObject', stateBase, 'state.compact'),
      asciiShift: bitShift('PyASCIIObject', stateBase, 'state.ascii'),
      asciiSize: size('PyASCIIObject'),
      compactSize: size('PyCompactUnicodeObject'),
    },
    bytes: {
      size: offset('PyBytesObject', 'ob_base.ob_size'),
      data: offset('PyBytesObject', 'ob_sval'),
    },
    codeTypeAddress,
    objectType: offset('PyObject', 'ob_type'),
  };
}
