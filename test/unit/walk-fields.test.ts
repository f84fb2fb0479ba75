/**
 * The Python walk's fields are listed once (src/sampler/walk-fields.ts): the C
 * walk's struct and the bpftrace template must follow that list.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadTemplate, PYTHON_TEMPLATE } from '../../src/sampler/program.js';
import { packWalkConfig, WALK_FIELDS, walkConfigLayout, walkTemplateValues, type WalkConstants } from '../../src/sampler/walk-fields.js';
import { REPO } from '../helpers/paths.js';

const C_TYPES = { flag: '__u32', u32: '__u32', u64: '__u64' } as const;

function structMembers(header: string, name: string): [string, string][] {
  const body = new RegExp(`struct ${name} \\{([^}]*)\\};`).exec(header)?.[1];
  assert.ok(body, `struct ${name} not found`);
  return [...body.replace(/\/\*[\s\S]*?\*\//g, '').matchAll(/(\w+)\s+(\w+);/g)].map((m) => [m[1]!, m[2]!]);
}

describe('the walk fields, listed once', () => {
  test("bpf/dwarf-sampler.h's struct walk_config has the list's fields, in its order, of its types", () => {
    const header = readFileSync(path.join(REPO, 'bpf', 'dwarf-sampler.h'), 'utf8');
    assert.deepEqual(
      structMembers(header, 'walk_config'),
      WALK_FIELDS.map(([name, type]) => [C_TYPES[type], name]),
    );
  });

  test("every {{NAME}} of the bpftrace template that is no general setting comes from the list, and the list's fields are all used", () => {
    const template = loadTemplate(PYTHON_TEMPLATE);
    const used = new Set([...template.matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!));
    const general = new Set(['PID', 'HZ', 'KERNEL_DEPTH', 'USER_DEPTH', 'SEEN_LIMIT', 'USER_STACK_MODE', 'KERNEL_STACK_MODE', 'KERNEL_TEXT_STACKS']);
    const fields = new Set(WALK_FIELDS.map(([name]) => name.toUpperCase()));
    assert.deepEqual([...used].filter((n) => !general.has(n) && !fields.has(n)), []);
    assert.deepEqual([...fields].filter((n) => !used.has(n)), []);
  });

  test('packing follows C alignment: u32s side by side, u64s on 8-byte boundaries, the struct padded to 8', () => {
    const { offsets, size } = walkConfigLayout();
    assert.equal(offsets.get('max_depth'), 0);
    assert.equal(offsets.get('gil_via_interp'), 24);
    assert.equal(offsets.get('runtime_addr'), 32);
    assert.equal(size, 32 + 18 * 8);
    const values = Object.fromEntries(WALK_FIELDS.map(([name, type], i) => [name, type === 'u64' ? BigInt(i) << 40n : type === 'u32' ? i + 100 : i % 2 === 0])) as unknown as WalkConstants;
    const bytes = Buffer.from(packWalkConfig(values));
    assert.equal(bytes.length, size);
    for (const [name, type] of WALK_FIELDS) {
      const at = offsets.get(name)!;
      const value = (values as unknown as Record<string, unknown>)[name];
      if (type === 'u64') assert.equal(bytes.readBigUInt64LE(at), value, name);
      else assert.equal(bytes.readUInt32LE(at), type === 'flag' ? Number(value) : value, name);
    }
    assert.equal(walkTemplateValues(values)['TS_NEXT'], values.ts_next);
  });
});
