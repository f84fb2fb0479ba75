/**
 * Damaged ELF and DWARF files, as `-d` could pass them: the addon's readers
 * (ELF info, symbols, DWARF struct layouts, the symbolizer's extra files)
 * run over mutated copies of a small library with DWARF (built here) and of
 * two system libraries, in a child process; every case must end in an answer
 * or a JavaScript error, never a crash. `npm run fuzz` runs more cases.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { REPO } from '../helpers/paths.js';

const CHILD = path.join(REPO, 'dist', 'test', 'fuzz', 'elf-child.js');
const CASES = process.env['MIXPROF_FUZZ_SECONDS'] ? 3000 : 150;

const TINY_C = `
struct tiny_point { int x; int y; struct tiny_point *next; };
int tiny_add(struct tiny_point *p) { return p->x + p->y; }
struct tiny_point tiny_origin = { 1, 2, 0 };
`;

describe('fuzzing the ELF and DWARF readers', () => {
  let dir: string;
  let tiny: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-fuzz-elf-'));
    await writeFile(path.join(dir, 'tiny.c'), TINY_C);
    tiny = path.join(dir, 'libtiny.so');
    await execa('gcc', ['-g', '-O1', '-shared', '-fPIC', '-o', tiny, path.join(dir, 'tiny.c')]);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const [name, source] of [
    ['a small library with DWARF', () => tiny],
    ['libz (stripped, dynamic symbols only)', () => '/lib/x86_64-linux-gnu/libz.so.1'],
    ['libexpat', () => '/lib/x86_64-linux-gnu/libexpat.so.1'],
  ] as const) {
    test(`[R04] ${name}: ${CASES} damaged copies are answered or refused, never a crash`, async () => {
      const r = await execa(process.execPath, [CHILD, source(), dir, '1', String(CASES)], { reject: false, timeout: 600_000 });
      const last = r.stderr.trim().split('\n').filter((l) => l.startsWith('case ')).at(-1);
      assert.equal(r.signal, undefined, `crashed (${r.signal}) on ${last}: rerun with node ${CHILD} ${source()} DIR SEED 1`);
      assert.equal(r.exitCode, 0, `${last}\n${r.stderr.slice(-2000)}`);
      assert.match(last ?? '', new RegExp(`^case ${CASES} `));
    });
  }
});
