import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import { Profile } from 'pprof-format';
import { formatCpuprofile, MAX_ENTRIES, type CpuProfile } from '../../src/output/cpuprofile.js';
import { readFolded } from '../../src/output/folded-reader.js';
import type { OutputProfile } from '../../src/output/output-profile.js';
import { formatPprof } from '../../src/output/pprof.js';
import { formatSpeedscope, type SpeedscopeFile } from '../../src/output/speedscope.js';
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { REPO } from '../helpers/paths.js';

// The writers are checked against their input: each output is decoded back to
// frames using only what a viewer sees (names, files, lines, modules), and the
// decoded stacks and counts must equal the input's.

const KERNEL = '[kernel.kallsyms]';

const py = (func: string, file: string, line: number): Frame => ({ kind: 'python', name: `${func} (${file}:${line})`, func, file, line });
const native = (name: string, file?: string): Frame => (file === undefined ? { kind: 'native', name } : { kind: 'native', name, file });
const kernel = (name: string): Frame => ({ kind: 'kernel', name });
const marker = (name: string): Frame => ({ kind: 'marker', name });

const PYTHON = '/usr/bin/python3.11';
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';
const EXT = '/srv/app/venv/lib/_speedups.cpython-311-x86_64-linux-gnu.so';

const entry = native('_start', PYTHON);
const evalFrame = native('_PyEval_EvalFrameDefault', PYTHON);
const module = py('<module>', '/srv/app/app.py', 1);
const mainAt10 = py('main', '/srv/app/app.py', 10);
const mainAt12 = py('main', '/srv/app/app.py', 12);
const odd = py('Odd;Class."quoted" \'q\' ünïcödé λ→<lambda>', '/srv/app/wéird dir/mod;x.py', 7);
const read = native('read', LIBC);
const extMain = native('main', EXT);
const pyMain = native('main', PYTHON);
const kRead = kernel('read');
const kVfs = kernel('vfs_read');
const noName = native('0x7f00dead');

const STACKS: StackCount[] = [
  { frames: [entry, evalFrame, module, mainAt10, read, kRead, kVfs], count: 7 },
  { frames: [entry, evalFrame, module, mainAt12, read], count: 3 },
  { frames: [entry, evalFrame, module, mainAt12, odd, extMain], count: 2 },
  { frames: [entry, pyMain, noName], count: 1 },
  { frames: [entry, evalFrame, module, odd, marker('[truncated]')], count: 4 },
  { frames: [marker('[unknown]')], count: 5 },
  // The same stack twice (a merge's caller may hand it over so): counts add up.
  { frames: [entry, evalFrame, module, mainAt10, read, kRead, kVfs], count: 1 },
  // Equal frames as other objects (as from another thread's walk): still one frame each.
  { frames: [{ ...entry }, { ...evalFrame }, py('<module>', '/srv/app/app.py', 1), py('main', '/srv/app/app.py', 10), { ...read }, kernel('read')], count: 2 },
];

const profileOf = (stacks: StackCount[], more: Partial<OutputProfile> = {}): OutputProfile => ({
  stacks,
  hz: 99,
  startTime: 1_700_000_000_123,
  durationSeconds: 2.5,
  title: 'python3 app.py (1234)',
  ...more,
});

/**
 * A frame as a viewer can tell it apart: Python frames by their display name,
 * native frames by symbol and module, kernel frames by symbol. Markers and
 * native frames without a module look alike in every format (a plain name).
 */
function frameKey(frame: Frame): string {
  switch (frame.kind) {
    case 'python':
      return `python|${frame.name}`;
    case 'kernel':
      return `kernel|${frame.name}`;
    case 'native':
      return frame.file === undefined ? `plain|${frame.name}` : `native|${frame.name}|${frame.file}`;
    case 'marker':
      return `plain|${frame.name}`;
  }
}

/** Rebuilds a key from what an output says: name, source file or module, line. */
function decodedKey(name: string, opts: { kernel: boolean; sourceFile?: string; line?: number; module?: string }): string {
  if (opts.kernel) return `kernel|${name}`;
  if (opts.sourceFile !== undefined && opts.line !== undefined) return `python|${name} (${opts.sourceFile}:${opts.line})`;
  if (opts.module !== undefined) return `native|${name}|${opts.module}`;
  return `plain|${name}`;
}

