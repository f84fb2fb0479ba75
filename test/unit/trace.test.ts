/**
 * `mixprof trace`'s pure parts: bpftrace's output read back, the counts put
 * together (calls still open at the end, recursion counted once), functions
 * named and merged, which probes an interpreter offers, and the program
 * rendered for each case.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { isPlainPath, loadTemplate, renderTemplate } from '../../src/sampler/program.js';
import { functionRows, moduleOf, sortRows, type FunctionName } from '../../src/trace/function-rows.js';
import { closeOpenCalls, TraceCountsBuilder, type CodeCounts } from '../../src/trace/trace-counts.js';
import { TRACE_TEMPLATE, traceProgram } from '../../src/trace/trace-program.js';
import { keyParts, parseTraceLine, type TraceRecord } from '../../src/trace/trace-records.js';
import { formatDuration, traceJson, traceTable, type TraceReport } from '../../src/trace/trace-report.js';
import { probeGroups } from '../../src/trace/usdt-probes.js';
import { layoutFromJson, type WalkImageFile } from '../fixtures/walk-images/image-file.js';
import { REPO } from '../helpers/paths.js';

const map = (name: string, entries: Record<string, number> | number): string => JSON.stringify({ type: 'map', data: { [name]: entries } });
const printf = (text: string): string => JSON.stringify({ type: 'printf', data: `${text}\n` });

describe("reading the tracing program's output", () => {
  test('its printf lines: ready, a code object, the end; the once-a-second line is nothing', () => {
    assert.deepEqual(parseTraceLine(printf('R')), { type: 'ready', ns: null });
    assert.deepEqual(parseTraceLine(printf('R 500')), { type: 'ready', ns: 500n });
    assert.equal(parseTraceLine(printf('T')), null);
    assert.deepEqual(parseTraceLine(printf('N 140234567890')), { type: 'code', address: 140234567890n });
    assert.deepEqual(parseTraceLine(printf('E 66030536666049')), { type: 'end', ns: 66030536666049n });
    assert.equal(parseTraceLine(printf('N x')), null);
    assert.equal(parseTraceLine('not json'), null);
    assert.equal(parseTraceLine(''), null);
    assert.equal(parseTraceLine(JSON.stringify({ type: 'attached_probes', data: { probes: 8 } })), null);
  });

  test('its maps: keyed, with two keys, and a scalar one', () => {
    const keyed = parseTraceLine(map('@calls', { '140234567890': 5, '0': 2 }));
    assert.deepEqual(keyed, { type: 'map', name: '@calls', entries: new Map([['140234567890', 5n], ['0', 2n]]) });
    const scalar = parseTraceLine(map('@deeper', 7));
    assert.deepEqual(scalar, { type: 'map', name: '@deeper', entries: new Map([['', 7n]]) });
    // bpftrace prints 64-bit keys signed.
    assert.deepEqual(keyParts('12,-1'), [12n, (1n << 64n) - 1n]);
    assert.equal(keyParts('12,x'), null);
  });
});

/** Feeds records as the program prints them at its end. */
function counts(lines: string[]): ReturnType<TraceCountsBuilder['counts']> {
  const builder = new TraceCountsBuilder();
  for (const line of lines) {
    const record = parseTraceLine(line);
    if (record) builder.apply(record as TraceRecord);
  }
  assert.ok(builder.complete);
  return builder.counts();
}

