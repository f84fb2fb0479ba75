import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport } from '../../src/output/report.js';
import { emptyStats } from '../../src/profile/profile.js';

const context = { hz: 99, seconds: 10, python: true, noFramePointers: null, stopReason: 'duration reached', stackErrors: 0 };

test('an eval loop without a name is reported as such only when many samples show it; a few such samples are a note', () => {
  const stats = { ...emptyStats(), samples: 1000, withPython: 1000, nativeComplete: 990 };
  const few = formatReport({ ...stats, evalUnknown: 2 }, context).join('\n');
  assert.doesNotMatch(few, /eval loop has no symbol/);
  assert.match(few, /note: 2 samples with Python frames but no eval-loop frame in their native stack/);
  const many = formatReport({ ...stats, evalUnknown: 400 }, context).join('\n');
  assert.match(many, /warning: in 40\.0% of samples the interpreter's eval loop has no symbol/);
  assert.doesNotMatch(many, /no eval-loop frame in their native stack/);
});
