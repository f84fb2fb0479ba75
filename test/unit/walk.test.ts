/**
 * The reference Python walk (src/python/walk.ts) over a memory image laid out
 * with each version's offsets: the thread-state list, the oldest state of a
 * key, the current frame (through the cframe where the version has one), the
 * frames' words and the chain's hash.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { PythonLayout } from '../../src/python/layout.js';
import { buildLayout } from '../../src/python/offsets.js';
import { OFFSET_TABLES } from '../../src/python/sources/tables.generated.js';
import { specFor } from '../../src/python/versions.js';
import { CHAIN_HASH_SEED, findThreadState, threadStates, walkChain } from '../../src/python/walk.js';
import { nativeAddon } from '../../src/native.js';
import { walkConstants } from '../../src/sampler/program.js';
import { packWalkConfig, WALK_FIELDS } from '../../src/sampler/walk-fields.js';
import { SparseMemory } from '../fuzz/memory-image.js';

/** A target's memory: 8-byte and 4-byte values written at addresses, in pages; everything else unreadable. */
class MemoryImage extends SparseMemory {
  private page(address: bigint): [Buffer, number] {
    const base = address & ~0xfffn;
    let page = this.regions.get(base);
    if (!page) this.set(base, (page = Buffer.alloc(0x1000)));
    return [page, Number(address - base)];
  }
  u64(address: bigint, value: bigint): this {
    const [page, at] = this.page(address);
    page.writeBigUInt64LE(value, at);
    return this;
  }
  u32(address: bigint, value: number): this {
    const [page, at] = this.page(address);
    page.writeUInt32LE(value, at);
    return this;
  }
  /** The image as the addon's walk takes it. */
  pages(): { address: bigint; bytes: Uint8Array }[] {
    return [...this.regions].map(([address, bytes]) => ({ address, bytes }));
  }
}

function layoutFor(minor: number): PythonLayout {
  const version = { major: 3, minor, micro: 0, hex: 0 };
  return buildLayout(OFFSET_TABLES[minor]!, { version, spec: specFor(version)!, source: 'test', codeTypeAddress: null, matchByFsbase: false });
}

const RUNTIME = 0x10000n;
const INTERP = 0x20000n;
const NEWER = 0x30000n;
const OLDER = 0x31000n;
const CFRAME = 0x40000n;
const FRAMES = [0x50000n, 0x51000n, 0x52000n];
const CODES = [0x60000n, 0x61000n, 0x62000n];
const FIRST_LINES = [10, 20, 30];
const KEY = 4242n;

interface Chain {
  readonly instrs: readonly bigint[];
  readonly codes?: readonly bigint[];
}

/** Two thread states of the same thread key (the newer first, as the interpreter lists them); the older runs three frames. */
function image(layout: PythonLayout, chain: Chain = { instrs: [0x100n, 0x200n, 0x300n] }): MemoryImage {
  const m = new MemoryImage();
  const { thread, frame, code, runtime } = layout;
  m.u64(RUNTIME + BigInt(runtime.interpretersHead), INTERP);
  m.u64(INTERP + BigInt(runtime.threadsHead), NEWER);
  m.u64(NEWER + BigInt(thread.next), OLDER).u64(NEWER + BigInt(thread.threadKey), KEY);
  m.u64(OLDER + BigInt(thread.next), 0n).u64(OLDER + BigInt(thread.threadKey), KEY);
  if (thread.cframeCurrentFrame !== null) {
    m.u64(OLDER + BigInt(thread.frame), CFRAME).u64(CFRAME + BigInt(thread.cframeCurrentFrame), FRAMES[0]!);
  } else {
    m.u64(OLDER + BigInt(thread.frame), FRAMES[0]!);
  }
  FRAMES.forEach((f, i) => {
    // Written first: before 3.11 the captured 8 bytes overlap other fields, which then win.
    m.u64(f + BigInt(frame.flags), BigInt(i + 1));
    // 3.14 tags the code pointer in its low bits: the walk masks them off.
    const tag = frame.codeMask & 1n ? 0n : 1n;
    m.u64(f + BigInt(frame.code), (chain.codes ?? CODES)[i]! | tag);
    m.u64(f + BigInt(frame.instr), chain.instrs[i]!);
    m.u64(f + BigInt(frame.previous), FRAMES[i + 1] ?? 0n);
    m.u32(CODES[i]! + BigInt(code.firstLineNo), FIRST_LINES[i]!);
  });
  return m;
}

