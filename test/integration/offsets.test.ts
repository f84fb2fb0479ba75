/**
 * Offsets from every source against real interpreters: the built-in tables
 * equal what DWARF of real builds says, a table of the wrong version is
 * caught by the check at attach, or reads exactly the same frames, and a
 * version newer than any known is read through its own _Py_DebugOffsets.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { nativeAddon } from '../../src/native.js';
import { CodeObjectReader } from '../../src/python/code-objects.js';
import type { PythonLayout } from '../../src/python/layout.js';
import { processMemory, type MemoryReader } from '../../src/target/memory.js';
import { buildLayout } from '../../src/python/offsets.js';
import { findLayout, UnsupportedVersionError } from '../../src/python/find-layout.js';
import { tablesFromDwarf } from '../../src/python/sources/generate-tables.js';
import { DEBUG_OFFSETS_POSITIONS, OFFSET_TABLES } from '../../src/python/sources/tables.generated.js';
import { checkLayout } from '../../src/python/validate.js';
import { specFor } from '../../src/python/versions.js';
import { threadStates, walkChain } from '../../src/python/walk.js';
import { findInterpreter } from '../../src/target/interpreter.js';
import { parseMaps } from '../../src/target/maps.js';
import { openTarget, readMapsText } from '../../src/target/process.js';
import { WORKLOADS } from '../helpers/paths.js';
import { startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython } from '../helpers/pythons.js';

const addon = nativeAddon();
const PYENV = ['3.8.18', '3.9.18', '3.10.13', '3.11.7', '3.12.1', '3.13.0'];

function libpython(version: string): string {
  const minor = version.split('.').slice(0, 2).join('.');
  return path.join(path.dirname(pyenvPython(version).executable), '..', 'lib', `libpython${minor}.so.1.0`);
}

describe('built-in tables', () => {
  test('equal the DWARF of the builds they were generated from', async () => {
    const sid314 = await debianPython('sid-3.14-dbg');
    const sid315 = await debianPython('sid-3.15-dbg');
    const sources = [
      ...PYENV.map((v) => ({ minor: Number(v.split('.')[1]), debugFile: libpython(v), label: v })),
      { minor: 14, debugFile: sid314.debugFile!, label: 'sid 3.14' },
      { minor: 15, debugFile: sid315.debugFile!, label: 'sid 3.15' },
    ];
    const tables = tablesFromDwarf(addon, sources);
    assert.deepEqual(tables.offsets, OFFSET_TABLES, 'regenerate with `node scripts/gen-tables.js`');
    assert.deepEqual(tables.debugOffsets, DEBUG_OFFSETS_POSITIONS);
  });

  test("hold for other release builds of the same version (Debian's 3.11, sid's 3.13 and 3.14)", async () => {
    for (const [name, minor] of [['debian-3.11', 11], ['sid-3.13-dbg', 13], ['sid-3.14-dbg', 14]] as const) {
      const python = await debianPython(name);
      const { offsets } = tablesFromDwarf(addon, [{ minor, debugFile: python.debugFile!, label: name }]);
      assert.deepEqual(offsets[minor], OFFSET_TABLES[minor], `${name} differs from the 3.${minor} table`);
    }
  });
});

/** Names of every frame of every thread, read with a layout (the reference walk). */
function frameNames(memory: MemoryReader, layout: PythonLayout, runtime: bigint): string[] {
  const reader = new CodeObjectReader(memory, layout);
  return threadStates(memory, layout, runtime, 16).flatMap((ts) => (walkChain(memory, layout, ts, 64)?.frames ?? []).map((f) => reader.code(f.code)?.qualname ?? '?'));
}

describe('a table of the wrong version is caught or harmless', () => {
  const targets: { version: string; workload: Workload<unknown> }[] = [];
  before(async () => {
    for (const version of PYENV) targets.push({ version, workload: await startWorkload(pyenvPython(version).executable, [path.join(WORKLOADS, 'idle.py')]) });
  });
  after(async () => {
    for (const t of targets) await t.workload.stop();
  });

  test('every table against every version', (t) => {
    let caught = 0;
    for (const { version, workload } of targets) {
      const target = openTarget(workload.pid);
      const memory = processMemory(addon, workload.pid);
      const interpreter = findInterpreter(addon, memory, target, parseMaps(readMapsText(workload.pid)!));
      assert.ok(interpreter, `no interpreter found in ${version}`);
      const tids = new Set(readdirSync(`/proc/${workload.pid}/task`).map(Number));
      const layoutFor = (minor: number): PythonLayout =>
        buildLayout(OFFSET_TABLES[minor]!, {
          version: interpreter.version,
          spec: specFor({ major: 3, minor, micro: 0, hex: 0 })!,
          source: 'test',
          codeTypeAddress: interpreter.codeTypeAddress,
          matchByFsbase: false,
        });
      const own = layoutFor(interpreter.version.minor);
      assert.ok(checkLayout(memory, own, interpreter.runtimeAddress, () => tids).ok, `the ${version} table fails its own version`);
      const expected = frameNames(memory, own, interpreter.runtimeAddress);
      assert.ok(expected.includes('park_inner') || expected.includes('park_outer'), expected.join(','));
      for (const minor of Object.keys(OFFSET_TABLES).map(Number)) {
        if (minor === interpreter.version.minor) continue;
        const layout = layoutFor(minor);
        if (checkLayout(memory, layout, interpreter.runtimeAddress, () => tids).ok) {
          assert.deepEqual(frameNames(memory, layout, interpreter.runtimeAddress), expected, `3.${minor} table passed the check on ${version} but reads other frames`);
        } else {
          caught++;
        }
      }
    }
    t.diagnostic(`${caught} of ${targets.length * (Object.keys(OFFSET_TABLES).length - 1)} wrong tables caught by the check; the rest read the same frames`);
    assert.ok(caught >= 25, `only ${caught} wrong tables caught`);
  });
});

