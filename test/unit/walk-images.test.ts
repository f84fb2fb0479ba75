/**
 * Both Python walks without root, over memory images of real interpreters
 * (test/fixtures/walk-images/, captured by capture.ts from processes parked
 * in known chains): every supported version and build flavour. The reference
 * walk (src/python/walk.ts) must read each thread's chain as it was read from
 * the live process, names and lines; the DWARF sampler's C walk
 * (bpf/python-walk.h, built for user space) must read the same words and
 * hash them alike; one offset set wrong in either walk must fail.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { nativeAddon } from '../../src/native.js';
import type { RawPythonChain } from '../../src/python/captured.js';
import { CodeObjectReader } from '../../src/python/code-objects.js';
import type { PythonLayout } from '../../src/python/layout.js';
import { CHAIN_HASH_SEED, findThreadState, walkChain } from '../../src/python/walk.js';
import { walkConstants } from '../../src/sampler/program.js';
import { packWalkConfig, type WalkConstants } from '../../src/sampler/walk-fields.js';
import type { MemoryReader } from '../../src/target/memory.js';
import { imageMemory, imageRegions, layoutFromJson, type WalkImageFile } from '../fixtures/walk-images/image-file.js';
import { REPO } from '../helpers/paths.js';

const DIR = path.join(REPO, 'test', 'fixtures', 'walk-images');
const MAX_DEPTH = 64;
const MAX_THREADS = 64;
const IMAGES = readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();

function names(memory: MemoryReader, layout: PythonLayout, chain: RawPythonChain | null): string[] {
  const reader = new CodeObjectReader(memory, layout);
  return (chain?.frames ?? []).map((frame) => {
    const resolved = reader.resolve(frame);
    return resolved.status === 'ok' ? `${resolved.qualname}:${resolved.line ?? '?'}` : `[${resolved.status}]`;
  });
}

function constants(layout: PythonLayout, runtime: bigint): WalkConstants {
  return walkConstants(layout, runtime, { pid: 1, hz: 99, maxDepth: MAX_DEPTH, maxThreads: MAX_THREADS, userDepth: 1, gil: false });
}

test('there is an image of every supported version, of the free-threaded build, of a debug build and of a built-in table', () => {
  const names = IMAGES.map((f) => f.replace(/\.json$/, ''));
  for (const minor of [8, 9, 10, 11, 12, 13, 14, 15]) assert.ok(names.includes(`3.${minor}`), `3.${minor}`);
  for (const flavour of ['3.13t', '3.15d', '3.11-debian']) assert.ok(names.includes(flavour), flavour);
});

for (const name of IMAGES) {
  describe(`walk image ${name}`, () => {
    const file = JSON.parse(readFileSync(path.join(DIR, name), 'utf8')) as WalkImageFile;
    const layout = layoutFromJson(file.layout);
    const regions = imageRegions(file);
    const memory = imageMemory(regions);
    const runtime = BigInt(file.runtimeAddress);
    const addon = nativeAddon();

    test("the reference walk reads each thread's chain as it was read live, names and lines", () => {
      assert.ok(file.threads.length >= 3, file.python);
      for (const thread of file.threads) {
        const ts = findThreadState(memory, layout, runtime, BigInt(thread.key), MAX_THREADS);
        assert.notEqual(ts, 0n, `no thread state for ${thread.key}`);
        assert.deepEqual(names(memory, layout, walkChain(memory, layout, ts, MAX_DEPTH)), thread.chain);
      }
      // The workload's threads wait in these chains.
      assert.ok(file.threads.some((t) => t.chain.some((f) => f.startsWith('park_inner:'))));
      assert.ok(file.threads.some((t) => t.chain.some((f) => f.startsWith('main_waits:'))));
    });

    test('the C walk finds the same thread states and reads and hashes the same chains', () => {
      const config = packWalkConfig(constants(layout, runtime));
      for (const thread of file.threads) {
        for (const seed of [CHAIN_HASH_SEED, 0x5eedn]) {
          const c = addon.walkImage(config, regions, BigInt(thread.key), seed);
          assert.equal(c.threadState, findThreadState(memory, layout, runtime, BigInt(thread.key), MAX_THREADS));
          assert.deepEqual(c.chain, walkChain(memory, layout, c.threadState, MAX_DEPTH, seed));
        }
      }
    });

    test('one offset set wrong fails either walk', () => {
      const keys = file.threads.map((t) => BigInt(t.key));
      const live = file.threads.map((t) => t.chain);
      for (const field of ['previous', 'code', 'instr'] as const) {
        const wrong: PythonLayout = { ...layout, frame: { ...layout.frame, [field]: layout.frame[field] + 8 } };
        const read = keys.map((key) => names(memory, wrong, walkChain(memory, wrong, findThreadState(memory, wrong, runtime, key, MAX_THREADS), MAX_DEPTH)));
        assert.notDeepEqual(read, live, `reference walk, frame.${field}`);
      }
      const right = keys.map((key) => walkChain(memory, layout, findThreadState(memory, layout, runtime, key, MAX_THREADS), MAX_DEPTH));
      for (const field of ['fr_previous', 'fr_code', 'fr_instr', 'ts_frame', 'ts_next', 'ts_thread_key', 'co_firstlineno'] as const) {
        const c = constants(layout, runtime);
        const config = packWalkConfig({ ...c, [field]: c[field] + 8n });
        assert.notDeepEqual(keys.map((key) => addon.walkImage(config, regions, key, CHAIN_HASH_SEED).chain), right, `C walk, ${field}`);
      }
    });
  });
}
