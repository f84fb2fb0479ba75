/**
 * Offsets from every source against real interpreters: the built-in tables
 * equal what DWARF of real builds says, and a table of the wrong version is
 * caught by the check at attach, or reads exactly the same frames.
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
import { tablesFromDwarf } from '../../src/python/sources/generate-tables.js';
import { DEBUG_OFFSETS_POSITIONS, OFFSET_TABLES } from '../../src/python/sources/tables.generated.js';
import { checkLayout } from '../../src/python/validate.js';
import { specFor } from '../../src/python/versions.js';
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

/** Names of every frame of every thread, read with a layout. */
function frameNames(memory: MemoryReader, layout: PythonLayout, runtime: bigint): string[] {
  const pointer = (a: bigint): bigint => (a === 0n ? 0n : (memory.read(a, 8)?.readBigUInt64LE(0) ?? 0n));
  const reader = new CodeObjectReader(memory, layout);
  const names: string[] = [];
  const interp = pointer(runtime + BigInt(layout.runtime.interpretersHead));
  for (let ts = pointer(interp + BigInt(layout.runtime.threadsHead)), n = 0; ts !== 0n && n < 16; ts = pointer(ts + BigInt(layout.thread.next)), n++) {
    let f = pointer(ts + BigInt(layout.thread.frame));
    if (layout.thread.cframeCurrentFrame !== null) f = pointer(f + BigInt(layout.thread.cframeCurrentFrame));
    for (let d = 0; f !== 0n && d < 64; d++, f = pointer(f + BigInt(layout.frame.previous))) {
      const code = pointer(f + BigInt(layout.frame.code)) & layout.frame.codeMask;
      names.push(reader.code(code)?.qualname ?? '?');
    }
  }
  return names;
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
