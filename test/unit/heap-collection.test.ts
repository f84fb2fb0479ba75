/** The full collections mixprof asks for while sampling: only as its heap grows. */
import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { collectAsHeapGrows } from '../../src/sample/heap-collection.js';

const MiB = 2 ** 20;

test('a collection once the heap has grown by 4 MiB since the last, measured from what the last left', () => {
  mock.timers.enable({ apis: ['setInterval'] });
  try {
    let heap = 10 * MiB;
    let collections = 0;
    // A collection leaves 1 MiB more live than the last one did.
    const stop = collectAsHeapGrows(
      () => {
        collections++;
        heap = (10 + collections) * MiB;
      },
      () => heap,
    );
    /** The heap at `mib` when the next look comes: collected so far. */
    const lookAt = (mib: number): number => {
      heap = mib * MiB;
      mock.timers.tick(1000);
      return collections;
    };
    assert.equal(lookAt(13.9), 0);
    assert.equal(lookAt(14), 1);
    // 11 MiB left: the next at 15.
    assert.equal(lookAt(14.5), 1);
    assert.equal(lookAt(15), 2);
    stop();
    heap = 100 * MiB;
    mock.timers.tick(10_000);
    assert.equal(collections, 2);
  } finally {
    mock.timers.reset();
  }
});

test('without a collector (node started without --expose-gc): nothing is looked at', () => {
  let looked = 0;
  const stop = collectAsHeapGrows(null, () => looked++);
  stop();
  assert.equal(looked, 0);
});