/** Stacks as a multiset: "key;key;..." → summed count. */
function multiset(stacks: readonly { keys: readonly string[]; count: number }[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of stacks) {
    const k = JSON.stringify(s.keys);
    out.set(k, (out.get(k) ?? 0) + s.count);
  }
  return new Map([...out].sort((a, b) => (a[0] < b[0] ? -1 : 1)));
}

const expected = (stacks: readonly StackCount[]) => multiset(stacks.map((s) => ({ keys: s.frames.map(frameKey), count: s.count })));
const distinctFrames = (stacks: readonly StackCount[]) => new Set(stacks.flatMap((s) => s.frames.map(frameKey)));

// ---------------------------------------------------------------- speedscope

const schema = JSON.parse(readFileSync(path.join(REPO, 'node_modules/speedscope/dist/release/file-format-schema.json'), 'utf8')) as object;
const validateSpeedscope = new Ajv({ strict: false }).compile(schema);

function decodeSpeedscope(text: string, hz: number) {
  const file = JSON.parse(text) as SpeedscopeFile;
  assert.ok(validateSpeedscope(file), JSON.stringify(validateSpeedscope.errors));
  const keys = file.shared.frames.map((f) => {
    const isKernel = f.file === KERNEL;
    return decodedKey(f.name, { kernel: isKernel, sourceFile: f.file, line: f.line, module: isKernel ? undefined : f.file });
  });
  const stacks = file.profiles.flatMap((p) => {
    assert.equal(p.type, 'sampled');
    assert.equal(p.unit, 'seconds');
    assert.equal(p.samples.length, p.weights.length);
    const total = p.weights.reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(p.endValue - p.startValue - total) < 1e-9, `endValue ${p.endValue} covers the weights ${total}`);
    return p.samples.map((sample, i) => {
      const count = p.weights[i]! * hz;
      assert.ok(Math.abs(count - Math.round(count)) < 1e-9, `weight ${p.weights[i]} is a whole number of samples`);
      return { profile: p.name, keys: sample.map((index) => keys[index]!), count: Math.round(count) };
    });
  });
  return { file, keys, stacks };
}

test('speedscope: valid against the shipped schema, stacks and counts as given, frames shared once', () => {
  const profile = profileOf(STACKS);
  const { file, keys, stacks } = decodeSpeedscope(formatSpeedscope(profile), profile.hz);
  assert.equal(file.exporter, 'mixprof');
  assert.equal(file.name, profile.title);
  assert.equal(file.profiles.length, 1);
  assert.equal(file.profiles[0]!.name, profile.title);
  assert.deepEqual(multiset(stacks), expected(STACKS));
  // Deduplicated: one shared frame per distinct input frame, none repeated.
  assert.equal(new Set(keys).size, keys.length);
  assert.deepEqual(new Set(keys), distinctFrames(STACKS));
  // Python frames carry the function, file and line apart; kernel frames say so.
  assert.ok(file.shared.frames.some((f) => f.name === 'main' && f.file === '/srv/app/app.py' && f.line === 12));
  assert.ok(file.shared.frames.some((f) => f.name === 'vfs_read' && f.file === KERNEL));
  assert.ok(file.shared.frames.some((f) => f.name === 'read' && f.file === LIBC));
});

