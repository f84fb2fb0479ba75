import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CodeObjectReader, REREAD_AFTER_MS } from '../../src/python/code-objects.js';
import { buildLayout } from '../../src/python/offsets.js';
import { tableFor } from '../../src/python/sources/tables.js';
import { specFor } from '../../src/python/versions.js';
import { CODE, CODE_TYPE, codeImage } from '../fuzz/memory-image.js';

const version = { major: 3, minor: 11, micro: 0, hex: 0 };
const layout = buildLayout(tableFor(11)!, { version, spec: specFor(version)!, source: 'test', codeTypeAddress: CODE_TYPE, matchByFsbase: false });
// 3.11's location table: one entry of 2 code units on the function's first line.
const TABLE = Buffer.from([0x80 | (10 << 3) | 1, 0, 4]);

test('a code object that could not be read is read again a while later, not taken for unknown for good', () => {
  const { memory, frame } = codeImage(layout, { qualname: 'handler', filename: '/srv/app.py', firstLineNo: 10, table: TABLE, offset: 0 });
  const head = memory.regions.get(CODE)!;
  const good = Buffer.from(head);
  head.fill(0);
  let now = 1_000_000;
  const reader = new CodeObjectReader(memory, layout, () => now);
  assert.equal(reader.resolve(frame).status, 'unknown');
  good.copy(head);
  // Not at once: a process whose code objects cannot be read is not read again for every frame.
  now += REREAD_AFTER_MS / 2;
  assert.equal(reader.resolve(frame).status, 'unknown');
  now += REREAD_AFTER_MS;
  assert.deepEqual(reader.resolve(frame), { status: 'ok', qualname: 'handler', filename: '/srv/app.py', line: 10 });
});

test("a code object freed and its address reused by another: the new one's frames get its name, the old one's none", () => {
  const first = codeImage(layout, { qualname: 'old_function', filename: '/srv/app.py', firstLineNo: 10, table: TABLE, offset: 0 });
  let now = 1_000_000;
  const reader = new CodeObjectReader(first.memory, layout, () => now);
  assert.equal(reader.resolve(first.frame).status, 'ok');
  // Another code object, first line 40, now at the same address.
  const second = codeImage(layout, { qualname: 'new_function', filename: '/srv/other.py', firstLineNo: 40, table: TABLE, offset: 0 });
  for (const [address, bytes] of second.memory.regions) first.memory.set(address, bytes);
  now += REREAD_AFTER_MS;
  assert.deepEqual(reader.resolve(second.frame), { status: 'ok', qualname: 'new_function', filename: '/srv/other.py', line: 40 });
  // A frame whose first line matches neither is unknown, never given either name.
  assert.equal(reader.resolve({ ...first.frame, firstLineNo: 11 }).status, 'unknown');
});
