import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadTemplate, renderTemplate, PYTHON_TEMPLATE, NATIVE_TEMPLATE, nativeProgram } from '../../src/bpf/program.js';

test('[S04] templates take only integers: nothing user-provided reaches the program text', () => {
  assert.equal(renderTemplate('a {{X}} b {{Y}}', { X: 1, Y: 2n ** 63n }), 'a 1 b 9223372036854775808');
  assert.throws(() => renderTemplate('{{X}}', { X: -1 }), /integer/);
  assert.throws(() => renderTemplate('{{X}}', { X: 1.5 }), /integer/);
  assert.throws(() => renderTemplate('{{X}}', { X: 2n ** 64n }), /integer/);
  assert.throws(() => renderTemplate('{{X}}', {}), /no value/);
  assert.throws(() => renderTemplate('{{X}}', { X: 1, Z: 2 }), /not used/);
});

test('every placeholder of the shipped templates is filled', () => {
  const program = nativeProgram({ pid: 42, hz: 99, maxDepth: 128, maxThreads: 16, userDepth: 127, gil: false });
  assert.match(program, /profile:hz:99 \/pid == 42\//);
  assert.doesNotMatch(program, /\{\{/);
  assert.match(loadTemplate(PYTHON_TEMPLATE), /\{\{RUNTIME_ADDR\}\}/);
  assert.match(loadTemplate(NATIVE_TEMPLATE), /\{\{PID\}\}/);
});