test('speedscope: one profile per thread when every stack starts at a thread root, busiest first', () => {
  const t1 = marker('python3 (1234)');
  const t2 = marker('worker;"1" ü (1240)');
  const stacks: StackCount[] = [
    { frames: [t1, entry, evalFrame, module, mainAt10], count: 2 },
    { frames: [t2, entry, evalFrame, module, odd, read, kVfs], count: 6 },
    { frames: [t1, entry, evalFrame, module, mainAt12], count: 3 },
    { frames: [t2, marker('[unknown]')], count: 1 },
  ];
  const profile = profileOf(stacks);
  const { file, stacks: decoded } = decodeSpeedscope(formatSpeedscope(profile), profile.hz);
  assert.deepEqual(
    file.profiles.map((p) => p.name),
    [t2.name, t1.name],
  );
  // The thread is the profile's name: put it back as the root to compare.
  const withRoots = decoded.map((s) => (s.keys[0] === `plain|${s.profile}` ? s : { keys: [`plain|${s.profile}`, ...s.keys], count: s.count }));
  assert.deepEqual(multiset(withRoots), expected(stacks));
  for (const p of file.profiles) {
    const own = stacks.filter((s) => s.frames[0]!.name === p.name).reduce((a, s) => a + s.count, 0);
    assert.ok(Math.abs(p.endValue - own / profile.hz) < 1e-9);
  }

  // A single stack without a thread root keeps everything in one profile.
  const mixed = [...stacks, { frames: [entry, pyMain], count: 1 }];
  const one = decodeSpeedscope(formatSpeedscope(profileOf(mixed)), 99);
  assert.equal(one.file.profiles.length, 1);
  assert.deepEqual(multiset(one.stacks), expected(mixed));
});

// ---------------------------------------------------------------- pprof

function decodePprof(bytes: Uint8Array) {
  const p = Profile.decode(gunzipSync(bytes));
  const str = (i: number | bigint) => {
    const s = p.stringTable.strings[Number(i)];
    assert.ok(s !== undefined, `string ${i} exists`);
    return s;
  };
  assert.equal(p.stringTable.strings[0], '');
  const functions = new Map(p.function.map((f) => [Number(f.id), f]));
  const mappings = new Map(p.mapping.map((m) => [Number(m.id), m]));
  const locations = new Map(
    p.location.map((loc) => {
      assert.equal(loc.line.length, 1, 'one line per location (no inlining)');
      const line = loc.line[0]!;
      const fn = functions.get(Number(line.functionId));
      assert.ok(fn, `function ${line.functionId} exists`);
      const mappingId = Number(loc.mappingId);
      const mapping = mappingId === 0 ? undefined : mappings.get(mappingId);
      assert.ok(mappingId === 0 || mapping, `mapping ${mappingId} exists`);
      const module = mapping === undefined ? undefined : str(mapping.filename);
      const filename = str(fn.filename);
      const key = decodedKey(str(fn.name), {
        kernel: module === KERNEL,
        sourceFile: filename === '' ? undefined : filename,
        line: Number(line.line) === 0 ? undefined : Number(line.line),
        module,
      });
      return [Number(loc.id), key];
    }),
  );
  const stacks = p.sample.map((s) => {
    // pprof is leaf first.
    const keys = s.locationId.map((id) => locations.get(Number(id))!).reverse();
    assert.ok(keys.every((k) => k !== undefined));
    return { keys, count: Number(s.value[0]), value: s.value.map(Number) };
  });
  return { p, str, stacks, locations };
}

test('pprof: gzipped profile.proto giving back the stacks, counts, CPU time, lines and modules', () => {
  const profile = profileOf(STACKS);
  const bytes = formatPprof(profile);
  assert.deepEqual([bytes[0], bytes[1]], [0x1f, 0x8b], 'gzip magic');
  const { p, str, stacks, locations } = decodePprof(bytes);

  assert.deepEqual(multiset(stacks), expected(STACKS));
  assert.deepEqual(
    p.sampleType.map((t) => [str(t.type), str(t.unit)]),
    [
      ['samples', 'count'],
      ['cpu', 'nanoseconds'],
    ],
  );
  assert.ok(p.periodType);
  assert.deepEqual([str(p.periodType.type), str(p.periodType.unit)], ['cpu', 'nanoseconds']);
  const period = Number(p.period);
  assert.ok(Math.abs(period - 1e9 / profile.hz) <= 0.5, `period ${period} ns at ${profile.hz} Hz`);
  for (const s of stacks) assert.deepEqual(s.value, [s.count, s.count * period]);
  assert.equal(BigInt(p.timeNanos), BigInt(profile.startTime!) * 1_000_000n);
  assert.equal(Number(p.durationNanos), profile.durationSeconds! * 1e9);

  // One mapping per native module and one for the kernel; all symbolized already.
  const mappingFiles = p.mapping.map((m) => str(m.filename)).sort();
  assert.deepEqual(mappingFiles, [KERNEL, EXT, PYTHON, LIBC].sort());
  assert.ok(p.mapping.every((m) => m.hasFunctions));
  // Python lines: main at 10 and 12 share a function but not a location.
  const mainFns = p.function.filter((f) => str(f.name) === 'main' && str(f.filename) === '/srv/app/app.py');
  assert.equal(mainFns.length, 1);
  const mainLines = p.location.filter((l) => l.line[0]!.functionId === mainFns[0]!.id).map((l) => Number(l.line[0]!.line));
  assert.deepEqual(mainLines.sort((a, b) => a - b), [10, 12]);
  // Deduplicated: functions by (name, file), locations by what they show.
  const fnKeys = p.function.map((f) => `${str(f.name)}|${str(f.filename)}`);
  assert.equal(new Set(fnKeys).size, fnKeys.length);
  assert.deepEqual(new Set(locations.values()), distinctFrames(STACKS));
  assert.equal(locations.size, distinctFrames(STACKS).size);
});

