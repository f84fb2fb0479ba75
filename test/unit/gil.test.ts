/** The GIL view's pure parts: offsets per version and source, the live check, the markers and the report. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pythonProgram, walkConstants } from '../../src/sampler/program.js';
import { formatReport } from '../../src/output/report.js';
import { combineStacks } from '../../src/profile/combine.js';
import { emptyStats, ProfileBuilder } from '../../src/profile/profile.js';
import type { RawSample } from '../../src/sampler/sampler.js';
import { gilProblem } from '../../src/python/gil-check.js';
import type { PythonLayout } from '../../src/python/layout.js';
import { buildLayout, gilLayout, type StructOffsets } from '../../src/python/offsets.js';
import { readBuildFlavour, readDebugOffsets, DEBUG_COOKIE } from '../../src/python/sources/debug-offsets.js';
import { DEBUG_OFFSETS_POSITIONS, OFFSET_TABLES } from '../../src/python/sources/tables.generated.js';
import { specFor } from '../../src/python/versions.js';
import type { NativeFrames } from '../../src/symbolize/native.js';
import type { MemoryReader } from '../../src/target/memory.js';

/** A target's memory: a few regions of bytes at known addresses. */
function fakeMemory(regions: Map<bigint, Buffer>): MemoryReader {
  const read = (address: bigint, length: number): Buffer | null => {
    for (const [start, bytes] of regions) {
      const offset = Number(address - start);
      if (address >= start && offset + length <= bytes.length) return bytes.subarray(offset, offset + length);
    }
    return null;
  };
  return { read, readMany: (addresses, lengths) => addresses.map((a, i) => read(a, lengths[i]!)) };
}

function layoutFor(minor: number, offsets: StructOffsets = OFFSET_TABLES[minor]!): PythonLayout {
  return buildLayout(offsets, { version: { major: 3, minor, micro: 0, hex: 0 }, spec: specFor({ major: 3, minor, micro: 0, hex: 0 })!, source: 'test', codeTypeAddress: null, matchByFsbase: false });
}

describe('where the GIL is, per version', () => {
  test('inside _PyRuntime before 3.12, through the interpreter from 3.12; last_holder and locked inside it', () => {
    for (const minor of [8, 9, 10, 11]) {
      const gil = gilLayout(OFFSET_TABLES[minor]!);
      assert.equal(gil?.location, 'runtime', `3.${minor}`);
      // ceval.gil follows the runtime's other members, well past interpreters.head.
      assert.ok(gil.offset > OFFSET_TABLES[minor]!.runtimeInterpretersHead, `3.${minor}`);
      assert.deepEqual([gil.lastHolder, gil.locked], [8, 16], `3.${minor}`);
    }
    for (const minor of [12, 13, 14]) {
      assert.deepEqual(gilLayout(OFFSET_TABLES[minor]!), { location: 'interpreter-pointer', offset: minor === 12 ? 384 : 16, lastHolder: 8, locked: 16 }, `3.${minor}`);
    }
  });

  test('offsets without the GIL fields give no GIL, and the walk is unchanged', () => {
    const without: StructOffsets = { ...OFFSET_TABLES[11]!, gilLocked: null };
    assert.equal(gilLayout(without), null);
    assert.equal(gilLayout({ ...OFFSET_TABLES[12]!, interpGil: null }), null);
    const layout = layoutFor(11, without);
    assert.equal(layout.gil, null);
    assert.deepEqual({ ...layout, gil: undefined }, { ...layoutFor(11), gil: undefined });
  });

  for (const minor of [13, 14]) {
    test(`3.${minor}: _Py_DebugOffsets gives the interpreter's GIL pointer, and the fields relative to its own GIL`, () => {
      const positions = DEBUG_OFFSETS_POSITIONS[minor]!;
      const bytes = Buffer.alloc(positions.size);
      bytes.write(DEBUG_COOKIE, 0, 'latin1');
      const set = (field: keyof typeof positions.fields, value: number): void => void bytes.writeBigUInt64LE(BigInt(value), positions.fields[field]);
      // As read from pyenv 3.13.0: offsetof(PyInterpreterState, ceval.gil), _gil, _gil.locked, _gil.last_holder.
      set('interpreter_state.ceval_gil', 16);
      set('interpreter_state.gil_runtime_state', 7752);
      set('interpreter_state.gil_runtime_state_locked', 7768);
      set('interpreter_state.gil_runtime_state_holder', 7760);
      const runtime = 0x10000n;
      const found = readDebugOffsets(fakeMemory(new Map([[runtime, bytes]])), runtime, minor, OFFSET_TABLES[minor]!);
      assert.ok(found);
      assert.deepEqual(gilLayout(found.offsets), { location: 'interpreter-pointer', offset: 16, lastHolder: 8, locked: 16 });

      // Fields not filled in (a distance that is no struct member) give no GIL.
      set('interpreter_state.gil_runtime_state_locked', 0);
      assert.equal(gilLayout(readDebugOffsets(fakeMemory(new Map([[runtime, bytes]])), runtime, minor, OFFSET_TABLES[minor]!)!.offsets), null);

      // The flavour is read from the same struct; a free-threaded build's layout has no GIL.
      const memory = fakeMemory(new Map([[runtime, bytes]]));
      assert.equal(readBuildFlavour(memory, runtime, minor), 'default');
      bytes.writeBigUInt64LE(1n, positions.fields.free_threaded);
      assert.equal(readBuildFlavour(memory, runtime, minor), 'free-threaded');
      set('interpreter_state.gil_runtime_state_locked', 7768);
      const offsets = readDebugOffsets(memory, runtime, minor, OFFSET_TABLES[minor]!)!.offsets;
      assert.ok(gilLayout(offsets));
      const context = { version: { major: 3, minor, micro: 0, hex: 0 }, source: 'test', codeTypeAddress: null, matchByFsbase: false };
      assert.equal(buildLayout(offsets, { ...context, spec: specFor(context.version, 'free-threaded')! }).gil, null);
      assert.ok(buildLayout(offsets, { ...context, spec: specFor(context.version)! }).gil);
    });
  }
});

