/**
 * What the profile builder keeps while sampling goes on: counts per distinct
 * stack, not per thread, so that a target starting thousands of threads
 * (each with its own stack addresses) does not grow mixprof's memory.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { frameIdentity } from '../../src/profile/canonical-addresses.js';
import { ProfileBuilder } from '../../src/profile/profile.js';
import { ThreadIds } from '../../src/profile/thread-ids.js';
import { kernelStackKey, SampleCounts, userStackKey } from '../../src/profile/sample-counts.js';
import { samplesByThread } from '../../src/sampler/dwarf-runner.js';
import { samplesPerThread, type RawSample } from '../../src/sampler/sampler.js';
import type { NativeFrame, NativeFrames } from '../../src/symbolize/native.js';

/** Code at 0x1000-0x2000, named fn_<address>; every function keeps a frame pointer but those at 0x1500-0x15ff. */
const CODE_START = 0x1000n;
const CODE_END = 0x2000n;
const inCode = (a: bigint): boolean => a >= CODE_START && a < CODE_END;
const noFramePointer = (a: bigint): boolean => a >= 0x1500n && a < 0x1600n;
function fakeNative(): NativeFrames & { refreshes: number } {
  const native = {
    refreshes: 0,
    noteAddresses: () => undefined,
    refreshMaps: () => void native.refreshes++,
    forgetUnused: () => undefined,
    frames: (addresses: readonly bigint[]): NativeFrame[] =>
      addresses.map((address) => ({ address, name: `fn_${address.toString(16)}`, symbol: `fn_${address.toString(16)}`, module: inCode(address) ? '/lib/x.so' : null, role: 'code', framePointer: !noFramePointer(address), functionFramePointer: !noFramePointer(address), frameReady: true, returnSlot: null, mapped: inCode(address) })),
  };
  return native as unknown as NativeFrames & { refreshes: number };
}

/** A user stack as a sampler delivers it: addresses, leaf first, and no kernel frames. */
const ustack = (addresses: bigint[]): { user: bigint[]; kernel: string[] } => ({ user: addresses, kernel: [] });

type Walk = 'clean' | 'stack address' | 'stale return address';

function threadSample(tid: number, walk: Walk): RawSample {
  // A frame-pointer walk through code without them: after real frames, an
  // address in the thread's own stack, or (past a function without a frame
  // pointer) a stale return address; then whatever follows.
  const user =
    walk === 'clean'
      ? [0x1100n, 0x1200n, 0x1300n]
      : walk === 'stack address'
        ? [0x1100n, 0x1200n, 0x7ffc00000000n + BigInt(tid) * 0x1000n, 0x1300n]
        : [0x1100n, 0x1500n, 0x1600n + BigInt(tid % 97), 0x1300n];
  return { tid, chain: 0n, ...ustack(user), count: 3 };
}

const folded = (stacks: readonly { frames: readonly { name: string }[]; count: number }[]): string[] => stacks.map((s) => `${s.frames.map((f) => f.name).join(';')} ${s.count}`).sort();

