import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { lineForOffset, type LineTableFormat } from '../../src/python/linetable.js';
import { FIXTURES } from '../helpers/paths.js';

interface Golden {
  version: string;
  format: LineTableFormat;
  functions: { name: string; firstLineNo: number; table: string; lines: [number, number | null][] }[];
}

const dir = path.join(FIXTURES, 'linetables');
const files = readdirSync(dir).filter((f) => f.endsWith('.json'));

test('golden line tables exist for every format', () => {
  const formats = new Set(files.map((f) => (JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as Golden).format));
  assert.deepEqual([...formats].sort(), ['linetable', 'lnotab', 'locations']);
});

for (const file of files) {
  const golden = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Golden;
  test(`line numbers match CPython ${golden.version} (${golden.format}) for every instruction`, () => {
    let checked = 0;
    for (const fn of golden.functions) {
      const table = Buffer.from(fn.table, 'hex');
      for (const [offset, line] of fn.lines) {
        assert.equal(lineForOffset(golden.format, table, fn.firstLineNo, offset), line, `${fn.name} at offset ${offset}`);
        checked++;
      }
    }
    assert.ok(checked > 500, `only ${checked} offsets checked`);
  });
}

test('a corrupt location table gives no line rather than a wrong one', () => {
  assert.equal(lineForOffset('locations', Uint8Array.from([0x01, 0x02]), 10, 0), null);
  // An entry that claims a varint continues past the end of the table.
  assert.equal(lineForOffset('locations', Uint8Array.from([0xe8 | 0, 0x40 | 0x3f]), 10, 0), null);
  assert.equal(lineForOffset('locations', new Uint8Array(), 10, 4), null);
});