test("pprof: the target's program is the first mapping (pprof's main binary), and mappings have the ranges their code was mapped at", () => {
  const binaries = [
    { file: PYTHON, start: 0x55550000_1000n, limit: 0x55550000_2000n, offset: 0x1000n },
    { file: LIBC, start: 0x7f000002_8000n, limit: 0x7f000017_d000n, offset: 0x28000n },
    { file: '/usr/lib/x86_64-linux-gnu/libm.so.6', start: 0x7f100000_0000n, limit: 0x7f100001_0000n, offset: 0n },
  ];
  // LIBC's frames come first in the stacks: without the list it would be the first mapping.
  const stacks = [{ frames: [native('__libc_start_main', LIBC), entry, evalFrame], count: 3 }, ...STACKS];
  const { p, str, stacks: decoded } = decodePprof(formatPprof({ ...profileOf(stacks), binaries }));
  assert.equal(str(p.mapping[0]!.filename), PYTHON);
  const byFile = new Map(p.mapping.map((m) => [str(m.filename), m]));
  for (const b of binaries.slice(0, 2)) {
    const m = byFile.get(b.file)!;
    assert.deepEqual([BigInt(m.memoryStart), BigInt(m.memoryLimit), BigInt(m.fileOffset)], [b.start, b.limit, b.offset], b.file);
  }
  // A library no frame is in gets no mapping; the kernel's has no range.
  assert.ok(!byFile.has('/usr/lib/x86_64-linux-gnu/libm.so.6'));
  assert.equal(BigInt(byFile.get(KERNEL)!.memoryLimit), 0n);
  assert.deepEqual(multiset(decoded), expected(stacks));
});

test('pprof: a wall-clock profile names its time wall, as Pyroscope and pprof expect', () => {
  const { p, str, stacks } = decodePprof(formatPprof({ ...profileOf(STACKS), time: 'wall' }));
  assert.deepEqual(p.sampleType.map((t) => str(t.type)), ['samples', 'wall']);
  assert.equal(str(p.periodType!.type), 'wall');
  assert.deepEqual(multiset(stacks), expected(STACKS));
});

test('pprof: no start time or duration leaves them unset', () => {
  const { p } = decodePprof(formatPprof(profileOf(STACKS, { startTime: null, durationSeconds: null, hz: 1000 })));
  assert.equal(Number(p.timeNanos), 0);
  assert.equal(Number(p.durationNanos), 0);
  assert.equal(Number(p.period), 1_000_000);
});

// ---------------------------------------------------------------- cpuprofile

