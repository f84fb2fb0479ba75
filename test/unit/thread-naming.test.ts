/**
 * Thread naming's choices over real thread ids (this process's own): names
 * go to the threads they name, a forked child's stale main-thread entry goes
 * to its main thread only when it is the one stale entry, and a thread met
 * while threading cannot be read is named at the next read.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { ThreadNaming } from '../../src/symbolize/thread-naming.js';

/** An id no thread of this process has (pids are below 2**22). */
const GONE = 2 ** 22 + 17;

function naming(reads: (Map<number, string> | null)[]): { naming: ThreadNaming; applied: Map<number, string>[] } {
  const applied: Map<number, string>[] = [];
  const names = { read: () => reads.shift() ?? null };
  return { naming: new ThreadNaming(names, process.pid, false, (m) => applied.push(new Map(m))), applied };
}

describe('thread naming', () => {
  test('a name read for a live thread goes to it; one for a thread that is not there goes nowhere', () => {
    const { naming: n, applied } = naming([new Map([[process.pid, 'MainThread'], [GONE + 1, 'ended'], [GONE + 2, 'also-ended']])]);
    n.onThread(process.pid);
    assert.deepEqual(applied, [new Map([[process.pid, 'MainThread']])]);
  });

  test("the one entry whose id is not a thread of the process names its main thread (a fork's stale _native_id)", () => {
    const { naming: n, applied } = naming([new Map([[GONE, 'MainThread']])]);
    n.onThread(process.pid);
    assert.deepEqual(applied, [new Map([[process.pid, 'MainThread']])]);
  });

  test('two stale entries name nothing (which one forked is not known), nor does one when the main thread has its own name', () => {
    const two = naming([new Map([[GONE, 'a'], [GONE + 1, 'b']])]);
    two.naming.onThread(process.pid);
    assert.deepEqual(two.applied, [new Map()]);
    const own = naming([new Map([[GONE, 'stale'], [process.pid, 'MainThread']])]);
    own.naming.onThread(process.pid);
    assert.deepEqual(own.applied, [new Map([[process.pid, 'MainThread']])]);
  });

  test('nothing readable yet (threading not imported): the thread is named by a later read', () => {
    const { naming: n, applied } = naming([null, new Map([[process.pid, 'MainThread']])]);
    n.onThread(process.pid);
    assert.deepEqual(applied, []);
    n.refresh();
    assert.deepEqual(applied, [new Map([[process.pid, 'MainThread']])]);
  });

  test('a thread met just after a read that found it (the second thread of one poll) is named from that read, at once', () => {
    // Another thread of this process (node runs several), named by the first read.
    const other = readdirSync('/proc/self/task').map(Number).find((tid) => tid !== process.pid)!;
    const { naming: n, applied } = naming([new Map([[process.pid, 'MainThread'], [other, 'worker']])]);
    n.onThread(process.pid);
    n.onThread(other);
    assert.deepEqual(applied, [new Map([[process.pid, 'MainThread'], [other, 'worker']]), new Map([[other, 'worker']])]);
  });
});