describe('the profile builder holds counts per stack', () => {
  const options = { hidePlumbing: true, maxNativeDepth: 128, nativeUnwind: 'fp' as const, threadRoots: false, gilRoots: false };

  test('[L04] 50,000 threads each with junk in its walk: a few stacks held, the same profile', () => {
    const native = fakeNative();
    const builder = new ProfileBuilder(null, native, options);
    let most = 0;
    const walks: Walk[] = ['clean', 'stack address', 'stale return address'];
    const samples = new Map<Walk, number>(walks.map((w) => [w, 0]));
    for (let tid = 1; tid <= 50_000; tid++) {
      const walk = walks[tid % 3]!;
      builder.addThread({ tid, comm: 'worker' });
      builder.addSamples([threadSample(tid, walk)]);
      samples.set(walk, samples.get(walk)! + 3);
      most = Math.max(most, builder.heldStacks);
    }
    const profile = builder.finish();
    // Compacted once the distinct stacks reached 5,000, then at twice what was left.
    assert.ok(most <= 5_000, `held ${most} stacks`);
    assert.ok(native.refreshes >= 1);
    assert.ok(builder.heldStacks <= 5_000);
    // The walk is cut where a shown stack ends anyway: at an unmapped frame, or after one without a frame pointer.
    assert.deepEqual(folded(profile.stacks), [`fn_1200;fn_1100 ${samples.get('stack address')}`, `fn_1300;fn_1200;fn_1100 ${samples.get('clean')}`, `fn_1500;fn_1100 ${samples.get('stale return address')}`]);
    assert.equal(profile.stats.samples, 150_000);
    // A cut stack is still one that went on: only the clean walks reached their end.
    assert.equal(profile.stats.nativeComplete, samples.get('clean'));
    assert.equal(profile.stats.threads, 50_000);
    // Thread names are kept only for thread roots.
    assert.equal(profile.threads.size, 0);
  });

  test('with --threads the stacks are per thread, and so is what is held', () => {
    const builder = new ProfileBuilder(null, fakeNative(), { ...options, threadRoots: true });
    for (let tid = 1; tid <= 100; tid++) {
      builder.addThread({ tid, comm: 'worker' });
      builder.addSamples([threadSample(tid, 'clean'), threadSample(tid, 'clean')]);
    }
    assert.equal(builder.heldStacks, 100);
    const profile = builder.finish();
    assert.equal(profile.stacks.length, 100);
    assert.ok(profile.stacks.every((s) => s.count === 6 && /^worker \(\d+\)$/.test(s.frames[0]!.name)));
  });

  test('stacks that are all real are never cut', () => {
    const native = fakeNative();
    const builder = new ProfileBuilder(null, native, options);
    // 25,000 distinct stacks of code addresses: compacted at 5,000, 10,000 and 20,000, nothing merged.
    for (let i = 0; i < 25_000; i++) {
      const a = 0x1000n + BigInt(i % 4000);
      const b = 0x1000n + BigInt(Math.floor(i / 4000));
      builder.addSamples([{ tid: 1, chain: 0n, ...ustack([a, b]), count: 1 }]);
    }
    assert.equal(native.refreshes, 3);
    assert.equal(builder.heldStacks, 25_000);
    assert.equal(builder.finish().stacks.length, 25_000);
  });

  test("drain: a long session's user stacks go with their period", () => {
    const builder = new ProfileBuilder(null, fakeNative(), options);
    // 100 periods of 500 stacks each never seen before: 50,000 over the session, fewer than 5,000 (no compaction) in any period.
    for (let period = 0; period < 100; period++) {
      for (let i = 0; i < 500; i++) builder.addSamples([{ tid: 1, chain: 0n, ...ustack([0x1000n + BigInt(i), 0x1000n + BigInt(period)]), count: 1 }]);
      assert.ok(builder.userStacksKept <= 500, `${builder.userStacksKept} user stacks kept in period ${period}`);
      assert.equal(builder.drain().stats.samples, 500);
    }
  });

  test("drain: each period's counts alone; thread names kept while the threads are sampled, let go 60 periods after", () => {
    const builder = new ProfileBuilder(null, fakeNative(), { ...options, threadRoots: true });
    builder.addThread({ tid: 1, comm: 'busy' });
    builder.addThread({ tid: 2, comm: 'once' });
    builder.addSamples([threadSample(1, 'clean'), threadSample(2, 'clean')]);
    builder.lostEvents = 4;
    const first = builder.drain();
    assert.deepEqual(folded(first.stacks), ['busy (1);fn_1300;fn_1200;fn_1100 3', 'once (2);fn_1300;fn_1200;fn_1100 3']);
    assert.deepEqual([first.stats.samples, first.stats.lostEvents, first.stats.threads], [6, 4, 2]);
    // The next period holds only its own samples; thread 2's name is still known.
    builder.addSamples([threadSample(1, 'clean'), threadSample(1, 'clean')]);
    const second = builder.drain();
    assert.deepEqual(folded(second.stacks), ['busy (1);fn_1300;fn_1200;fn_1100 6']);
    assert.deepEqual([second.stats.samples, second.stats.lostEvents, second.stats.threads], [6, 0, 1]);
    assert.equal(builder.heldStacks, 0);
    for (let i = 0; i < 58; i++) {
      builder.addSamples([threadSample(1, 'clean')]);
      builder.drain();
    }
    builder.addSamples([threadSample(2, 'clean')]);
    assert.deepEqual(folded(builder.drain().stacks), ['once (2);fn_1300;fn_1200;fn_1100 3']);
    // Sixty periods without thread 3 after its name came: forgotten.
    builder.addThread({ tid: 3, comm: 'gone' });
    for (let i = 0; i < 60; i++) builder.drain();
    builder.addSamples([threadSample(3, 'clean')]);
    assert.deepEqual(folded(builder.drain().stacks), ['thread (3);fn_1300;fn_1200;fn_1100 3']);
  });

  test("a leaf caught without its frame pointer gets its caller from the stack word its CFI names; samples differing only in the other words count as one", () => {
    const native = fakeNative();
    // 0x1100 has not set up its frame: the walk starts at its caller's caller (0x1300); its return address is the word at rsp+8.
    const frames = native.frames;
    native.frames = (addresses) => frames(addresses).map((f) => (f.address === 0x1100n ? { ...f, frameReady: false, returnSlot: 1 } : f));
    const builder = new ProfileBuilder(null, native, options);
    builder.addSamples([
      { tid: 1, chain: 0n, ...ustack([0x1100n, 0x1300n]), count: 2, stackWords: [0x7777n, 0x1200n, 0n] },
      { tid: 1, chain: 0n, ...ustack([0x1100n, 0x1300n]), count: 3, stackWords: [0x8888n, 0x1200n, 0x9999n] },
      // A slot holding nothing: the leaf alone, as before.
      { tid: 1, chain: 0n, ...ustack([0x1100n, 0x1300n]), count: 1, stackWords: [0x7777n, 0n, 0n] },
    ]);
    assert.equal(builder.heldStacks, 2);
    assert.deepEqual(folded(builder.finish().stacks), ['fn_1100 1', 'fn_1300;fn_1200;fn_1100 5']);
  });
});

