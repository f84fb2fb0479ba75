/**
 * mixprof sample against real multi-threaded CPython processes whose threads
 * sit in known call chains (test/workloads/chains.py), on every supported
 * version and kind of build: pyenv's (shared libpython, DWARF inside),
 * Debian's 3.11 (static, stripped; with its debug file, and with none) and
 * Debian sid's 3.13, 3.14 and 3.15 (static, stripped, no debug info). Builds
 * without frame pointers are unwound with DWARF CFI (the default there), and
 * some also with frame pointers; frame-pointer builds both ways.
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChainsReady } from '../helpers/chains.js';
import { parseFolded, pythonNames, threadOf, type FoldedStack } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { tidsByNamespaceTid } from '../helpers/namespaces.js';
import { sampleForCpu, startContainerWorkload, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, systemPython, testBpftrace, type TestPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';


const MIN_EXACT = 0.95;
/** Samples with the whole chain, where the rest are in a caller between calls. */
const MIN_WHOLE = 0.9;
const MIN_SAMPLES_PER_CHAIN = 20;
/** CPU time of the target to sample for: about 100 samples of each chain at 199 Hz. */
const CPU_SECONDS = 8;

interface Case {
  /** Major.minor the report must name. */
  readonly version: string;
  /** Where the offsets must come from. */
  readonly source: RegExp;
  /** Pass the interpreter's debug file with -d. */
  readonly withDebugFile?: boolean;
  /** How to start it: directly, in a chroot with its own mount and PID namespaces, or through the dynamic loader. */
  readonly launch?: 'direct' | 'container' | 'loader';
  /** A build with frame pointers: native frames must sit between Python frames. */
  readonly framePointers?: boolean;
  /** --unwind; by default auto, which picks fp for frame-pointer builds, dwarf for the rest. */
  readonly unwind?: 'fp' | 'dwarf';
  /** The interpreter's own functions have names (symbols or a debug file): pyexpat's and sorted()'s frames can be told apart. */
  readonly interpreterSymbols?: boolean;
  /**
   * Stripped, without its debug file (sid's LTO builds): the interpreter's own
   * functions have no names, and most of the eval loop sits in an unnamed
   * split-off part. Sampled with --no-hide, so the unnamed C frames between
   * Python frames can be seen.
   */
  readonly stripped?: boolean;
  /** A free-threaded build: the chains' threads run with the GIL disabled. */
  readonly freeThreaded?: boolean;
  /** --offsets-from. */
  readonly offsetsFrom?: 'debug-offsets' | 'dwarf' | 'table';
  /** Another Debian release's bpftrace (a test/fixtures/pythons.sh name) instead of the system's. */
  readonly bpftrace?: 'trixie-bpftrace' | 'sid-bpftrace';
}

interface Target {
  readonly pid: number;
  /** Kernel tid of each chain's thread. */
  readonly tids: Map<number, string>;
  readonly workload: Workload<ChainsReady>;
}

/** Kernel tids of a process's threads, keyed by the tid its own PID namespace gives them. */
async function startTarget(python: TestPython, launch: Case['launch']): Promise<Target> {
  const script = path.join(WORKLOADS, 'chains.py');
  const root = path.resolve(path.dirname(python.executable), '..', '..');
  if (launch === 'loader') {
    // /proc/PID/exe is then ld.so: the interpreter is found from the maps. The
    // pristine Debian binary (orig/) still names its interpreter /lib64/ld-linux.
    const lib = path.join(root, 'usr', 'lib', 'x86_64-linux-gnu');
    const exe = path.join(root, 'orig', path.basename(python.executable));
    const workload = await startWorkload<ChainsReady>(path.join(lib, 'ld-linux-x86-64.so.2'), ['--library-path', lib, exe, script], 60_000, {
      PYTHONHOME: path.join(root, 'usr'),
    });
    return { pid: workload.pid, workload, tids: new Map(Object.entries(workload.ready.chains).map(([name, c]) => [c.tid, name])) };
  }
  if (launch !== 'container') {
    const workload = await startWorkload<ChainsReady>(python.executable, [script]);
    return { pid: workload.pid, workload, tids: new Map(Object.entries(workload.ready.chains).map(([name, c]) => [c.tid, name])) };
  }
  const { pid, workload } = await startContainerWorkload<ChainsReady>(root, script);
  const kernelTid = await tidsByNamespaceTid(pid);
  const tids = new Map(Object.entries(workload.ready.chains).map(([name, c]) => [kernelTid.get(c.tid) ?? -1, name]));
  return { pid, workload, tids };
}