for (const minor of Object.keys(OFFSET_TABLES).map(Number)) {
  describe(`the reference walk over a 3.${minor} memory image`, () => {
    const layout = layoutFor(minor);

    test("the thread states newest first, and a key's state is the oldest that carries it", () => {
      const m = image(layout);
      assert.deepEqual(threadStates(m, layout, RUNTIME, 16), [NEWER, OLDER]);
      assert.deepEqual(threadStates(m, layout, RUNTIME, 1), [NEWER]);
      assert.equal(findThreadState(m, layout, RUNTIME, KEY, 16), OLDER);
      assert.equal(findThreadState(m, layout, RUNTIME, KEY + 1n, 16), 0n);
      assert.equal(findThreadState(new MemoryImage(), layout, RUNTIME, KEY, 16), 0n);
    });

    test("the chain's frames innermost first, each with its code object's first line; truncated past the depth", () => {
      const m = image(layout);
      const chain = walkChain(m, layout, OLDER, 64)!;
      assert.deepEqual(
        chain.frames.map((f) => [f.code, f.instr, f.flags, f.firstLineNo]),
        FRAMES.map((f, i) => [CODES[i]!, [0x100n, 0x200n, 0x300n][i]! & layout.frame.instrMask, m.read(f + BigInt(layout.frame.flags), 8)!.readBigUInt64LE(0), FIRST_LINES[i]!]),
      );
      assert.equal(chain.depth, 3);
      assert.equal(chain.truncated, false);
      const cut = walkChain(m, layout, OLDER, 2)!;
      assert.deepEqual([cut.depth, cut.truncated], [2, true]);
      assert.equal(walkChain(m, layout, NEWER, 64), null, 'a thread state running no frame has no chain');
    });

    test('the hash follows the instructions, and the code objects where the instruction pointer does not name them', () => {
      const base = walkChain(image(layout), layout, OLDER, 64)!.hash;
      assert.notEqual(base, CHAIN_HASH_SEED);
      assert.equal(walkChain(image(layout), layout, OLDER, 64)!.hash, base, 'the same chain hashes the same');
      assert.notEqual(walkChain(image(layout, { instrs: [0x100n, 0x208n, 0x300n] }), layout, OLDER, 64)!.hash, base);
      const otherCode = walkChain(image(layout, { instrs: [0x100n, 0x200n, 0x300n], codes: [CODES[0]!, CODES[2]!, CODES[1]!] }), layout, OLDER, 64)!.hash;
      assert.equal(otherCode !== base, layout.frame.instrKind !== 'pointer');
      assert.notEqual(walkChain(image(layout), layout, OLDER, 64, 7n)!.hash, base, "a followed process's seed gives its chains their own hashes");
    });
  });
}

/** The C walk's configuration for a layout, as the DWARF sampler gets it; one field may be set wrong on purpose. */
function cConfig(layout: PythonLayout, maxDepth: number, wrong: Record<string, bigint> = {}): Uint8Array {
  const constants = walkConstants(layout, RUNTIME, { pid: 1, hz: 99, maxDepth, maxThreads: 16, userDepth: 1, gil: false });
  return packWalkConfig({ ...constants, ...wrong });
}

for (const minor of Object.keys(OFFSET_TABLES).map(Number)) {
  describe(`the DWARF sampler's C walk agrees with the reference walk over a 3.${minor} memory image`, () => {
    const layout = layoutFor(minor);
    const addon = nativeAddon();

    test('the same thread state, frames, hash and truncation, at every depth limit and seed', () => {
      for (const chain of [{ instrs: [0x100n, 0x200n, 0x300n] }, { instrs: [0x108n, 0x200n, 0x310n], codes: [CODES[2]!, CODES[0]!, CODES[1]!] }]) {
        const m = image(layout, chain);
        for (const depth of [1, 2, 3, 64]) {
          for (const seed of [CHAIN_HASH_SEED, 12345n]) {
            const c = addon.walkImage(cConfig(layout, depth), m.pages(), KEY, seed);
            assert.equal(c.threadState, findThreadState(m, layout, RUNTIME, KEY, 16));
            assert.deepEqual(c.chain, walkChain(m, layout, c.threadState, depth, seed), `depth ${depth}, seed ${seed}`);
          }
        }
      }
      assert.deepEqual(addon.walkImage(cConfig(layout, 64), image(layout).pages(), KEY + 1n, CHAIN_HASH_SEED), { threadState: 0n, chain: null });
    });

    test('one field set wrong in the C walk makes the two disagree', () => {
      const m = image(layout);
      const right = walkChain(m, layout, OLDER, 64);
      for (const field of ['fr_previous', 'fr_instr', 'fr_code', 'ts_next', 'ts_frame', 'co_firstlineno']) {
        assert.ok(WALK_FIELDS.some(([name]) => name === field), field);
        const constants = walkConstants(layout, RUNTIME, { pid: 1, hz: 99, maxDepth: 64, maxThreads: 16, userDepth: 1, gil: false }) as unknown as Record<string, bigint>;
        const c = addon.walkImage(cConfig(layout, 64, { [field]: constants[field]! + 8n }), m.pages(), KEY, CHAIN_HASH_SEED);
        assert.notDeepEqual(c.chain, right, `${field} off by 8 went unnoticed`);
      }
    });
  });
}
