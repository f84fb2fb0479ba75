import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isMixprofError } from '../../src/errors.js';
import { formatFolded } from '../../src/output/folded.js';
import { parseFrame, readFolded } from '../../src/output/folded-reader.js';
import type { StackCount } from '../../src/profile/profile.js';

describe('reading folded stacks', () => {
  test('frame kinds come from the marks, then from the names', () => {
    assert.deepEqual(parseFrame('do_syscall_64_[k]'), { kind: 'kernel', name: 'do_syscall_64' });
    assert.deepEqual(parseFrame('main (app.py:12)_[j]'), { kind: 'python', name: 'main (app.py:12)', func: 'main', file: 'app.py', line: 12 });
    assert.deepEqual(parseFrame('Worker.run (/srv/app/w.py:7)'), { kind: 'python', name: 'Worker.run (/srv/app/w.py:7)', func: 'Worker.run', file: '/srv/app/w.py', line: 7 });
    assert.deepEqual(parseFrame('<module> (<string>:1)'), { kind: 'python', name: '<module> (<string>:1)', func: '<module>', file: '<string>', line: 1 });
    assert.deepEqual(parseFrame('f (app.py)'), { kind: 'python', name: 'f (app.py)', func: 'f', file: 'app.py' });
    assert.deepEqual(parseFrame('[unknown]'), { kind: 'marker', name: '[unknown]' });
    assert.deepEqual(parseFrame('[libz.so.1.2.13+0x5f77]'), { kind: 'native', name: '[libz.so.1.2.13+0x5f77]' });
    assert.deepEqual(parseFrame('PyObject_Call'), { kind: 'native', name: 'PyObject_Call' });
    assert.deepEqual(parseFrame('operator() (std::function)'), { kind: 'native', name: 'operator() (std::function)' });
  });

  test('what formatFolded writes reads back as the same stacks', () => {
    const stacks: StackCount[] = [
      { frames: [{ kind: 'native', name: '_start' }, { kind: 'python', name: 'main (app.py:3)' }, { kind: 'python', name: 'a;b (app.py:9)' }, { kind: 'kernel', name: 'schedule' }], count: 5 },
      { frames: [{ kind: 'native', name: '_start' }, { kind: 'marker', name: '[unknown]' }], count: 2 },
    ];
    for (const markPython of [true, false]) {
      const back = readFolded(formatFolded(stacks, { markPython }), 'x');
      assert.deepEqual(
        back.map((s) => [s.frames.map((f) => `${f.kind}:${f.name}`), s.count]),
        stacks.map((s) => [s.frames.map((f) => `${f.kind}:${f.name}`), s.count]),
      );
    }
  });

  test('leading "comm (id)" frames are thread and process roots', () => {
    const [stack] = readFolded('gunicorn (10);python3 (12);main (app.py:1);f (3) 4\n', 'x');
    assert.deepEqual(stack!.frames.map((f) => f.kind), ['marker', 'marker', 'python', 'native']);
  });

  test('repeated stacks add up; blank lines and CRLF are accepted', () => {
    const stacks = readFolded('a;b 2\r\n\na;b 3\na 1\n', 'x');
    assert.deepEqual(stacks.map((s) => [s.frames.map((f) => f.name).join(';'), s.count]), [['a;b', 5], ['a', 1]]);
  });

  test('a line without a count is an error naming the file and line', () => {
    for (const bad of ['a;b\n', 'a;b 0\n', 'a;b -3\n', 'a;b 1.5\n', ' 4\n']) {
      assert.throws(
        () => readFolded(`ok 1\n${bad}`, 'in.folded'),
        (e: unknown) => isMixprofError(e) && e.code === 'BAD_INPUT' && e.message.startsWith('in.folded:2:'),
        JSON.stringify(bad),
      );
    }
  });
});