describe('the counts put together', () => {
  test('calls and times per code object, the first print of a map only (bpftrace prints cleared scalars again)', () => {
    const c = counts([printf('R 400'), printf('E 1000'), map('@calls', { '16': 3, '32': 6 }), map('@own', { '16': 300, '32': 600 }), map('@total', { '16': 900, '32': 600 }), map('@deeper', 4), map('@deeper', 0)]);
    assert.deepEqual(c.codes.get(16n), { calls: 3, ownNs: 300n, totalNs: 900n });
    assert.deepEqual(c.codes.get(32n), { calls: 6, ownNs: 600n, totalNs: 600n });
    assert.equal(c.deeperCalls, 4);
    assert.equal(c.openCalls, 0);
    assert.equal(c.seconds, 600 / 1e9);
  });

  test('calls still open at the end are timed up to it: own less the open callee, a recursion counted once in TOTAL', () => {
    // Thread 7: A (start 100) calls B (start 400, 50 ns in finished callees), which calls A again (start 700). The end is at 1000.
    const c = counts([
      printf('E 1000'),
      map('@calls', { '16': 2, '32': 1 }),
      map('@st_code', { '7,1': 16, '7,2': 32, '7,3': 16 }),
      map('@st_start', { '7,1': 100, '7,2': 400, '7,3': 700 }),
      map('@st_child', { '7,1': 0, '7,2': 50, '7,3': 0 }),
    ]);
    assert.equal(c.openCalls, 3);
    // Counted as they end, open ones added. A: own (1000-100) - (1000-400) + (1000-700) = 300 + 300; total 900 (the outer call only).
    assert.deepEqual(c.codes.get(16n), { calls: 4, ownNs: 600n, totalNs: 900n });
    // B: (1000-400) - 50 - (1000-700) = 250; total 600.
    assert.deepEqual(c.codes.get(32n), { calls: 2, ownNs: 250n, totalNs: 600n });
  });

  test('calls begun after mixprof asked bpftrace to stop are left out; the others are timed up to that moment', () => {
    const builder = new TraceCountsBuilder();
    for (const line of [
      printf('E 1000'),
      map('@calls', { '16': 5 }),
      // Thread 7: A from 100, then (after the stop at 600, while the probes were detached) B from 700 and C from 800, whose ends went unseen.
      map('@st_code', { '7,1': 16, '7,2': 32, '7,3': 48 }),
      map('@st_start', { '7,1': 100, '7,2': 700, '7,3': 800 }),
      map('@st_child', { '7,1': 0, '7,2': 0, '7,3': 0 }),
    ]) {
      const record = parseTraceLine(line);
      if (record) builder.apply(record);
    }
    const c = builder.counts(600n);
    assert.equal(c.openCalls, 1);
    assert.deepEqual(c.codes.get(16n), { calls: 6, ownNs: 500n, totalNs: 500n });
    assert.equal(c.codes.get(32n), undefined);
    assert.equal(c.codes.get(48n), undefined);
  });

  test('each thread is closed on its own', () => {
    const seen = new Map<bigint, CodeCounts>();
    const entry = (code: bigint): CodeCounts => seen.get(code) ?? (seen.set(code, { calls: 0, ownNs: 0n, totalNs: 0n }), seen.get(code)!);
    closeOpenCalls(
      new Map([
        [1n, [{ depth: 1, code: 16n, startNs: 0n, childNs: 0n }]],
        [2n, [{ depth: 1, code: 16n, startNs: 500n, childNs: 0n }]],
      ]),
      1000n,
      entry,
    );
    // Two threads in the same function: both totals count.
    assert.deepEqual(seen.get(16n), { calls: 2, ownNs: 1500n, totalNs: 1500n });
  });

  test('collections per generation and imports per module', () => {
    const c = counts([printf('E 1'), map('@gc_count', { '0': 10, '2': 1 }), map('@gc_ns', { '0': 1000, '2': 5000 }), map('@gc_max', { '0': 300, '2': 5000 }), map('@gc_collected', { '0': 40, '2': 0 }), map('@imp_count', { json: 1 }), map('@imp_ns', { json: 7000 })]);
    assert.deepEqual(c.gc, [
      { generation: 0, pauses: 10, totalNs: 1000n, longestNs: 300n, collected: 40n },
      { generation: 2, pauses: 1, totalNs: 5000n, longestNs: 5000n, collected: 0n },
    ]);
    assert.deepEqual(c.imports, [{ module: 'json', imports: 1, ns: 7000n }]);
  });

  test('without END\'s output the counts are not complete', () => {
    const builder = new TraceCountsBuilder();
    builder.apply({ type: 'map', name: '@calls', entries: new Map([['16', 1n]]) });
    assert.equal(builder.complete, false);
  });
});