describe("records the sampler numbers (RawSample.id)", () => {
  const options = { hidePlumbing: true, maxNativeDepth: 128, nativeUnwind: 'dwarf' as const, threadRoots: true, gilRoots: false };
  const record = (id: number | undefined, tid: number, user: bigint[], count: number): RawSample => ({ ...(id === undefined ? {} : { id }), tid, chain: 0n, user, userEnd: 'complete', kernel: [], count });

  test('counted again by number make the profile the same records counted in full do, and the numbers are kept for the next poll', () => {
    const polls = [
      [record(1, 10, [0x1100n, 0x1200n], 2), record(2, 11, [0x1100n, 0x1300n], 1)],
      [record(1, 10, [0x1100n, 0x1200n], 5), record(3, 10, [0x1400n, 0x1200n], 1)],
      [record(2, 11, [0x1100n, 0x1300n], 4), record(1, 10, [0x1100n, 0x1200n], 1)],
    ];
    const numbered = new ProfileBuilder(null, fakeNative(), options);
    const plain = new ProfileBuilder(null, fakeNative(), options);
    for (const poll of polls) {
      numbered.addSamples(poll);
      plain.addSamples(poll.map((s) => record(undefined, s.tid, [...s.user], s.count)));
    }
    const a = numbered.finish();
    const b = plain.finish();
    assert.deepEqual(folded(a.stacks), folded(b.stacks));
    assert.deepEqual(folded(a.stacks), ['thread (10);fn_1200;fn_1100 8', 'thread (10);fn_1200;fn_1400 1', 'thread (11);fn_1300;fn_1100 5']);
    assert.equal(a.stats.samples, 14);
    assert.equal(a.stats.threads, 2);
  });

  test('a number seen again after a drain still counts in the next period', () => {
    const builder = new ProfileBuilder(null, fakeNative(), options);
    builder.addSamples([record(7, 10, [0x1100n], 2)]);
    assert.deepEqual(folded(builder.drain().stacks), ['thread (10);fn_1100 2']);
    builder.addSamples([{ ...record(7, 10, [0x1100n], 3) }]);
    assert.deepEqual(folded(builder.drain().stacks), ['thread (10);fn_1100 3']);
  });
});