/** The memory of a process, with some 8-byte words at given addresses read as other values. */
function patchedMemory(memory: MemoryReader, words: ReadonlyMap<bigint, bigint>): MemoryReader {
  const patch = (address: bigint, bytes: Buffer | null): Buffer | null => {
    if (!bytes) return bytes;
    let copy: Buffer | null = null;
    for (const [at, value] of words) {
      const offset = Number(at - address);
      if (offset < 0 || offset + 8 > bytes.length) continue;
      copy ??= Buffer.from(bytes);
      copy.writeBigUInt64LE(value, offset);
    }
    return copy ?? bytes;
  };
  return {
    read: (address, length) => patch(address, memory.read(address, length)),
    readMany: (addresses, lengths) => memory.readMany(addresses, lengths).map((bytes, i) => patch(addresses[i]!, bytes)),
  };
}

describe('a version newer than mixprof knows (sid\'s 3.15 presented as 3.16)', () => {
  let workload: Workload<unknown>;
  before(async () => {
    workload = await startWorkload((await debianPython('sid-3.15')).executable, [path.join(WORKLOADS, 'idle.py')]);
  });
  after(async () => {
    await workload?.stop();
  });

  const V3_16 = { major: 3, minor: 16, micro: 0, hex: 0x031000f0 };
  const setUp = () => {
    const target = openTarget(workload.pid);
    const memory = processMemory(addon, workload.pid);
    const found = findInterpreter(addon, memory, target, parseMaps(readMapsText(workload.pid)!));
    assert.ok(found && found.version.minor === 15, 'sid-3.15 found as 3.15');
    const positions = DEBUG_OFFSETS_POSITIONS[15]!.fields;
    const at = (field: keyof typeof positions): bigint => found.runtimeAddress + BigInt(positions[field]);
    return { target, memory, interpreter: { ...found, version: V3_16 }, at, own: found };
  };

  test('its _Py_DebugOffsets are read as the newest known version\'s, checked, and give the same frames', () => {
    const { target, memory, interpreter, at, own } = setUp();
    const as316 = patchedMemory(memory, new Map([[at('version'), BigInt(V3_16.hex)]]));
    const layout = findLayout(addon, as316, target, interpreter, { extraFiles: [] });
    assert.match(layout.source, /^the interpreter's _Py_DebugOffsets, read as 3\.15's \(a version newer than mixprof knows/);
    assert.equal(layout.version.minor, 16);
    const known = findLayout(addon, memory, target, own, { extraFiles: [] });
    const names = frameNames(memory, layout, interpreter.runtimeAddress);
    assert.ok(names.includes('park_inner') && names.includes('park_outer'), names.join(','));
    assert.deepEqual(names, frameNames(memory, known, interpreter.runtimeAddress));
  });

  test('refused with the reason when the struct does not read as the known one, or only other sources are allowed', () => {
    const { target, memory, interpreter, at } = setUp();
    const refused = (words: Map<bigint, bigint>, why: RegExp, sources?: ('dwarf' | 'table')[]): void => {
      assert.throws(
        () => findLayout(addon, patchedMemory(memory, words), target, interpreter, { extraFiles: [], ...(sources ? { sources } : {}) }),
        (error: unknown) => error instanceof UnsupportedVersionError && /^Python 3\.16\.0 \(.*\) is newer than mixprof knows \(3\.8, .*3\.15\) and /.test(error.message) && why.test(error.message),
      );
    };
    const version = BigInt(V3_16.hex);
    // The version field not where 3.15 has it (its value is 3.15's): the struct moved.
    refused(new Map(), /its version field reads 0x30f02f0/);
    refused(new Map([[at('version'), version], [at('thread_state.size'), 4n]]), /thread_state\.size reads 4/);
    refused(new Map([[at('version'), version], [at('code_object.qualname'), 100_000n]]), /code_object\.qualname \(100000\) is past the struct's size/);
    // Offsets that pass the struct's own checks but not the live process.
    refused(new Map([[at('version'), version], [at('thread_state.native_thread_id'), 0n]]), /does not match the process/);
    refused(new Map([[at('version'), version]]), /only its _Py_DebugOffsets can describe it/, ['table']);
  });
});
