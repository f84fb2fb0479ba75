/**
 * Runs the addon's ELF and DWARF readers over mutated copies of one file, in
 * a process of its own so that a crash is seen by the parent (the test in
 * test/unit/fuzz-elf.test.ts) rather than ending it. Before each case it
 * writes "case SEED" to stderr: after a crash, the last one names the culprit.
 *
 * Usage: node elf-child.js SOURCE DIR FIRST_SEED COUNT
 */
import { readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { nativeAddon } from '../../src/native.js';
import { Random } from './memory-image.js';

/** One way a file on disk can be damaged. */
export function damage(bytes: Buffer, random: Random): { bytes: Buffer; how: string } {
  const out = Buffer.from(bytes);
  switch (random.int(5)) {
    case 0: {
      // The ELF, program and section headers live near the start.
      const n = 1 + random.int(16);
      for (let i = 0; i < n; i++) out[random.int(Math.min(out.length, 4096))] = random.int(256);
      return { bytes: out, how: `${n} header bytes` };
    }
    case 1: {
      const n = 1 + random.int(64);
      for (let i = 0; i < n; i++) out[random.int(out.length)] = random.int(256);
      return { bytes: out, how: `${n} bytes anywhere` };
    }
    case 2: {
      const keep = random.int(out.length);
      return { bytes: out.subarray(0, keep), how: `cut to ${keep} bytes` };
    }
    case 3: {
      const at = random.int(out.length);
      out.fill(random.pick([0, 0xff]), at, Math.min(out.length, at + 64 + random.int(4096)));
      return { bytes: out, how: `block at ${at}` };
    }
    default: {
      // e_shoff / e_phoff / e_shnum and friends: offsets that point anywhere.
      const field = random.pick([0x20, 0x28, 0x30, 0x36, 0x38, 0x3a, 0x3c, 0x3e]);
      if (field + 8 <= out.length) out.writeBigUInt64LE(BigInt(random.int(2 ** 31)) * BigInt(random.int(4) + 1), field);
      return { bytes: out, how: `header field 0x${field.toString(16)}` };
    }
  }
}

function main(): void {
  const [source, dir, first, count] = process.argv.slice(2);
  if (!source || !dir || !first || !count) throw new Error('usage: elf-child SOURCE DIR FIRST_SEED COUNT');
  const addon = nativeAddon();
  const original = readFileSync(source);
  const maps = readFileSync('/proc/self/maps', 'utf8');
  for (let seed = Number(first); seed < Number(first) + Number(count); seed++) {
    const random = new Random(seed);
    const { bytes, how } = damage(original, random);
    const file = path.join(dir, `case-${seed}${path.extname(source)}`);
    writeSync(2, `case ${seed} ${how}\n`);
    writeFileSync(file, bytes);
    // Each reader either answers or throws a JavaScript error: both are fine, a crash is not.
    const attempt = (f: () => unknown): void => {
      try {
        f();
      } catch {
        // refused: what a damaged file should get
      }
    };
    attempt(() => addon.elfInfo(file));
    attempt(() => addon.lookupSymbols(file, ['deflate', 'XML_Parse', 'tiny_add', '_PyRuntime']));
    attempt(() => addon.structLayout(file, [{ type: 'tiny_point', members: ['x', 'y', 'next'] }]));
    attempt(() => {
      const symbolizer = new addon.Symbolizer({ maps, extraFiles: [file] });
      symbolizer.symbolize(BigUint64Array.from([0x1000n, 0x401000n]));
      symbolizer.close();
    });
    rmSync(file, { force: true });
  }
}

// Keep the helpers importable by the parent test without running anything.
if (process.argv[1]?.endsWith('elf-child.js')) main();