describe('distinct samples share their stacks', () => {
  test('samples that differ only in their Python chain hold one copy of their user and kernel stacks, and count apart', () => {
    const counts = new SampleCounts(false);
    for (let chain = 0n; chain < 100n; chain++) {
      for (const count of [1, 2]) {
        // Equal stacks, each arriving in arrays of its own, as a sampler's records do.
        const user = [0x1100n, 0x1200n, 0x1300n];
        const kernel = ['do_syscall_64', 'entry_SYSCALL_64'];
        counts.add({ tid: Number(chain), chain, user, userKey: userStackKey(user, 'complete'), kernel, kernelKey: kernelStackKey(kernel, undefined) }, count);
      }
    }
    const held = [...counts.entries()];
    assert.equal(held.length, 100);
    assert.ok(held.every((h) => h.count === 3));
    assert.ok(held.every((h) => h.sample.user === held[0]!.sample.user && h.sample.kernel === held[0]!.sample.kernel));
    // Another user stack is another sample.
    counts.add({ tid: 1, chain: 0n, user: [0x1100n], userKey: userStackKey([0x1100n], 'complete'), kernel: [], kernelKey: kernelStackKey([], undefined) }, 1);
    assert.equal(counts.size, 101);
  });

  test("stack keys tell apart what the frames, the unwind's end and the caller's origin do", () => {
    const keys = [
      userStackKey([0x11n, 0x22n], 'complete'),
      userStackKey([0x11n, 0x22n], 'stopped'),
      userStackKey([0x11n, 0x22n], 'complete', true),
      userStackKey([0x112n], 'complete'),
      userStackKey([0x1n, 0x122n], 'complete'),
    ];
    assert.equal(new Set(keys).size, keys.length);
    assert.equal(userStackKey([0x11n, 0x22n], 'complete'), keys[0]);
    assert.notEqual(kernelStackKey(['a', 'b'], undefined), kernelStackKey(['a', 'b'], 'runnable'));
    assert.notEqual(kernelStackKey(['a', 'b'], 'waiting'), kernelStackKey(['a', 'b'], 'runnable'));
  });
});

describe('addresses in the same functions are held as one (CanonicalAddresses)', () => {
  /** Functions of 0x100 bytes from 0x1000: fn_10 at 0x1000-0x10ff and so on; 0x1f00 and up in no mapping. */
  function functionsNative(): NativeFrames {
    const native = fakeNative();
    native.frames = (addresses) =>
      addresses.map((address) => {
        const mapped = address >= 0x1000n && address < 0x1f00n;
        const name = mapped ? `fn_${(address >> 8n).toString(16)}` : `[unknown ${address.toString(16)}]`;
        return { address, name, symbol: mapped ? name : null, module: mapped ? '/lib/x.so' : null, role: 'code', framePointer: true, functionFramePointer: true, frameReady: true, returnSlot: null, mapped };
      });
    return native;
  }
  const options = { hidePlumbing: true, maxNativeDepth: 128, nativeUnwind: 'dwarf' as const, threadRoots: false, gilRoots: false };
  /** A CFI-unwound record: a leaf at one of 200 addresses of fn_10-fn_13, its caller at one of 64 call sites of fn_18, then fn_1a. */
  const unwound = (i: number, end: 'complete' | 'stopped' = 'complete'): RawSample => ({
    tid: 1,
    chain: 0n,
    user: [0x1000n + BigInt(i % 4) * 0x100n + BigInt(i % 200), 0x1800n + BigInt(Math.floor(i / 200) % 64), 0x1a20n],
    userEnd: end,
    kernel: [],
    count: 1,
  });

  test('20,000 CFI-unwound samples at thousands of addresses of a few functions: stacks held stay below the compaction floor, the profile is the same', () => {
    const builder = new ProfileBuilder(null, functionsNative(), options);
    const reference = new ProfileBuilder(null, functionsNative(), options);
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      builder.addSamples([unwound(i)]);
      most = Math.max(most, builder.heldStacks);
    }
    // The same samples, too few to be compacted, each once with its count.
    const distinct = new Map<string, { sample: RawSample; count: number }>();
    for (let i = 0; i < 20_000; i++) {
      const s = unwound(i);
      const key = s.user.join(' ');
      const seen = distinct.get(key);
      if (seen) seen.count++;
      else distinct.set(key, { sample: s, count: 1 });
    }
    assert.ok(distinct.size > 5_000, `${distinct.size} distinct stacks`);
    for (const { sample, count } of distinct.values()) reference.addSamples([{ ...sample, count }]);
    assert.ok(most <= 5_000, `held ${most} stacks`);
    // Once compacted, new samples at addresses seen before are held as their
    // stand-ins: a leaf anywhere in its function is one, a call site not seen
    // by then another, until the next compaction (at most 4 leaf functions by 64 call sites).
    assert.ok(builder.heldStacks <= 4 * 64, `${builder.heldStacks} held after`);
    const profile = builder.finish();
    assert.deepEqual(folded(profile.stacks), folded(reference.finish().stacks));
    assert.equal(profile.stats.samples, 20_000);
    assert.equal(profile.stats.nativeComplete, 20_000);
  });

  test('an unwind that stopped is held as it came', () => {
    const builder = new ProfileBuilder(null, functionsNative(), options);
    for (let i = 0; i < 6_000; i++) builder.addSamples([unwound(i, i % 2 === 0 ? 'complete' : 'stopped')]);
    const stopped = new Set(Array.from({ length: 3_000 }, (_, k) => unwound(2 * k + 1).user.join(' ')));
    assert.ok(builder.heldStacks >= stopped.size, `${builder.heldStacks} held for ${stopped.size} distinct stopped stacks`);
  });

  test('frame-pointer walks: a leaf whose frame is not yet in place is not one that has it', () => {
    const frame = (address: bigint, frameReady: boolean): NativeFrame => ({ address, name: 'fn', symbol: 'fn', module: '/lib/x.so', role: 'code', framePointer: true, functionFramePointer: true, frameReady, returnSlot: null, mapped: true });
    assert.notEqual(frameIdentity(frame(0x1000n, true), true, 'fp'), frameIdentity(frame(0x1001n, false), true, 'fp'));
    assert.equal(frameIdentity(frame(0x1000n, true), true, 'fp'), frameIdentity(frame(0x1004n, true), true, 'fp'));
    // What only frame-pointer walks read does not tell CFI-unwound frames apart.
    assert.equal(frameIdentity(frame(0x1000n, true), true, 'dwarf'), frameIdentity(frame(0x1001n, false), false, 'dwarf'));
    assert.equal(frameIdentity({ ...frame(0x1000n, true), mapped: false }, true, 'dwarf'), null);
  });
});