function decodeCpuprofile(text: string) {
  const cpu = JSON.parse(text) as CpuProfile;
  const byId = new Map(cpu.nodes.map((n) => [n.id, n]));
  assert.equal(byId.size, cpu.nodes.length, 'node ids unique');
  const root = cpu.nodes[0]!;
  assert.equal(root.id, 1);
  assert.equal(root.callFrame.functionName, '(root)');
  // Each node but the root has exactly one parent; children exist.
  const parent = new Map<number, number>();
  for (const n of cpu.nodes) {
    assert.ok(Number.isInteger(n.id) && n.id >= 1);
    for (const c of n.children) {
      assert.ok(byId.has(c), `child ${c} of ${n.id} exists`);
      assert.ok(!parent.has(c), `node ${c} has one parent`);
      parent.set(c, n.id);
    }
  }
  assert.ok(!parent.has(1), 'the root has no parent');
  for (const n of cpu.nodes) if (n.id !== 1) assert.ok(parent.has(n.id), `node ${n.id} has a parent`);
  // Hit counts agree with the samples.
  assert.equal(cpu.samples.length, cpu.timeDeltas.length);
  assert.equal(
    cpu.nodes.reduce((a, n) => a + n.hitCount, 0),
    cpu.samples.length,
  );
  const hits = new Map<number, number>();
  for (const id of cpu.samples) {
    assert.ok(byId.has(id), `sample node ${id} exists`);
    hits.set(id, (hits.get(id) ?? 0) + 1);
  }
  for (const n of cpu.nodes) assert.equal(n.hitCount, hits.get(n.id) ?? 0, `hitCount of node ${n.id}`);
  // Siblings differ (a prefix tree).
  for (const n of cpu.nodes) {
    const frames = n.children.map((c) => JSON.stringify(byId.get(c)!.callFrame));
    assert.equal(new Set(frames).size, frames.length, `children of ${n.id} distinct`);
  }
  const keyOf = (id: number): string => {
    const f = byId.get(id)!.callFrame;
    assert.equal(typeof f.scriptId, 'string');
    const isKernel = f.url === KERNEL;
    return decodedKey(f.functionName, {
      kernel: isKernel,
      sourceFile: f.url === '' ? undefined : f.url,
      line: f.lineNumber < 0 ? undefined : f.lineNumber + 1,
      module: f.url === '' || isKernel ? undefined : f.url,
    });
  };
  const stacks = cpu.samples.map((id) => {
    const keys: string[] = [];
    for (let at = id; at !== 1; at = parent.get(at)!) keys.push(keyOf(at));
    return { keys: keys.reverse(), count: 1 };
  });
  return { cpu, stacks };
}

test('cpuprofile: a consistent node tree whose samples give back the stacks and counts', () => {
  const profile = profileOf(STACKS);
  const { cpu, stacks } = decodeCpuprofile(formatCpuprofile(profile));
  assert.deepEqual(multiset(stacks), expected(STACKS));
  const total = STACKS.reduce((a, s) => a + s.count, 0);
  assert.equal(cpu.samples.length, total);
  // Microseconds: from the start time (ms), 1/hz apart, ending at the last sample.
  assert.equal(cpu.startTime, profile.startTime! * 1000);
  const elapsed = cpu.timeDeltas.reduce((a, b) => a + b, 0);
  assert.equal(cpu.endTime, cpu.startTime + elapsed);
  assert.ok(Math.abs(elapsed - (total * 1e6) / profile.hz) <= 1, `elapsed ${elapsed} µs`);
  assert.ok(cpu.timeDeltas.every((d) => Math.abs(d - 1e6 / profile.hz) <= 1));
  // 0-based lines; -1 when unknown.
  const main12 = cpu.nodes.find((n) => n.callFrame.functionName === 'main' && n.callFrame.url === '/srv/app/app.py' && n.callFrame.lineNumber === 11);
  assert.ok(main12);
  assert.ok(cpu.nodes.filter((n) => n.callFrame.url === KERNEL).every((n) => n.callFrame.lineNumber === -1));
  // Samples in the order of the stacks given.
  const firstLeaf = decodeCpuprofile(formatCpuprofile(profileOf([STACKS[3]!, STACKS[0]!]))).stacks;
  assert.deepEqual(firstLeaf[0]!.keys, STACKS[3]!.frames.map(frameKey));
  assert.deepEqual(firstLeaf[1]!.keys, STACKS[0]!.frames.map(frameKey));
});

