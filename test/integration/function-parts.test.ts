/**
 * The eval loop's split-off part, found in stripped interpreters from
 * .eh_frame and the jumps into it, is the very range the debug file's
 * symbol table names `_PyEval_EvalFrameDefault.cold`.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nativeAddon } from '../../src/native.js';
import { debianPython } from '../helpers/pythons.js';

const EVAL = '_PyEval_EvalFrameDefault';

describe("the eval loop's split-off part without a debug file", () => {
  for (const name of ['debian-3.11', 'sid-3.13-dbg', 'sid-3.14-dbg', 'sid-3.15-dbg']) {
    test(`${name}: functionParts gives the debug file's ${EVAL}.cold range`, async () => {
      const addon = nativeAddon();
      const python = await debianPython(name);
      assert.ok(python.debugFile, `${name} has no debug file`);
      const exported = addon.lookupSymbols(python.executable, [EVAL])[EVAL];
      assert.ok(exported, `${python.executable} exports no ${EVAL}`);
      const cold = addon.lookupSymbols(python.debugFile, [`${EVAL}.cold`])[`${EVAL}.cold`];
      assert.ok(cold && cold.size > 0, `${python.debugFile} names no ${EVAL}.cold`);
      const parts = addon.functionParts(python.executable, exported.value, exported.size);
      // The range runs to the next .eh_frame entry: the symbol's end or alignment padding past it.
      assert.equal(parts.length, 1, JSON.stringify(parts, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
      assert.equal(parts[0]!.start, cold.value);
      assert.ok(parts[0]!.end >= cold.value + BigInt(cold.size) && parts[0]!.end < cold.value + BigInt(cold.size) + 64n);
    });
  }

  test('a build whose eval loop is not split has no parts', async () => {
    const addon = nativeAddon();
    const python = await debianPython('sid-3.15d');
    const exported = addon.lookupSymbols(python.executable, [EVAL])[EVAL];
    assert.ok(exported);
    assert.equal(addon.lookupSymbols(python.executable, [`${EVAL}.cold`])[`${EVAL}.cold`], undefined);
    assert.deepEqual(addon.functionParts(python.executable, exported.value, exported.size), []);
  });
});
