/**
 * docs/faults.md lists the faults and bad inputs tried: every row's ID must
 * name a test, and every test tagged with an ID must have its row, so the
 * table stays what the tests check.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';

const ID = /\[([FBSLR]\d\d)\]/;

function testSources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return testSources(full);
    return entry.name.endsWith('.test.ts') ? [full] : [];
  });
}

test('every fault in docs/faults.md is a test, and every tagged test is in the table', () => {
  const rows = readFileSync(path.join(REPO, 'docs', 'faults.md'), 'utf8')
    .split('\n')
    .map((line) => /^\| ([FBSLR]\d\d) \|/.exec(line)?.[1])
    .filter((id): id is string => id !== undefined);
  assert.ok(rows.length >= 20, `${rows.length} rows`);
  assert.equal(new Set(rows).size, rows.length, 'an ID appears in two rows');

  const tagged = new Map<string, string>();
  for (const file of testSources(path.join(REPO, 'test'))) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\btest\(\s*['"`]([^'"`]*)/g)) {
      const id = ID.exec(match[1]!)?.[1];
      if (!id) continue;
      assert.ok(!tagged.has(id) || tagged.get(id) === file, `${id} tags tests in ${tagged.get(id)} and ${file}`);
      tagged.set(id, file);
    }
  }
  assert.deepEqual([...tagged.keys()].sort(), [...rows].sort());
});
