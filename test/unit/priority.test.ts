import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { getPriority } from 'node:os';
import { test } from 'node:test';
import { raisePriorityWhileAttaching, restorePriority } from '../../src/priority.js';
import { STARTED_NICE } from '../../src/startup-priority.js';

test('as root, attaching runs at nice -10 and sampling at the priority mixprof started with; a helper started meanwhile is put back too', async () => {
  assert.equal(process.geteuid?.(), 0, 'the tests run as root');
  const lower = raisePriorityWhileAttaching();
  assert.equal(getPriority(), Math.min(STARTED_NICE, -10));
  // A process started while raised inherits the raise.
  const helper = spawn('sleep', ['30']);
  await new Promise((resolve) => helper.once('spawn', resolve));
  assert.equal(getPriority(helper.pid!), Math.min(STARTED_NICE, -10));
  restorePriority(helper.pid!);
  assert.equal(getPriority(helper.pid!), STARTED_NICE);
  helper.kill();
  lower();
  assert.equal(getPriority(), STARTED_NICE);
});

test('every thread of mixprof is put back after attaching, but the wall-clock ticker', async () => {
  const { Worker } = await import('node:worker_threads');
  const lower = raisePriorityWhileAttaching();
  // A thread started while raised inherits the raise, as node's helper threads do under bin/mixprof.
  const worker = new Worker('const { parentPort } = require("node:worker_threads"); parentPort.postMessage(require("node:fs").readFileSync("/proc/thread-self/stat", "utf8").split(" ")[0]); setInterval(() => {}, 1000);', { eval: true });
  const tid = Number(await new Promise((resolve) => worker.once('message', resolve)));
  assert.equal(getPriority(tid), Math.min(STARTED_NICE, -10));
  lower();
  assert.equal(getPriority(tid), STARTED_NICE);
  assert.equal(getPriority(), STARTED_NICE);
  await worker.terminate();
});
