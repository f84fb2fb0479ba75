/**
 * `mixprof convert` builds its output within a memory and time bound
 * whatever the input says: a count near 2^53 does not make a cpuprofile
 * entry per sample, and one huge line is refused, not drawn.
 */
import assert from 'node:assert/strict';
import { open, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { MAX_ENTRIES } from '../../src/output/cpuprofile.js';
import { MAX_FRAMES } from '../../src/output/folded-reader.js';
import { MIXPROF } from '../helpers/paths.js';

describe('mixprof convert: bounded outputs', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-convert-bounds-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('[S18] a count of 2^53-1 becomes a cpuprofile of few entries; a 100 MB single-line stack is refused in one line', async () => {
    const huge = path.join(dir, 'huge-count.folded');
    await writeFile(huge, 'a 9007199254740991\nb;c 9007199254740991\n');
    const out = path.join(dir, 'huge-count.cpuprofile');
    const r = await execa(MIXPROF, ['convert', huge, '-o', out], { reject: false, timeout: 120_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const cpu = JSON.parse(await readFile(out, 'utf8')) as { samples: number[]; timeDeltas: number[] };
    assert.ok(cpu.samples.length <= MAX_ENTRIES, `${cpu.samples.length} entries`);
    const seconds = cpu.timeDeltas.reduce((a, b) => a + b, 0) / 1e6;
    assert.ok(Math.abs(seconds / ((2 * 9007199254740991) / 99) - 1) < 1e-6, `${seconds} s`);

    // "a;a;a;...;a 1": fifty million frames on one line.
    const line = path.join(dir, 'one-line.folded');
    const file = await open(line, 'w');
    const chunk = Buffer.from('a;'.repeat(1 << 20));
    for (let i = 0; i < 50; i++) await file.write(chunk);
    await file.write('a 1\n');
    await file.close();
    const svg = await execa(MIXPROF, ['convert', line, '-o', path.join(dir, 'one-line.svg')], { reject: false, timeout: 120_000 });
    assert.equal(svg.exitCode, 1);
    assert.equal(svg.stderr.trim(), `mixprof: error: ${line}:1: a stack of ${50 * (1 << 20) + 1} frames, more than the ${MAX_FRAMES} mixprof reads (pass folded stacks of real call chains (one line per stack))`);
  });
});
