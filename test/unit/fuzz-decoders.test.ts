/**
 * Fuzzing the decoders of the target's memory: code objects, str and bytes
 * objects and line tables of every supported version's layout, first as laid
 * out (the harness must read them right), then with the changes a racing
 * read or a freed object shows, and from random bytes. Whatever the memory
 * says, a frame resolves to a name, "unknown" or "incomplete": never a
 * throw, a hang, or a name longer than any name can be.
 *
 * Briefly in `npm test`; `npm run fuzz` runs it for MIXPROF_FUZZ_SECONDS
 * (default there 300). MIXPROF_FUZZ_SEED replays one case.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CodeObjectReader } from '../../src/python/code-objects.js';
import { lineForOffset, type LineTableFormat } from '../../src/python/linetable.js';
import { buildLayout } from '../../src/python/offsets.js';
import { tableFor } from '../../src/python/sources/tables.js';
import { decodeUnicode, MAX_STRING_CHARS } from '../../src/python/unicode.js';
import { specFor } from '../../src/python/versions.js';
import type { PythonLayout } from '../../src/python/layout.js';
import { FIXTURES } from '../helpers/paths.js';
import { CODE_TYPE, codeImage, mutate, Random, type CodeCase } from '../fuzz/memory-image.js';

const MINORS = [8, 9, 10, 11, 12, 13, 14];
const SECONDS = Number(process.env['MIXPROF_FUZZ_SECONDS'] ?? 0);
/** Cases per version in a plain `npm test` run. */
const BRIEF_CASES = 300;
const ONE_SEED = process.env['MIXPROF_FUZZ_SEED'] === undefined ? null : Number(process.env['MIXPROF_FUZZ_SEED']);

function layoutFor(minor: number): PythonLayout {
  const version = { major: 3, minor, micro: 0, hex: 0 };
  const offsets = tableFor(minor);
  assert.ok(offsets, `no built-in table for 3.${minor}`);
  return buildLayout(offsets, { version, spec: specFor(version)!, source: 'fuzz', codeTypeAddress: CODE_TYPE, matchByFsbase: false });
}

interface Fixture {
  format: LineTableFormat;
  functions: { name: string; firstLineNo: number; table: string; lines: [number, number | null][] }[];
}

/** Real line tables of real functions (test/fixtures/linetables), by the format each version uses. */
function fixtureFor(minor: number): Fixture {
  const file = path.join(FIXTURES, 'linetables', `3.${Math.min(minor, 13)}.json`);
  return JSON.parse(readFileSync(file, 'utf8')) as Fixture;
}

const NAMES = ['main', 'Worker.run.<locals>.<lambda>', 'héllo_wörld', 'ζωή', 'emoji_\u{1F600}', '<module>'];

function caseFor(random: Random, fixture: Fixture): CodeCase {
  const fn = random.pick(fixture.functions);
  const [offset] = random.pick(fn.lines);
  return { qualname: random.pick(NAMES), filename: `/srv/app/${random.pick(NAMES)}.py`, firstLineNo: fn.firstLineNo, table: Buffer.from(fn.table, 'hex'), offset };
}

/** What any resolution must look like, whatever the memory held. */
function checkResolution(resolved: ReturnType<CodeObjectReader['resolve']>, context: string): void {
  assert.ok(['ok', 'unknown', 'incomplete'].includes(resolved.status), context);
  if (resolved.status !== 'ok') return;
  assert.equal(typeof resolved.qualname, 'string', context);
  assert.ok(resolved.qualname.length <= 2 * MAX_STRING_CHARS && resolved.filename.length <= 2 * MAX_STRING_CHARS, context);
  assert.ok(resolved.line === null || Number.isInteger(resolved.line), context);
}

function runFor(seconds: number, cases: number, body: (seed: number) => void): number {
  if (ONE_SEED !== null) {
    body(ONE_SEED);
    return 1;
  }
  const deadline = Date.now() + seconds * 1000;
  let n = 0;
  for (let seed = 1; seconds > 0 ? Date.now() < deadline : n < cases; seed++, n++) body(seed);
  return n;
}

describe('fuzzing the memory decoders', () => {
  for (const minor of MINORS) {
    test(`[R01] 3.${minor}: code objects as laid out resolve to their names and lines; changed ones to a name, unknown or incomplete, never a throw`, (t) => {
      const layout = layoutFor(minor);
      const fixture = fixtureFor(minor);
      const n = runFor(SECONDS / MINORS.length, BRIEF_CASES, (seed) => {
        const random = new Random(seed * 7919 + minor);
        const c = caseFor(random, fixture);
        const { memory, frame } = codeImage(layout, c);
        const clean = new CodeObjectReader(memory, layout).resolve(frame);
        assert.equal(clean.status, 'ok', `seed ${seed}: the harness's own image does not read`);
        if (clean.status === 'ok') {
          assert.equal(clean.qualname, c.qualname);
          assert.equal(clean.filename, c.filename);
          assert.equal(clean.line, lineForOffset(layout.code.lineTableFormat, c.table, c.firstLineNo, c.offset));
        }
        const changes: string[] = [];
        for (let i = 1 + random.int(4); i > 0; i--) changes.push(mutate(memory, random));
        const context = `3.${minor}, MIXPROF_FUZZ_SEED=${seed}: ${changes.join('; ')}`;
        let resolved;
        try {
          resolved = new CodeObjectReader(memory, layout).resolve(frame);
        } catch (error) {
          assert.fail(`${context}: threw ${(error as Error).stack}`);
        }
        checkResolution(resolved, context);
      });
      assert.ok(n > 0);
      t.diagnostic(`${n} cases`);
    });
  }

  test("an instruction outside the code object's own bytecode (a free-threaded 3.14+ thread's private copy) gives the function without a line", () => {
    const layout = layoutFor(14);
    const random = new Random(14);
    const c = caseFor(random, fixtureFor(14));
    const { memory, frame } = codeImage(layout, c);
    const inside = new CodeObjectReader(memory, layout).resolve(frame);
    assert.ok(inside.status === 'ok' && inside.line !== null);
    const elsewhere = new CodeObjectReader(memory, layout).resolve({ ...frame, instr: frame.instr + 0x10000n });
    assert.deepEqual(elsewhere, { status: 'ok', qualname: c.qualname, filename: c.filename, line: null });
  });

  test('[R02] line tables of random bytes, at any offset, give a line or none', () => {
    runFor(SECONDS / MINORS.length, 2000, (seed) => {
      const random = new Random(seed);
      const format = random.pick(['lnotab', 'linetable', 'locations'] as const);
      const table = random.bytes(random.int(300));
      const offset = random.pick([0, random.int(1000), -2, 2 ** 30, random.int(600) * 2]);
      const line = lineForOffset(format, table, random.int(100000) - 50, offset);
      assert.ok(line === null || Number.isInteger(line), `seed ${seed}`);
    });
  });

  test('[R03] str objects of random bytes decode to a bounded string or nothing', () => {
    const layout = layoutFor(12).unicode;
    runFor(SECONDS / MINORS.length, 2000, (seed) => {
      const random = new Random(seed);
      const head = random.bytes(layout.compactSize + random.int(64));
      const text = decodeUnicode(head, layout, (offset, length) => (length > 1 << 16 ? null : random.bytes(length)));
      assert.ok(text === null || text.length <= 2 * MAX_STRING_CHARS, `seed ${seed}`);
    });
  });
});