describe('samples per thread when records do not carry their thread', () => {
  test("a full poll's triples, per process, or all under the target when not following", () => {
    const triples = Float64Array.from([10, 11, 3, 10, 12, 1, 20, 21, 5, 10, 11, 2]);
    assert.deepEqual(samplesByThread(triples, null), new Map([[10, new Map([[11, 5], [12, 1]])], [20, new Map([[21, 5]])]]));
    assert.deepEqual(samplesByThread(triples, 10), new Map([[10, new Map([[11, 5], [12, 1], [21, 5]])]]));
  });

  test("the builder counts the threads byThread names, not the records' tid 0", () => {
    const builder = new ProfileBuilder(null, fakeNative(), { hidePlumbing: true, maxNativeDepth: 128, nativeUnwind: 'dwarf', threadRoots: false, gilRoots: false });
    builder.apply({ type: 'samples', samples: [{ tid: 0, chain: 0n, user: [0x1100n], userEnd: 'complete', kernel: [], count: 9 }], malformed: 0, byThread: new Map([[5, 4], [6, 3], [7, 2]]) });
    assert.equal(builder.finish().stats.threads, 3);
    assert.deepEqual(samplesPerThread({ samples: [], byThread: new Map([[5, 4]]) }), new Map([[5, 4]]));
    assert.deepEqual(samplesPerThread({ samples: [{ tid: 3, chain: 0n, user: [], kernel: [], count: 2 }, { tid: 3, chain: 0n, user: [], kernel: [], count: 1 }] }), new Map([[3, 3]]));
  });
});

describe('the threads a profile counts (ThreadIds)', () => {
  test('distinct ids counted once, listed in order, across blocks and up to pid_max', () => {
    const ids = new ThreadIds();
    for (const tid of [5, 70_000, 5, 4_194_303, 1, 65_535, 65_536, 70_000]) ids.add(tid);
    assert.equal(ids.size, 6);
    assert.deepEqual([...ids], [1, 5, 65_535, 65_536, 70_000, 4_194_303]);
    ids.clear();
    assert.equal(ids.size, 0);
    assert.deepEqual([...ids], []);
  });

  test('a pool of 50,000 threads with consecutive ids: each counted and listed once', () => {
    const ids = new ThreadIds();
    for (let tid = 100_000; tid < 150_000; tid++) ids.add(tid);
    assert.equal(ids.size, 50_000);
    assert.equal([...ids].length, 50_000);
  });
});