describe('functions named and merged', () => {
  const packages = new Set(['/srv/app/myapp', '/srv/app/myapp/api']);
  const isPackage = (dir: string): boolean => packages.has(dir);

  test('the module of a file: packages around it, site-packages, the standard library, frozen and string code', () => {
    assert.equal(moduleOf('/srv/app/myapp/api/views.py', isPackage), 'myapp.api.views');
    assert.equal(moduleOf('/srv/app/myapp/__init__.py', isPackage), 'myapp');
    assert.equal(moduleOf('/srv/app/run.py', isPackage), 'run');
    assert.equal(moduleOf('/usr/lib/python3/dist-packages/requests/sessions.py', isPackage), 'requests.sessions');
    assert.equal(moduleOf('/venv/lib/python3.11/site-packages/numpy/core/__init__.py', isPackage), 'numpy.core');
    assert.equal(moduleOf('/usr/lib/python3.11/asyncio/tasks.py', isPackage), 'asyncio.tasks');
    assert.equal(moduleOf('<frozen importlib._bootstrap>', isPackage), 'importlib._bootstrap');
    assert.equal(moduleOf('<string>', isPackage), '<string>');
  });

  const names = new Map<bigint, FunctionName>([
    [16n, { qualname: 'Handler.get', filename: '/srv/app/myapp/api/views.py', firstLineNo: 10 }],
    // The same function from a second code object (a module imported twice).
    [32n, { qualname: 'Handler.get', filename: '/srv/app/myapp/api/views.py', firstLineNo: 10 }],
    [48n, { qualname: 'loads', filename: '/usr/lib/python3.11/json/__init__.py', firstLineNo: 299 }],
  ]);
  const codes = new Map<bigint, CodeCounts>([
    [16n, { calls: 2, ownNs: 100n, totalNs: 400n }],
    [32n, { calls: 3, ownNs: 50n, totalNs: 60n }],
    [48n, { calls: 9, ownNs: 900n, totalNs: 900n }],
    [64n, { calls: 1, ownNs: 1n, totalNs: 1n }],
    [0n, { calls: 4, ownNs: 4n, totalNs: 4n }],
  ]);

  test('rows by module.qualname, file and line: code objects of one function added, unnamed ones left out, most own time first', () => {
    const rows = functionRows(codes, (c) => names.get(c) ?? null, { isPackage, match: null });
    assert.deepEqual(
      rows.map((r) => [r.function, r.calls, r.ownNs, r.totalNs, r.line]),
      [
        ['json.loads', 9, 900n, 900n, 299],
        ['myapp.api.views.Handler.get', 5, 150n, 460n, 10],
      ],
    );
    assert.deepEqual(
      sortRows(rows, 'calls').map((r) => r.function),
      ['json.loads', 'myapp.api.views.Handler.get'],
    );
  });

  test('--match keeps the functions whose module.qualname it matches', () => {
    const rows = functionRows(codes, (c) => names.get(c) ?? null, { isPackage, match: /^myapp\./ });
    assert.deepEqual(
      rows.map((r) => r.function),
      ['myapp.api.views.Handler.get'],
    );
  });
});

describe('the report', () => {
  const report: TraceReport = {
    pid: 42,
    comm: 'python3.11',
    cwd: '/srv',
    python: '3.11.2',
    seconds: 2.5,
    traced: { functions: true, entryNeedsLine: true, gc: true, imports: true },
    functions: [{ function: 'app.work', module: 'app', qualname: 'work', file: '/srv/app.py', line: 3, calls: 4, ownNs: 4_000_000n, totalNs: 8_000_000n }],
    functionCount: 3,
    matched: true,
    calls: 4,
    unattributedCalls: 0,
    unnamedCalls: 0,
    deeperCalls: 0,
    openCalls: 1,
    gc: [{ generation: 2, pauses: 1, totalNs: 1_500_000n, longestNs: 1_500_000n, collected: 3n }],
    imports: [{ module: 'json', imports: 1, ns: 2_000_000n }],
  };

  test('durations in three significant digits', () => {
    assert.equal(formatDuration(1_234_567_890n), '1.23 s');
    assert.equal(formatDuration(45_600_000), '45.6 ms');
    assert.equal(formatDuration(789_000), '789 µs');
    assert.equal(formatDuration(12), '12 ns');
  });

  test('the table: per-call means, the open calls, collections and imports', () => {
    const lines = traceTable(report, { sort: 'own', limit: 10, output: null });
    assert.match(lines[0]!, /traced process 42 \(python3\.11, Python 3\.11\.2\) for 2\.5 s: 4 calls of 3 functions, 1 of them matching --match/);
    assert.match(lines.find((l) => l.includes('app.work'))!, /^\s*4\s+4\.00 ms\s+1\.00 ms\s+8\.00 ms\s+2\.00 ms\s+app\.work \(app\.py:3\)$/);
    assert.ok(lines.some((l) => /1 calls still running at the end/.test(l)));
    assert.ok(lines.some((l) => /^\s*2\s+1\s+1\.50 ms\s+1\.50 ms\s+3$/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /2\.00 ms\s+json$/.test(l)));
  });

  test('the JSON: the issue\'s fields, in nanoseconds', () => {
    const json = JSON.parse(traceJson(report)) as { functions: Record<string, unknown>[]; gc: Record<string, unknown>[]; imports: Record<string, unknown>[] };
    assert.deepEqual(json.functions[0], { function: 'app.work', module: 'app', qualname: 'work', file: '/srv/app.py', line: 3, calls: 4, own_ns: 4_000_000, total_ns: 8_000_000 });
    assert.deepEqual(json.gc[0], { generation: 2, pauses: 1, total_ns: 1_500_000, longest_ns: 1_500_000, collected: 3 });
    assert.deepEqual(json.imports[0], { module: 'json', imports: 1, ns: 2_000_000 });
  });
});

