import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stackFormatOf } from '../../src/sampler/bpftrace.js';
import { loadTemplate, renderTemplate, PYTHON_TEMPLATE, NATIVE_TEMPLATE, nativeProgram } from '../../src/sampler/program.js';

test('[S04] templates take only integers: nothing user-provided reaches the program text', () => {
  assert.equal(renderTemplate('a {{X}} b {{Y}}', { X: 1, Y: 2n ** 63n }), 'a 1 b 9223372036854775808');
  assert.throws(() => renderTemplate('{{X}}', { X: -1 }), /integer/);
  assert.throws(() => renderTemplate('{{X}}', { X: 1.5 }), /integer/);
  assert.throws(() => renderTemplate('{{X}}', { X: 2n ** 64n }), /integer/);
  assert.throws(() => renderTemplate('{{X}}', {}), /no value/);
  assert.throws(() => renderTemplate('{{X}}', { X: 1, Z: 2 }), /not used/);
  // Besides integers, only the stack functions' modes, from a closed set.
  assert.equal(renderTemplate('ustack({{M}}, 3)', { M: { stackMode: 'raw' } }), 'ustack(raw, 3)');
  assert.throws(() => renderTemplate('{{M}}', { M: { stackMode: 'raw); system("id' as 'raw' } }), /stack mode/);
});

test('stacks are asked for raw from bpftrace 0.18, as text before', () => {
  const settings = { pid: 42, hz: 99, maxDepth: 128, maxThreads: 16, userDepth: 127, gil: false };
  assert.match(nativeProgram(settings, 'text'), /ustack\(perf, 127\), kstack\(bpftrace, 64\)/);
  assert.match(nativeProgram(settings, 'raw'), /ustack\(raw, 127\), kstack\(raw, 64\)/);
  const at = (version: [number, number, number]): string => stackFormatOf({ path: 'bpftrace', version });
  assert.deepEqual([at([0, 17, 0]), at([0, 18, 0]), at([0, 23, 2]), at([0, 27, 1]), at([1, 0, 0])], ['text', 'raw', 'raw', 'raw', 'raw']);
});

test('every placeholder of the shipped templates is filled', () => {
  const program = nativeProgram({ pid: 42, hz: 99, maxDepth: 128, maxThreads: 16, userDepth: 127, gil: false });
  assert.match(program, /profile:hz:99 \/pid == 42\//);
  assert.doesNotMatch(program, /\{\{/);
  assert.match(loadTemplate(PYTHON_TEMPLATE), /\{\{RUNTIME_ADDR\}\}/);
  assert.match(loadTemplate(NATIVE_TEMPLATE), /\{\{PID\}\}/);
});