describe('the GIL checked against the live process', () => {
  const runtime = 0x100000n;
  const interp = 0x200000n;
  const gilAt = 0x300000n;
  const tstate = 0x400040n;

  /** A 3.12 layout's memory: the interpreter's pointer to its GIL, and the GIL's locked and last_holder. */
  function memory312(locked: number, holder: bigint, pointer = gilAt): MemoryReader {
    const layout = layoutFor(12);
    const rt = Buffer.alloc(64);
    rt.writeBigUInt64LE(interp, layout.runtime.interpretersHead);
    const is = Buffer.alloc(512);
    is.writeBigUInt64LE(pointer, layout.gil!.offset);
    const gil = Buffer.alloc(64);
    gil.writeInt32LE(locked, layout.gil!.locked);
    gil.writeBigUInt64LE(holder, layout.gil!.lastHolder);
    return fakeMemory(new Map([[runtime, rt], [interp, is], [gilAt, gil]]));
  }

  test('a GIL that is taken, or not yet taken, looks right', () => {
    assert.equal(gilProblem(memory312(1, tstate), layoutFor(12), runtime), null);
    assert.equal(gilProblem(memory312(0, tstate), layoutFor(12), runtime), null);
    assert.equal(gilProblem(memory312(0, 0n), layoutFor(12), runtime), null);
  });

  test('garbage is caught', () => {
    assert.match(gilProblem(memory312(7, tstate), layoutFor(12), runtime)!, /locked flag reads 7/);
    assert.match(gilProblem(memory312(1, 0n), layoutFor(12), runtime)!, /last holder reads 0x0/);
    assert.match(gilProblem(memory312(1, tstate + 3n), layoutFor(12), runtime)!, /last holder reads 0x400043/);
    assert.match(gilProblem(memory312(1, tstate, 0n), layoutFor(12), runtime)!, /pointer to its GIL cannot be read/);
    assert.match(gilProblem(memory312(1, tstate, 0x900000n), layoutFor(12), runtime)!, /GIL's state at 0x900000 cannot be read/);
    assert.match(gilProblem(memory312(1, tstate), layoutFor(12, { ...OFFSET_TABLES[12]!, gilLocked: null }), runtime)!, /do not say where the GIL is/);
  });

  test('before 3.12 the GIL is read inside _PyRuntime', () => {
    const layout = layoutFor(11);
    const rt = Buffer.alloc(layout.gil!.offset + 64);
    rt.writeInt32LE(1, layout.gil!.offset + layout.gil!.locked);
    rt.writeBigUInt64LE(tstate, layout.gil!.offset + layout.gil!.lastHolder);
    assert.equal(gilProblem(fakeMemory(new Map([[runtime, rt]])), layout, runtime), null);
    rt.writeInt32LE(-1, layout.gil!.offset + layout.gil!.locked);
    assert.match(gilProblem(fakeMemory(new Map([[runtime, rt]])), layout, runtime)!, /locked flag reads -1/);
  });
});

describe('the samplers are told where the GIL is', () => {
  const settings = { pid: 42, hz: 99, maxDepth: 128, maxThreads: 16, userDepth: 32, gil: true };

  test('3.12+: through the interpreter; before: at a fixed place in the runtime', () => {
    const c12 = walkConstants(layoutFor(12), 0x1000n, settings);
    assert.deepEqual([c12.gil, c12.gil_via_interp, c12.gil_offset, c12.gil_locked, c12.gil_last_holder], [true, true, 384n, 16n, 8n]);
    const c9 = walkConstants(layoutFor(9), 0x1000n, settings);
    assert.deepEqual([c9.gil, c9.gil_via_interp, c9.gil_offset], [true, false, 352n]);
    const off = walkConstants(layoutFor(9), 0x1000n, { ...settings, gil: false });
    assert.deepEqual([off.gil, off.gil_offset], [false, 0n]);
  });

  test('the bpftrace program reads the GIL only with --gil, and keys samples by its state', () => {
    const on = pythonProgram(layoutFor(12), 0x1000n, settings);
    assert.match(on, /if \(1\) \{\s+\$gil = 3;/);
    assert.match(on, /\$g = \*uptr\(\(uint64 \*\)\(\$g \+ 384\)\);/);
    assert.match(on, /@samples\[tid, \$h, \$gil, ustack/);
    assert.match(pythonProgram(layoutFor(12), 0x1000n, { ...settings, gil: false }), /if \(0\) \{\s+\$gil = 3;/);
  });

  test('--gil with a layout that does not locate the GIL is a bug the session prevents', () => {
    assert.throws(() => walkConstants(layoutFor(11, { ...OFFSET_TABLES[11]!, runtimeGil: null }), 0x1000n, settings), /does not locate the GIL/);
  });
});

describe('marker frames', () => {
  const noNative = { noteAddresses: () => undefined, frames: (addresses: readonly bigint[]) => addresses.map(() => ({ mapped: false })) } as unknown as NativeFrames;
  const sample = (tid: number, gil: RawSample['gil'], kernel: string): RawSample => ({
    tid,
    chain: 0n,
    ...(gil ? { gil } : {}),
    user: [],
    kernel: [kernel],
    count: 2,
  });

  function profile(gilRoots: boolean, threadRoots: boolean): ReturnType<ProfileBuilder['finish']> {
    const builder = new ProfileBuilder(null, noNative, { hidePlumbing: true, maxNativeDepth: 32, nativeUnwind: 'dwarf', threadRoots, gilRoots });
    builder.addThread({ tid: 7, comm: 'worker' });
    builder.addSamples([sample(7, 'held', 'a'), sample(7, 'released', 'b'), sample(8, 'no-thread', 'c'), sample(7, 'held', 'a')]);
    return builder.finish();
  }
  const folded = (stacks: readonly { frames: readonly { name: string }[]; count: number }[]): string[] => stacks.map((s) => `${s.frames.map((f) => f.name).join(';')} ${s.count}`).sort();

  test('the GIL marker is the root, under the thread and process roots', () => {
    assert.deepEqual(folded(profile(true, false).stacks), ['[GIL held];a 4', '[GIL released];b 2', '[no Python thread];c 2']);
    const withThreads = profile(true, true);
    assert.deepEqual(folded(withThreads.stacks), ['thread (8);[no Python thread];c 2', 'worker (7);[GIL held];a 4', 'worker (7);[GIL released];b 2']);
    const combined = combineStacks([{ pid: 100, comm: 'app', profile: withThreads }], true);
    assert.deepEqual(folded(combined), ['app (100);thread (8);[no Python thread];c 2', 'app (100);worker (7);[GIL held];a 4', 'app (100);worker (7);[GIL released];b 2']);
    assert.ok(combined.every((s) => s.frames.slice(0, 3).every((f) => f.kind === 'marker')));
  });

  test('without --gil there is no marker; the counts are kept either way', () => {
    const p = profile(false, false);
    assert.deepEqual(folded(p.stacks), ['a 4', 'b 2', 'c 2']);
    assert.deepEqual([p.stats.gilHeld, p.stats.gilReleased, p.stats.noPythonThread], [4, 2, 2]);
  });

  test('the report gives the shares', () => {
    const stats = { ...emptyStats(), samples: 8, gilHeld: 4, gilReleased: 2, noPythonThread: 2 };
    const lines = formatReport(stats, { hz: 99, seconds: 1, python: true, noFramePointers: null, stopReason: 'duration reached', stackErrors: 0 });
    assert.ok(lines.includes('  GIL: held in 50.0% of samples, released in 25.0%, no Python thread in 25.0%'), lines.join('\n'));
    assert.ok(!formatReport({ ...stats, gilHeld: 0, gilReleased: 0, noPythonThread: 0 }, { hz: 99, seconds: 1, python: true, noFramePointers: null, stopReason: 'x', stackErrors: 0 }).some((l) => /GIL/.test(l)));
  });
});
