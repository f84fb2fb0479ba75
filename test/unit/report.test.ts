import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatReport } from '../../src/output/report.js';
import { combineStats } from '../../src/profile/combine.js';
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

test('an unwind that stopped before the interpreter is reported with where it stopped, not as an eval loop without a name', () => {
  const stats = { ...emptyStats(), samples: 1000, withPython: 1000, nativeComplete: 600 };
  const many = formatReport({ ...stats, unwindStopped: 380, unwindStoppedAt: 'dgemm_kernel_HASWELL in libopenblas.so.0' }, context).join('\n');
  assert.match(many, /warning: in 38\.0% of samples the native unwind stopped before it reached the interpreter, most often at dgemm_kernel_HASWELL in libopenblas\.so\.0, which has no call frame information/);
  assert.doesNotMatch(many, /eval loop has no symbol|-dbg/);
  const few = formatReport({ ...stats, unwindStopped: 3, unwindStoppedAt: 'x' }, context).join('\n');
  assert.match(few, /note: 3 samples whose native unwind stopped before the interpreter/);
  assert.doesNotMatch(few, /warning/);
});

test('unwinds that stopped for a reason other than the code: each its own note, never the warning about call frame information', () => {
  const stats = { ...emptyStats(), samples: 1000, withPython: 1000, nativeComplete: 700 };
  const text = formatReport({ ...stats, unwoundBeforeMapped: 120, unwoundBeyondCopy: 180 }, context).join('\n');
  assert.match(text, /120 samples taken in code loaded just before .*unwound before mixprof had read where it was/);
  assert.match(text, /180 samples whose stack went deeper than the part copied at the sample/);
  assert.doesNotMatch(text, /warning|call frame information/);
});

test('samples kept short for a full ring are a note of their own, not counted as unwinds stopped for want of call frame information', () => {
  const stats = { ...emptyStats(), samples: 1000, withPython: 1000, nativeComplete: 300 };
  const text = formatReport({ ...stats, unwoundShort: 700 }, context).join('\n');
  assert.match(text, /note: 700 samples kept only the native frames the kernel could unwind, not a stack copy: the ring buffer was nearly full/);
  assert.doesNotMatch(text, /warning|call frame information/);
});

test('a note about one sample says "1 sample"', () => {
  const stats = { ...emptyStats(), samples: 1000, withPython: 1000, nativeComplete: 1000 };
  const text = formatReport({ ...stats, unknownPythonFrames: 1, mismatched: 2 }, context).join('\n');
  assert.match(text, /note: 1 sample with unreadable Python frames; 2 samples where native eval-loop frames and Python frames disagree/);
});

test('wall-clock passes that could not run are a warning with their count', () => {
  const stats = { ...emptyStats(), samples: 1000, withPython: 1000, nativeComplete: 1000 };
  assert.doesNotMatch(formatReport(stats, { ...context, mode: 'wall' }).join('\n'), /wall-clock pass/);
  const text = formatReport(stats, { ...context, mode: 'wall', wallPassesFailed: 1 }).join('\n');
  assert.match(text, /warning: 1 wall-clock pass over the threads \(99 a second\) could not run .*not sampled in it,/);
});

test('combined processes: counts add up, and where unwinds stopped is the busiest such process\'s', () => {
  const a = { ...emptyStats(), samples: 100, unwindStopped: 5, unwindStoppedAt: 'a_kernel' };
  const b = { ...emptyStats(), samples: 100, unwindStopped: 50, unwindStoppedAt: 'b_kernel' };
  const c = { ...emptyStats(), samples: 100 };
  const total = combineStats([a, b, c]);
  assert.equal(total.samples, 300);
  assert.equal(total.unwindStopped, 55);
  assert.equal(total.unwindStoppedAt, 'b_kernel');
  assert.equal(combineStats([c]).unwindStoppedAt, null);
});
