import assert from 'node:assert/strict';
import { test } from 'node:test';
import { epochMs } from '../../src/sampler/kernel-clock.js';
import { sameImage } from '../../src/session/followed.js';
import { parseMaps } from '../../src/target/maps.js';
import { forkedMemory, type MemoryReader } from '../../src/target/memory.js';

const maps = (exeAt: string, libAt: string): string =>
  [
    `${exeAt}-5600000a1000 r--p 00000000 08:01 100 /usr/bin/python3.11`,
    `5600000b0000-5600000b1000 r-xp 00001000 08:01 100 /usr/bin/python3.11`,
    `${libAt}-7f0000101000 r--p 00000000 08:01 200 /usr/lib/libpython3.11.so.1.0`,
    `7fff00000000-7fff00021000 rw-p 00000000 00:00 0 [stack]`,
  ].join('\n');

const FILES = ['/usr/bin/python3.11', '/usr/lib/libpython3.11.so.1.0'];

test('a fork maps the target image where the target has it: same image', () => {
  assert.equal(sameImage(parseMaps(maps('5600000a0000', '7f0000100000')), parseMaps(maps('5600000a0000', '7f0000100000')), FILES), true);
});

test('an exec maps the program anew, elsewhere: not the same image', () => {
  assert.equal(sameImage(parseMaps(maps('5600000a0000', '7f0000100000')), parseMaps(maps('5611110a0000', '7f0000100000')), FILES), false);
  assert.equal(sameImage(parseMaps(maps('5600000a0000', '7f0000100000')), parseMaps(maps('5600000a0000', '7f1111100000')), FILES), false);
});

test('another program altogether, or nothing to compare: not the same image', () => {
  const other = parseMaps('5600000a0000-5600000a1000 r--p 00000000 08:01 300 /usr/bin/bash');
  assert.equal(sameImage(parseMaps(maps('5600000a0000', '7f0000100000')), other, FILES), false);
  assert.equal(sameImage(other, other, FILES), false);
});

test('kernel times (CLOCK_MONOTONIC) become epoch times by the distance from now', () => {
  assert.equal(epochMs(9_000, 1_700_000_000_000, 10_000), 1_699_999_999_000);
});

/** A reader over a map of address -> bytes. */
function fakeMemory(words: Map<bigint, string>): MemoryReader & { reads: number } {
  const reader = {
    reads: 0,
    read(address: bigint, length: number): Buffer | null {
      reader.reads++;
      const text = words.get(address);
      return text === undefined ? null : Buffer.from(text).subarray(0, length);
    },
    readMany(addresses: readonly bigint[], lengths: readonly number[]): (Buffer | null)[] {
      return addresses.map((a, i) => reader.read(a, lengths[i]!));
    },
  };
  return reader;
}

test("a forked process's memory: its own while it runs; its parent's once it has exited", () => {
  const child = fakeMemory(new Map([[0x10n, 'child']]));
  const parent = fakeMemory(new Map([[0x10n, 'parent'], [0x20n, 'before']]));
  let alive = true;
  const memory = forkedMemory(child, parent, () => alive);
  assert.equal(memory.read(0x10n, 5)?.toString(), 'child');
  // Unreadable in a running child stays unreadable: the parent's may be another object by now.
  assert.equal(memory.read(0x20n, 6), null);
  assert.deepEqual(memory.readMany([0x10n, 0x20n], [5, 6]).map((b) => b?.toString() ?? null), ['child', null]);
  alive = false;
  assert.deepEqual(memory.readMany([0x10n, 0x20n], [5, 6]).map((b) => b?.toString() ?? null), ['child', 'before']);
  assert.equal(memory.read(0x20n, 6)?.toString(), 'before');
});

test("a forked process found gone is not looked for again: its later reads go to the parent's memory at once", () => {
  const child = fakeMemory(new Map());
  const parent = fakeMemory(new Map([[0x20n, 'before']]));
  let asked = 0;
  let alive = true;
  const memory = forkedMemory(child, parent, () => {
    asked++;
    return alive;
  });
  // Running: each unreadable word asks again (the child may exit any time).
  assert.equal(memory.read(0x20n, 6), null);
  assert.equal(memory.read(0x20n, 6), null);
  assert.equal(asked, 2);
  alive = false;
  for (let i = 0; i < 100; i++) assert.equal(memory.read(0x20n, 6)?.toString(), 'before');
  assert.deepEqual(memory.readMany([0x20n], [6]).map((b) => b?.toString() ?? null), ['before']);
  // Once found gone, never asked again (a PID reused since is another process).
  alive = true;
  assert.equal(memory.read(0x20n, 6)?.toString(), 'before');
  assert.equal(asked, 3);
});