describe('which probes an interpreter offers', () => {
  const all = new Set(['function__entry', 'function__return', 'gc__start', 'gc__done', 'import__find__load__start', 'import__find__load__done', 'line']);

  test("3.11's calls need its line probe; 3.15's do not; 3.12-3.14 have none", () => {
    assert.deepEqual(probeGroups(all, 11), { functions: true, entryNeedsLine: true, gc: true, imports: true });
    const noLine = new Set([...all].filter((n) => n !== 'line'));
    assert.deepEqual(probeGroups(noLine, 11), { functions: false, entryNeedsLine: false, gc: true, imports: true });
    assert.deepEqual(probeGroups(noLine, 15), { functions: true, entryNeedsLine: false, gc: true, imports: true });
    const noCalls = new Set(['gc__start', 'gc__done', 'import__find__load__start', 'import__find__load__done']);
    assert.deepEqual(probeGroups(noCalls, 14), { functions: false, entryNeedsLine: false, gc: true, imports: true });
    assert.deepEqual(probeGroups(new Set(), 11), { functions: false, entryNeedsLine: false, gc: false, imports: false });
  });
});

describe('templates: parts and sections', () => {
  test('sections are kept or dropped, nested ones decided in turn; a section without a true or false value is refused', () => {
    const text = 'a {{#X}}x {{#Y}}y {{/Y}}{{/X}}{{#Z}}z{{/Z}}b {{N}}';
    assert.equal(renderTemplate(text, { X: true, Y: false, Z: false, N: 3 }), 'a x b 3');
    assert.equal(renderTemplate(text, { X: true, Y: true, Z: true, N: 3 }), 'a x y zb 3');
    assert.throws(() => renderTemplate(text, { X: 1, Y: true, Z: true, N: 3 }), /section \{\{#X\}\} needs a true or false value/);
  });

  test('a probe file is a plain absolute path or nothing: no quote, space, brace, colon or .. step gets into a program', () => {
    for (const good of ['/proc/42/exe', '/opt/py/usr/bin/python3.11', '/usr/lib/libpython3.11.so.1.0', '/a/b+c/d-e_f']) assert.ok(isPlainPath(good), good);
    for (const bad of ['', 'relative/python', '/opt/my python/bin', '/x"}; system("id")', '/a/../etc/passwd', '/a:b', '/a{b}', '/a\nb', '/', '//x']) {
      assert.ok(!isPlainPath(bad), bad);
      assert.throws(() => renderTemplate('usdt:{{F}}:p:n {}', { F: { path: bad } }), /must be a plain absolute path/);
    }
  });

  test("the sampler's program includes the thread state part", () => {
    const sampler = loadTemplate('python-sampler.bt');
    assert.doesNotMatch(sampler, /\{\{>/);
    assert.match(sampler, /The PyThreadState of this thread/);
  });

  const images = readdirSync(path.join(REPO, 'test', 'fixtures', 'walk-images')).filter((f) => f.endsWith('.json'));
  test('the tracing program renders for every layout the walk images hold, with only the probes the interpreter has', () => {
    assert.ok(images.length > 0);
    for (const file of images) {
      const image = JSON.parse(readFileSync(path.join(REPO, 'test', 'fixtures', 'walk-images', file), 'utf8')) as WalkImageFile;
      const layout = layoutFromJson(image.layout);
      const calls = traceProgram(layout, 0x1000n, { functions: true, entryNeedsLine: layout.version.minor === 11, gc: true, imports: true }, { path: '/proc/42/exe' });
      assert.match(calls, /usdt:\/proc\/42\/exe:python:function__entry/, file);
      assert.match(calls, /^interval:s:1$/m, file);
      assert.equal(/^usdt:.*:python:line$/m.test(calls), layout.version.minor === 11, file);
      assert.doesNotMatch(calls, /\{\{/, file);
      const gcOnly = traceProgram(layout, 0x1000n, { functions: false, entryNeedsLine: false, gc: true, imports: false }, { path: '/opt/py/usr/bin/python3.11' });
      assert.doesNotMatch(gcOnly, /^usdt:.*:python:(function__|import__)|@st_code/m, file);
      assert.match(gcOnly, /^usdt:\/opt\/py\/usr\/bin\/python3\.11:python:gc__start$/m, file);
    }
    assert.match(loadTemplate(TRACE_TEMPLATE), /\{\{>current-frame\.part\.bt\}\}|The PyThreadState of this thread/);
  });
});
