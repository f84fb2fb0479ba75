import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BpftraceStream, parseBpftraceLine, parseRawStack } from '../../src/sampler/bpftrace-records.js';

test('printf records become threads, chain heads and frames', () => {
  assert.deepEqual(parseBpftraceLine('{"type": "printf", "data": "T 3417 python3.11 worker\\n"}'), {
    type: 'thread',
    thread: { tid: 3417, comm: 'python3.11 worker' },
  });
  assert.deepEqual(parseBpftraceLine('{"type": "printf", "data": "C 16254973172955836415 3 1\\n"}'), {
    type: 'chain-head',
    hash: 16254973172955836415n,
    depth: 3,
    truncated: true,
  });
  assert.deepEqual(parseBpftraceLine('{"type": "printf", "data": "F 7 2 140108458231168 140108458231424 4294967296 1\\n"}'), {
    type: 'chain-frame',
    hash: 7n,
    index: 2,
    frame: { code: 140108458231168n, instr: 140108458231424n, flags: 4294967296n, firstLineNo: 1 },
  });
});

test('the sample map splits into tid, chain, GIL state, user and kernel stacks, and the words at the stack pointer', () => {
  // As bpftrace 0.17 prints @samples[tid, hash, gil, ustack(perf), kstack, w0, w1, w2] with
  // BPFTRACE_NO_USER_SYMBOLS=1: 64-bit values signed (0xffffffff12345678 as -3989547400).
  const line = JSON.stringify({
    type: 'map',
    data: {
      '@samples': {
        '3762,7,1,\n\t7fc235d162ad 0x7fc235d162ad ([unknown])\n,\n    read_zero+111\n    vfs_read+187\n    ksys_read+102\n,0,0,0': 3,
        '3762,0,0,\n\t7fc235f98871 0x7fc235f98871 ([unknown])\n\t7fc236258ea0 0x7fc236258ea0 ([unknown])\n,,140470400000000,-3989547400,0': 1,
        '3762,-5941191031239405987,2,\n\t7fc235d162ad 0x7fc235d162ad ([unknown])\n,,0,0,0': 4,
        '3763,0,3,\n\t7fc235d162ad 0x7fc235d162ad ([unknown])\n,,0,0,0': 5,
        '3762,7,1,\n\t7fc235d162ad 0x7fc235d162ad ([unknown])\n,': 6,
        '3762,7,1,\n\t7fc235d162ad 0x7fc235d162ad ([unknown])\n,,0,x,0': 7,
        'garbage': 2,
      },
    },
  });
  const event = parseBpftraceLine(line);
  assert.ok(event && event.type === 'samples');
  // The old five-part key (no words), a word that is no number, and garbage.
  assert.equal(event.malformed, 3);
  // Stacks come as frames: user addresses; kernel names, as 0.17's text has them.
  assert.deepEqual(event.samples, [
    { tid: 3762, chain: 7n, gil: 'held', user: [0x7fc235d162adn], kernel: ['read_zero', 'vfs_read', 'ksys_read'], count: 3 },
    { tid: 3762, chain: 0n, user: [0x7fc235f98871n, 0x7fc236258ea0n], kernel: [], count: 1, stackWords: [140470400000000n, 0xffffffff12345678n, 0n] },
    { tid: 3762, chain: 12505553042470145629n, gil: 'released', user: [0x7fc235d162adn], kernel: [], count: 4 },
    { tid: 3763, chain: 0n, gil: 'no-thread', user: [0x7fc235d162adn], kernel: [], count: 5 },
  ]);
});

test('a chain is sent once all its frames are in, whatever their order; frames of no known chain and repeats are dropped', () => {
  const stream = new BpftraceStream('raw');
  const printf = (text: string): string => JSON.stringify({ type: 'printf', data: `${text}\n` });
  assert.equal(stream.line(printf('F 9 0 1 2 3 4')), null);
  assert.equal(stream.line(printf('C 9 3 0')), null);
  assert.equal(stream.line(printf('F 9 2 30 31 32 33')), null);
  assert.equal(stream.line(printf('F 9 2 99 99 99 99')), null);
  assert.equal(stream.line(printf('F 9 7 1 1 1 1')), null);
  assert.equal(stream.line(printf('F 9 0 10 11 12 13')), null);
  assert.deepEqual(stream.line(printf('F 9 1 20 21 22 23')), {
    type: 'chain',
    chain: {
      hash: 9n,
      depth: 3,
      truncated: false,
      frames: [
        { code: 10n, instr: 11n, flags: 12n, firstLineNo: 13 },
        { code: 20n, instr: 21n, flags: 22n, firstLineNo: 23 },
        { code: 30n, instr: 31n, flags: 32n, firstLineNo: 33 },
      ],
    },
  });
  // Done with: a late frame starts nothing.
  assert.equal(stream.line(printf('F 9 1 20 21 22 23')), null);
  // Other records pass through.
  assert.deepEqual(stream.line(printf('T 5 worker')), { type: 'thread', thread: { tid: 5, comm: 'worker' } });
});

test("raw stacks as bpftrace 0.23 and 0.27 print them: addresses, leaf first, however spaced and escaped", () => {
  // 0.23 escapes the line breaks inside the key a second time; 0.27 does not. Both end a user stack with a 0 at times.
  const escaped = String.raw`{"type": "map", "data": {"@samples": {"10353,7,1,\n7fc7c579356f\n7fc7c5a57ce0\n0\n,\nffffffff82242009\nffffffff82241f31\n,140180065200864,0,0": 2}}}`;
  const plain = JSON.stringify({ type: 'map', data: { '@samples': { '10353,7,1,\n7fc7c579356f\n7fc7c5a57ce0\n0\n,\nffffffff82242009\nffffffff82241f31\n,140180065200864,0,0': 2 } } });
  for (const line of [escaped, plain]) {
    const event = parseBpftraceLine(line, 'raw');
    assert.ok(event && event.type === 'samples');
    assert.equal(event.malformed, 0);
    const [sample] = event.samples;
    assert.deepEqual(sample?.user, [0x7fc7c579356fn, 0x7fc7c5a57ce0n]);
    // Kernel addresses stay addresses: the resolver names them.
    assert.deepEqual(sample?.kernel, [0xffffffff82242009n, 0xffffffff82241f31n]);
  }
  assert.deepEqual(parseRawStack('\n'), []);
});

test('lost events, attach and noise', () => {
  assert.deepEqual(parseBpftraceLine('{"type": "lost_events", "data": {"events": 12}}'), { type: 'lost', events: 12 });
  // Sampling starts at BEGIN's "R" record, printed once every probe is attached.
  assert.equal(parseBpftraceLine('{"type": "attached_probes", "data": {"probes": 3}}'), null);
  assert.deepEqual(parseBpftraceLine('{"type": "printf", "data": "R\\n"}'), { type: 'ready' });
  // Then, with text stacks, the kernel's symbols read: nothing to act on.
  assert.equal(parseBpftraceLine('{"type": "printf", "data": "K 0\\n"}'), null);
  assert.equal(parseBpftraceLine(''), null);
  assert.deepEqual(parseBpftraceLine('not json'), { type: 'text', text: 'not json' });
});