test('cpuprofile: past MAX_ENTRIES samples each entry stands for several, and every stack keeps its share and time', () => {
  const big = [
    { frames: STACKS[0]!.frames, count: 2 * MAX_ENTRIES + 1 },
    { frames: STACKS[1]!.frames, count: 3 },
    { frames: STACKS[2]!.frames, count: MAX_ENTRIES },
  ];
  const total = big.reduce((a, s) => a + s.count, 0);
  const profile = profileOf(big, { hz: 100 });
  const { cpu, stacks } = decodeCpuprofile(formatCpuprofile(profile));
  assert.ok(cpu.samples.length <= MAX_ENTRIES, `${cpu.samples.length} entries`);
  const per = Math.ceil(total / MAX_ENTRIES);
  // Each stack's entries are its count over `per`, to within one.
  const count = (frames: readonly Frame[]): number => stacks.filter((s) => s.keys.join(';') === frames.map(frameKey).join(';')).length;
  for (const s of big) assert.ok(Math.abs(count(s.frames) - s.count / per) <= 1, `${count(s.frames)} entries for ${s.count} samples`);
  const elapsed = cpu.timeDeltas.reduce((a, b) => a + b, 0);
  assert.ok(Math.abs(elapsed - (cpu.samples.length * per * 1e6) / 100) <= 1);
  assert.ok(Math.abs(elapsed / 1e6 - total / 100) <= per / 100, `${elapsed / 1e6} s for ${total} samples`);
});

test('cpuprofile: no start time starts at 0', () => {
  const { cpu } = decodeCpuprofile(formatCpuprofile(profileOf(STACKS, { startTime: null, hz: 1000 })));
  assert.equal(cpu.startTime, 0);
  assert.ok(cpu.timeDeltas.every((d) => d === 1000));
  assert.equal(cpu.endTime, cpu.samples.length * 1000);
});

// ---------------------------------------------------------------- all formats

test('empty profile: a valid file in every format', () => {
  const profile = profileOf([], { startTime: null, durationSeconds: null });
  const speedscope = decodeSpeedscope(formatSpeedscope(profile), profile.hz);
  assert.equal(speedscope.stacks.length, 0);
  assert.equal(speedscope.file.profiles.length, 1, 'speedscope needs a profile to open');
  assert.equal(speedscope.file.shared.frames.length, 0);

  const pprof = decodePprof(formatPprof(profile));
  assert.equal(pprof.p.sample.length, 0);
  assert.equal(pprof.p.sampleType.length, 2);

  const cpu = decodeCpuprofile(formatCpuprofile(profile));
  assert.equal(cpu.cpu.nodes.length, 1);
  assert.equal(cpu.cpu.samples.length, 0);
  assert.equal(cpu.cpu.endTime, cpu.cpu.startTime);
});

test('names from a folded file with ; quotes, unicode and <module> survive every format', () => {
  const folded = [
    '<module> (/srv/app/app.py:1);run%3Bnow "quick" (/srv/app/app.py:20);λ ünï <lambda> (/srv/app/ü.py:3);write;ksys_write_[k] 4',
    '<module> (/srv/app/app.py:1);[unknown] 2',
    '<module> (/srv/app/app.py:1);run%3Bnow "quick" (/srv/app/app.py:21);operator<< \'x\' 1',
    'python3 (99);back\\slash\ttab 3',
  ].join('\n');
  const stacks = readFolded(folded, 'test');
  assert.ok(stacks[0]!.frames.some((f) => f.kind === 'python' && f.func === 'run;now "quick"'));
  const profile = profileOf(stacks, { hz: 49 });
  const want = expected(stacks);

  assert.deepEqual(multiset(decodeSpeedscope(formatSpeedscope(profile), profile.hz).stacks), want);
  assert.deepEqual(multiset(decodePprof(formatPprof(profile)).stacks), want);
  assert.deepEqual(multiset(decodeCpuprofile(formatCpuprofile(profile)).stacks), want);
});

test('stacks with no frames or no samples are left out', () => {
  const stacks: StackCount[] = [
    { frames: [], count: 3 },
    { frames: [entry, pyMain], count: 0 },
    { frames: [entry, evalFrame], count: 2 },
  ];
  const profile = profileOf(stacks);
  const want = expected([stacks[2]!]);
  assert.deepEqual(multiset(decodeSpeedscope(formatSpeedscope(profile), profile.hz).stacks), want);
  assert.deepEqual(multiset(decodePprof(formatPprof(profile)).stacks), want);
  assert.deepEqual(multiset(decodeCpuprofile(formatCpuprofile(profile)).stacks), want);
});
