/**
 * The span a run reports: from the samplers' start to their stop, or to the
 * moment the kernel saw the target exit, however late mixprof looks.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startDwarfSampler } from '../../src/sampler/dwarf-runner.js';
import type { DwarfPoll, FollowedProcessEvent, NativeAddon, NativeDwarfSampler, NativeSymbolizer } from '../../src/native.js';

const TARGET = 4242;
const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A sampler whose polls return the process records queued on it, as the addon's do. */
function fakeAddon(queue: FollowedProcessEvent[]): NativeAddon {
  class FakeSampler implements NativeDwarfSampler {
    start(): void {}
    poll(): DwarfPoll {
      return { threads: [], chains: [], stacks: [], counts: new Float64Array(0), forgetStacks: false, drainedBytes: 0, processes: queue.splice(0), dropped: 0, malformed: 0, threadsKept: 0, execd: false, tickErrors: 0, unwinds: { kernel: 0, tables: 0, libdwfl: 0, checked: 0, differed: 0, kernelChecked: 0, kernelDiffered: 0 } };
    }
    stop(): void {}
    follows(): boolean {
      return false;
    }
    adopt(): boolean {
      return false;
    }
    unwindWith(): void {}
    close(): void {}
  }
  return { DwarfSampler: FakeSampler } as unknown as NativeAddon;
}

function run(queue: FollowedProcessEvent[], durationSeconds: number | null) {
  return startDwarfSampler({
    addon: fakeAddon(queue),
    symbolizer: {} as NativeSymbolizer,
    pid: TARGET,
    hz: 99,
    durationSeconds,
    python: null,
    maxFrames: 16,
    stackBytes: 8192,
    onEvent: () => undefined,
    // Still there as far as /proc tells: only the kernel's record says it ended.
    isTargetAlive: () => true,
    pollIntervalMs: 10,
  });
}

test("a target's exit record ends the run at the kernel's time of the exit, not when it was read", { timeout: 10_000 }, async () => {
  const exitedAt = Date.now() - 400;
  const sampler = run([{ kind: 'exit', pid: TARGET, parent: 0, timeMs: monotonicMs() - 400 }], null);
  const result = await sampler.done;
  assert.equal(result.reason, 'target-exited');
  assert.ok(Math.abs(result.stoppedAt - exitedAt) < 50, `stopped at ${result.stoppedAt}, the exit was at ${exitedAt}`);
});

test('a followed process exiting does not end the run; a run stopped ends when its samplers stopped', { timeout: 10_000 }, async () => {
  const started = Date.now();
  const sampler = run([{ kind: 'exit', pid: TARGET + 1, parent: TARGET, timeMs: monotonicMs() }], 0.2);
  const result = await sampler.done;
  assert.equal(result.reason, 'duration');
  // At the 0.2 s stop, not at the exit record read in the first poll (10 ms); a timer's
  // 200 ms can read as 199 on Date.now()'s whole milliseconds.
  assert.ok(result.stoppedAt - started >= 190, `${result.stoppedAt - started} ms`);
});