function describeInterpreter(load: () => TestPython | Promise<TestPython>, expected: Case): void {
  let python: TestPython;
  let target: Target;
  let workload: Workload<ChainsReady>;
  let stacks: FoldedStack[];
  let stderr: string;
  let dir: string;
  const byChain = new Map<string, FoldedStack[]>();

  before(async () => {
    assertRoot();
    python = await load();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-test-'));
    target = await startTarget(python, expected.launch);
    workload = target.workload;
    const out = path.join(dir, 'out.folded');
    const args = ['sample', '-x', String(target.pid), '-F', '199', '--threads', '--mark-python', '-o', out];
    if (expected.withDebugFile) {
      assert.ok(python.debugFile, `${python.name} has no debug file`);
      args.push('-d', python.debugFile);
    }
    if (expected.unwind) args.push('--unwind', expected.unwind);
    if (expected.stripped) args.push('--no-hide');
    if (expected.offsetsFrom) args.push('--offsets-from', expected.offsetsFrom);
    // Until the target has used 8 s of CPU (about 4 s idle): each chain's thread gets its part of it, loaded or idle.
    const env: Record<string, string> = expected.bpftrace ? { MIXPROF_BPFTRACE: await testBpftrace(expected.bpftrace) } : {};
    const result = await sampleForCpu(args, target.pid, CPU_SECONDS, 120_000, env);
    stderr = result.stderr;
    assert.equal(result.exitCode, 0, `mixprof failed: ${result.stderr}`);
    stacks = parseFolded(await readFile(out, 'utf8'));
    for (const stack of stacks) {
      const name = target.tids.get(threadOf(stack.frames) ?? -1);
      if (name) byChain.set(name, [...(byChain.get(name) ?? []), stack]);
    }
  });
  after(async () => {
    await workload?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const total = (list: readonly FoldedStack[]): number => list.reduce((n, s) => n + s.count, 0);

  test('reports the interpreter, offsets source and sample statistics', () => {
    const flavour = expected.freeThreaded ? ' \\(free-threaded\\)' : '';
    assert.match(stderr, new RegExp(`Python ${expected.version.replace('.', '\\.')}(\\.\\d+)?${flavour} in \\S+; offsets from `));
    assert.match(stderr, expected.source);
    assert.match(stderr, /mixprof: \d+ samples at 199 Hz .* lost events: 0/);
    assert.match(stderr, /with Python frames: \d/);
    // Every chain's thread runs all the time: none may go unsampled.
    assert.doesNotMatch(stderr, /sampler missed/);
  });

  const unwind = expected.unwind ?? 'dwarf';

  test(`native stacks are unwound with ${unwind === 'fp' ? 'frame pointers' : 'DWARF CFI'}`, () => {
    assert.match(stderr, unwind === 'fp' ? /native stacks unwound with frame pointers/ : /native stacks unwound with DWARF call frame information/);
  });

  for (const chain of ['nested', 'method', 'closure', 'generator', 'recursion', 'unicode', 'callback', 'zlib', 'read', 'expat']) {
    test(`${chain}: at least 95% of samples have the expected Python frames (at least 90% exactly, the rest caught in a caller between calls)`, (t) => {
      const expected = workload.ready.chains[chain]!.stack;
      const samples = byChain.get(chain) ?? [];
      const n = total(samples);
      assert.ok(n >= MIN_SAMPLES_PER_CHAIN, `only ${n} samples for ${chain}`);
      const isExact = (s: FoldedStack): boolean => JSON.stringify(pythonNames(s.frames)) === JSON.stringify(expected);
      // A chain that calls back (sorted's key, expat's handler, a generator) is in its driver between calls: the chain's first frames, right.
      const isCaller = (s: FoldedStack): boolean => {
        const names = pythonNames(s.frames);
        return names.length > 0 && names.length < expected.length && names.every((name, i) => name === expected[i]);
      };
      const exact = total(samples.filter(isExact));
      const right = exact + total(samples.filter(isCaller));
      const wrong = samples.filter((s) => !isExact(s) && !isCaller(s));
      t.diagnostic(`${python.name} ${chain}: ${exact}/${n} samples exact (${((100 * exact) / n).toFixed(1)}%), ${right - exact} in a caller, ${n - right} other${wrong.length ? `: ${wrong.slice(0, 2).map((s) => pythonNames(s.frames).slice(-3).join(';')).join(' | ')}` : ''}`);
      const show = wrong.slice(0, 3).map((s) => s.frames.join(';')).join('\n');
      assert.ok(right / n >= MIN_EXACT, `${chain}: ${right}/${n} right; expected ${expected.join(';')}; e.g. ${show}`);
      assert.ok(exact / n >= MIN_WHOLE, `${chain}: ${exact}/${n} exact; expected ${expected.join(';')}; e.g. ${show}`);
    });
  }

  if (expected.freeThreaded) {
    test('the chains ran with the GIL disabled, their threads in parallel', () => {
      assert.equal(workload.ready.gil_enabled, false);
    });
  }

  test('the recursion chain is deeper than 90 Python frames', () => {
    assert.ok(workload.ready.chains['recursion']!.stack.length > 90);
  });

  test('non-ASCII function names come out intact', () => {
    const names = (byChain.get('unicode') ?? []).flatMap((s) => pythonNames(s.frames));
    assert.ok(names.includes('计算') && names.includes('größe_berechnen'), names.slice(0, 10).join(','));
  });

  test('Python frames carry file and the line being run', async () => {
    // nested_inner spins in a two-line loop: every sample is on one of them.
    const source = (await readFile(path.join(WORKLOADS, 'chains.py'), 'utf8')).split('\n');
    const def = source.findIndex((l) => l.startsWith('def nested_inner'));
    const loop = source.findIndex((l, i) => i > def && l.includes('while True:')) + 1;
    const samples = byChain.get('nested') ?? [];
    const onLoop = samples.filter((s) => {
      const leaf = s.frames.filter((f) => f.endsWith('_[j]')).at(-1) ?? '';
      const m = /^nested_inner \(.*chains\.py:(\d+)\)_\[j\]$/.exec(leaf);
      return m !== null && (Number(m[1]) === loop || Number(m[1]) === loop + 1);
    });
    assert.ok(total(onLoop) / total(samples) >= MIN_EXACT, `${total(onLoop)}/${total(samples)} on lines ${loop}-${loop + 1}: ${samples[0]?.frames.at(-1)}`);
  });

  // zlib.compress spends its time in libz, which calls libc (memmove and the
  // like, whichever variant the CPU picks) and takes page faults: the leaf can
  // be any of those. What is asserted is that the C work under the Python
  // caller is there, and (where the unwind goes past the leaf) that it runs
  // inside libz or the zlib module.
  const nativeTail = (s: FoldedStack): string[] => {
    const lastPython = s.frames.findLastIndex((f) => f.endsWith('_[j]'));
    return s.frames.slice(lastPython + 1).filter((f) => !f.endsWith('_[k]'));
  };
  const ZLIB = /deflate|longest_match|fill_window|compress|crc32|adler32|libz|zlib/i;
  const zlibSummary = (samples: readonly FoldedStack[]): string => samples.slice(0, 3).map((s) => s.frames.slice(-4).join(';')).join(' | ');

  if (unwind === 'dwarf') {
    test('the zlib chain has native frames from libz or the zlib module under its Python caller', () => {
      const samples = byChain.get('zlib') ?? [];
      // A stripped interpreter's built-in zlib module has no names: its frames are the interpreter's by offset.
      const zlibFrame = (f: string): boolean => ZLIB.test(f) || (expected.stripped === true && /^\[python3\.\d+t?\+0x[0-9a-f]+\]$/.test(f));
      const inZlib = samples.filter((s) => nativeTail(s).some(zlibFrame));
      const outside = samples.filter((s) => !inZlib.includes(s));
      assert.ok(total(inZlib) / total(samples) >= 0.8, `${total(inZlib)}/${total(samples)}; e.g. ${zlibSummary(outside)}`);
    });
  } else {
    test('the zlib chain ends in native frames under its Python caller, many of them in libz', () => {
      // A frame-pointer unwind of libz (built without them) stops at the leaf: the leaf is libz's or what libz called.
      const samples = byChain.get('zlib') ?? [];
      const native = samples.filter((s) => nativeTail(s).length > 0);
      const outside = samples.filter((s) => !native.includes(s));
      assert.ok(total(native) / total(samples) >= 0.8, `${total(native)}/${total(samples)} with a native leaf; e.g. ${zlibSummary(outside)}`);
      // Compressing is mostly libz's own code (about three quarters of the leaves measured); a quarter leaves room for any CPU's libc routines.
      const inZlib = native.filter((s) => nativeTail(s).some((f) => ZLIB.test(f)));
      assert.ok(total(inZlib) / total(samples) >= 0.25, `${total(inZlib)}/${total(samples)} leaves in libz or the zlib module: ${zlibSummary(native)}`);
    });
  }

  if (unwind === 'fp' && expected.framePointers) {
    test("at least 90% of the pure-Python chains' samples reach the thread's first function through frame pointers", (t) => {
      // Their leaves are the interpreter's own code, built with frame pointers; one caught before its
      // frame is set up gets its caller from its stack slot. (Leaves in libc, libz or libexpat, built
      // without, end the walk: the zlib, read and expat chains are left out, and so are samples caught
      // in libc, waiting for the GIL or handing it over, of which a busy machine brings many more.)
      const userLeaf = (s: FoldedStack): string => s.frames.filter((f) => !f.endsWith('_[k]')).at(-1) ?? '';
      const inLibc = (s: FoldedStack): boolean => /^\[libc\.so\.6\+0x|^_*(futex|lll_|pthread_|sem_|syscall|clock_nanosleep|nanosleep)/.test(userLeaf(s));
      const busy = ['nested', 'method', 'closure', 'generator', 'recursion', 'unicode', 'callback'].flatMap((c) => byChain.get(c) ?? []).filter((s) => !inLibc(s));
      assert.ok(total(busy) >= 100, `${total(busy)} pure-Python samples with their leaf outside libc`);
      const rooted = busy.filter((s) => /^(__clone3|clone3|__clone|clone|start_thread)$|^\[libc\.so\.6\+0x/.test(s.frames[1] ?? ''));
      t.diagnostic(`${python.name}: ${total(rooted)}/${total(busy)} pure-Python samples reach the thread's start`);
      assert.ok(total(rooted) / total(busy) >= 0.9, `${total(rooted)}/${total(busy)}: ${busy.filter((s) => !rooted.includes(s)).slice(0, 3).map((s) => s.frames.join(';')).join('\n')}`);
    });
  }

  if (expected.stripped) {
    test("the eval loop's unnamed split-off part is found: no warning about a missing eval-loop symbol", () => {
      assert.doesNotMatch(stderr, /eval loop has no symbol/);
    });
  }

  if (unwind === 'dwarf') {
    test("at least 95% of the CPU-bound threads' samples reach the thread's first function", (t) => {
      const busy = ['nested', 'method', 'closure', 'generator', 'recursion', 'unicode', 'callback', 'zlib', 'expat'].flatMap((c) => byChain.get(c) ?? []);
      // frames[0] is the --threads root; the native root follows.
      // A libc without symbols (sid's) names its clone3 by offset.
      const rooted = busy.filter((s) => /^(__clone3|clone3|__clone|clone|start_thread)$|^\[libc\.so\.6\+0x/.test(s.frames[1] ?? ''));
      const roots = new Map<string, number>();
      for (const s of busy) roots.set(s.frames[1] ?? '', (roots.get(s.frames[1] ?? '') ?? 0) + s.count);
      t.diagnostic(`${python.name}: ${total(rooted)}/${total(busy)} samples reach the thread's start; roots: ${[...roots].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([r, n]) => `${r} ${n}`).join(', ')}`);
      assert.ok(total(rooted) / total(busy) >= MIN_EXACT, `${total(rooted)}/${total(busy)}`);
      assert.match(stderr, /native stack complete: (9\d|100)\./);
    });

  }

  if (unwind === 'dwarf') {
    test('a C-extension sandwich comes out whole: libexpat and pyexpat between the Python caller and its handler', (t) => {
      const samples = (byChain.get('expat') ?? []).filter((s) => pythonNames(s.frames).at(-1) === 'expat_handler');
      const sandwiched = samples.filter((s) => {
        const caller = s.frames.findIndex((f) => f.startsWith('expat_driver ('));
        const handler = s.frames.findIndex((f) => f.startsWith('expat_handler ('));
        const between = s.frames.slice(caller + 1, handler);
        // pyenv's pyexpat has expat built in, its functions renamed PyExpat_XML_*.
        const libexpat = between.some((f) => /XML_|libexpat|doContent|doProlog|contentProcessor/.test(f));
        const pyexpat = between.some((f) => /pyexpat|xmlparse_Parse|StartElementHandler|call_with_frame/.test(f));
        return caller >= 0 && libexpat && (pyexpat || !expected.interpreterSymbols);
      });
      t.diagnostic(`${python.name}: ${total(sandwiched)}/${total(samples)} handler samples show the C frames between; e.g. ${samples[0]?.frames.slice(-8).join(';')}`);
      assert.ok(total(sandwiched) / total(samples) >= 0.8, `${total(sandwiched)}/${total(samples)}: ${samples.slice(0, 2).map((s) => s.frames.join(';')).join('\n')}`);
    });
  }

  if (expected.framePointers || (unwind === 'dwarf' && (expected.interpreterSymbols || expected.stripped))) {
    test('native frames sit between Python frames: sorted() between the caller and its key function', (t) => {
      const samples = (byChain.get('callback') ?? []).filter((s) => pythonNames(s.frames).at(-1) === 'sort_key');
      // Where the native unwind reached the thread's start (a native root frame
      // under the thread frame), the C frames of sorted() must be in place.
      const rooted = samples.filter((s) => !s.frames[1]!.endsWith('_[j]'));
      const between = rooted.filter((s) => {
        const caller = s.frames.findIndex((f) => f.startsWith('sort_driver ('));
        const key = s.frames.findIndex((f) => f.startsWith('sort_key ('));
        const between = s.frames.slice(caller + 1, key);
        // Without names, the interpreter's C frames are there by address (kept by --no-hide).
        return caller >= 0 && between.some((f) => (expected.stripped ? !f.endsWith('_[j]') && !f.endsWith('_[k]') : /^(builtin_sorted|list_sort)/.test(f)));
      });
      t.diagnostic(`${total(rooted)}/${total(samples)} key-function samples unwound to the thread's start; ${total(between)} of those show sorted()'s C frames in between`);
      // A frame-pointer unwind stops at a leaf without one; CFI goes through.
      assert.ok(total(rooted) / total(samples) >= (unwind === 'dwarf' ? MIN_EXACT : 0.25), `only ${total(rooted)}/${total(samples)} unwound to the thread's start`);
      assert.ok(total(between) / total(rooted) >= MIN_EXACT, `${total(between)}/${total(rooted)}`);
    });

    test('no sample has eval-loop frames that disagree with its Python frames', () => {
      // A sample caught while a call is being set up can disagree; a handful in a thousand.
      const disagree = Number(/(\d+) samples? where native eval-loop frames and Python frames disagree/.exec(stderr)?.[1] ?? 0);
      const samples = Number(/mixprof: (\d+) samples/.exec(stderr)?.[1]);
      assert.ok(disagree / samples <= 0.01, stderr);
      assert.match(stderr, /native stack complete: [1-9]/);
    });
  }

  test('the os.read chain shows kernel frames', () => {
    const samples = byChain.get('read') ?? [];
    const kernel = samples.filter((s) => s.frames.at(-1)!.endsWith('_[k]'));
    assert.ok(total(kernel) / total(samples) >= 0.5, `${total(kernel)}/${total(samples)} with kernel frames`);
    assert.ok(kernel.some((s) => s.frames.some((f) => /read/.test(f) && f.endsWith('_[k]'))));
  });
}

const DWARF = /offsets from DWARF in /;
const DEBUG_OFFSETS = /offsets from the interpreter's _Py_DebugOffsets/;
const TABLE = /offsets from the built-in table for 3\.11/;

const PYENV = [
  ['3.8.18', '3.8', DWARF],
  ['3.9.18', '3.9', DWARF],
  ['3.10.13', '3.10', DWARF],
  ['3.11.7', '3.11', DWARF],
  ['3.12.1', '3.12', DWARF],
  ['3.13.0', '3.13', DEBUG_OFFSETS],
] as const;

for (const [version, minor, source] of PYENV) {
  describe(`pyenv CPython ${version} (shared libpython, DWARF inside)`, () => describeInterpreter(() => pyenvPython(version), { version: minor, source, interpreterSymbols: true }));
}
// The frame-pointer sampler walks Python frames in bpftrace, the DWARF one in
// C: both walks run over every version and kind of build.
for (const [version, minor, source] of PYENV) {
  describe(`pyenv CPython ${version} unwound with frame pointers (stops at the leaf)`, () => describeInterpreter(() => pyenvPython(version), { version: minor, source, unwind: 'fp' }));
}
describe("Debian's CPython 3.11 in a container, unwound with frame pointers", () =>
  describeInterpreter(() => debianPython('debian-3.11'), { version: '3.11', source: TABLE, launch: 'container', unwind: 'fp' }));
describe("Debian sid's CPython 3.14 (no debug info) unwound with frame pointers", () =>
  describeInterpreter(() => debianPython('sid-3.14'), { version: '3.14', source: DEBUG_OFFSETS, unwind: 'fp' }));
describe("Debian's CPython 3.11 (static, stripped, debug file with -d)", () =>
  describeInterpreter(() => debianPython('debian-3.11'), { version: '3.11', source: DWARF, withDebugFile: true, interpreterSymbols: true }));
describe("Debian's CPython 3.11 with no debug info", () => describeInterpreter(() => debianPython('debian-3.11'), { version: '3.11', source: TABLE }));
describe("this system's /usr/bin/python3.11 (Debian 12's)", () =>
  describeInterpreter(() => systemPython('/usr/bin/python3.11'), { version: '3.11', source: /offsets from (the built-in table for 3\.11|DWARF in )/ }));
describe("Debian sid's CPython 3.13 (static, stripped, no debug info)", () =>
  describeInterpreter(() => debianPython('sid-3.13'), { version: '3.13', source: DEBUG_OFFSETS, stripped: true }));
describe("Debian's CPython 3.11 in a container (chroot, own mount and PID namespaces, no debug info)", () =>
  describeInterpreter(() => debianPython('debian-3.11'), { version: '3.11', source: TABLE, launch: 'container' }));
describe("Debian sid's CPython 3.13 started through the dynamic loader", () =>
  describeInterpreter(() => debianPython('sid-3.13'), { version: '3.13', source: DEBUG_OFFSETS, launch: 'loader', stripped: true }));
describe("Debian sid's CPython 3.13 debug build (frame pointers)", () =>
  describeInterpreter(() => debianPython('sid-3.13d'), { version: '3.13', source: DEBUG_OFFSETS, framePointers: true, interpreterSymbols: true }));
describe("Debian sid's CPython 3.14 debug build (frame pointers)", () =>
  describeInterpreter(() => debianPython('sid-3.14d'), { version: '3.14', source: DEBUG_OFFSETS, framePointers: true, interpreterSymbols: true }));
describe("Debian sid's CPython 3.14 debug build (frame pointers) unwound with frame pointers", () =>
  describeInterpreter(() => debianPython('sid-3.14d'), { version: '3.14', source: DEBUG_OFFSETS, framePointers: true, unwind: 'fp', interpreterSymbols: true }));
describe("Debian sid's CPython 3.14 (static, stripped, no debug info)", () =>
  describeInterpreter(() => debianPython('sid-3.14'), { version: '3.14', source: DEBUG_OFFSETS, stripped: true }));
describe("Debian sid's CPython 3.14 with python3.14-dbg's debug file (-d)", () =>
  describeInterpreter(() => debianPython('sid-3.14-dbg'), { version: '3.14', source: DEBUG_OFFSETS, withDebugFile: true, interpreterSymbols: true }));
describe("Debian sid's CPython 3.15 (static, stripped, frame pointers, no debug info)", () =>
  describeInterpreter(() => debianPython('sid-3.15'), { version: '3.15', source: DEBUG_OFFSETS, framePointers: true, stripped: true }));
describe("Debian sid's CPython 3.15 (static, stripped, frame pointers, no debug info) unwound with frame pointers", () =>
  describeInterpreter(() => debianPython('sid-3.15'), { version: '3.15', source: DEBUG_OFFSETS, framePointers: true, unwind: 'fp', stripped: true }));
describe("Debian sid's CPython 3.15 with python3.15-dbg's debug file (-d)", () =>
  describeInterpreter(() => debianPython('sid-3.15-dbg'), { version: '3.15', source: DEBUG_OFFSETS, withDebugFile: true, framePointers: true, interpreterSymbols: true }));
describe("Debian sid's CPython 3.15 with python3.15-dbg's debug file (-d) unwound with frame pointers", () =>
  describeInterpreter(() => debianPython('sid-3.15-dbg'), { version: '3.15', source: DEBUG_OFFSETS, withDebugFile: true, framePointers: true, unwind: 'fp', interpreterSymbols: true }));
describe('free-threaded CPython 3.13t (built from trixie\'s source; shared libpython, DWARF inside)', () =>
  describeInterpreter(() => debianPython('trixie-3.13t'), { version: '3.13', source: DEBUG_OFFSETS, interpreterSymbols: true, freeThreaded: true }));
describe('free-threaded CPython 3.13t unwound with frame pointers (stops at the leaf)', () =>
  describeInterpreter(() => debianPython('trixie-3.13t'), { version: '3.13', source: DEBUG_OFFSETS, unwind: 'fp', interpreterSymbols: true, freeThreaded: true }));
describe('free-threaded CPython 3.13t with offsets from its DWARF', () =>
  describeInterpreter(() => debianPython('trixie-3.13t'), { version: '3.13', source: DWARF, offsetsFrom: 'dwarf', interpreterSymbols: true, freeThreaded: true }));
describe("Debian sid's CPython 3.15 debug build (frame pointers)", () =>
  describeInterpreter(() => debianPython('sid-3.15d'), { version: '3.15', source: DEBUG_OFFSETS, framePointers: true, interpreterSymbols: true }));
describe("Debian sid's CPython 3.15 debug build (frame pointers) unwound with frame pointers", () =>
  describeInterpreter(() => debianPython('sid-3.15d'), { version: '3.15', source: DEBUG_OFFSETS, framePointers: true, unwind: 'fp', interpreterSymbols: true }));
// The bpftrace walk under the bpftrace of Debian 13 (0.23) and sid (0.27), as
// well as the system's (0.17): threads found by pthread_t (3.10), through the
// cframe (3.11) and from _Py_DebugOffsets (3.15).
const BPFTRACES = [
  ['trixie-bpftrace', "Debian 13's bpftrace 0.23"],
  ['sid-bpftrace', "sid's bpftrace 0.27"],
] as const;
for (const [bpftrace, label] of BPFTRACES) {
  describe(`pyenv CPython 3.10.13 unwound with frame pointers, ${label}`, () =>
    describeInterpreter(() => pyenvPython('3.10.13'), { version: '3.10', source: DWARF, unwind: 'fp', bpftrace }));
  describe(`pyenv CPython 3.11.7 unwound with frame pointers, ${label}`, () =>
    describeInterpreter(() => pyenvPython('3.11.7'), { version: '3.11', source: DWARF, unwind: 'fp', bpftrace }));
  describe(`Debian sid's CPython 3.15 (static, stripped, frame pointers), ${label}`, () =>
    describeInterpreter(() => debianPython('sid-3.15'), { version: '3.15', source: DEBUG_OFFSETS, framePointers: true, unwind: 'fp', stripped: true, bpftrace }));
}
