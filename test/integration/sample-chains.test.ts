/**
 * mixprof sample against a real multi-threaded CPython 3.11 process whose
 * threads sit in known call chains (test/workloads/chains.py): pyenv's build
 * (shared libpython, DWARF inside) and Debian's (static, stripped, separate
 * debug file passed with -d).
 */
import assert from 'node:assert/strict';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseFolded, pythonNames, threadOf, type FoldedStack } from '../helpers/folded.js';
import { WORKLOADS } from '../helpers/paths.js';
import { runMixprof, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython, type TestPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

interface ChainsReady {
  chains: Record<string, { tid: number; stack: string[] }>;
}

const MIN_EXACT = 0.95;
const MIN_SAMPLES_PER_CHAIN = 20;

function describeInterpreter(load: () => TestPython | Promise<TestPython>): void {
  let python: TestPython;
  let workload: Workload<ChainsReady>;
  let stacks: FoldedStack[];
  let stderr: string;
  let dir: string;
  const byChain = new Map<string, FoldedStack[]>();

  before(async () => {
    assertRoot();
    python = await load();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-test-'));
    workload = await startWorkload<ChainsReady>(python.executable, [path.join(WORKLOADS, 'chains.py')]);
    const out = path.join(dir, 'out.folded');
    const args = ['sample', '-x', String(workload.pid), '-t', '6', '-F', '199', '--threads', '--mark-python', '-o', out];
    if (python.debugFile) args.push('-d', python.debugFile);
    const result = await runMixprof(args);
    stderr = result.stderr;
    assert.equal(result.exitCode, 0, `mixprof failed: ${result.stderr}`);
    stacks = parseFolded(await readFile(out, 'utf8'));
    const chainOfTid = new Map(Object.entries(workload.ready.chains).map(([name, c]) => [c.tid, name]));
    for (const stack of stacks) {
      const name = chainOfTid.get(threadOf(stack.frames) ?? -1);
      if (name) byChain.set(name, [...(byChain.get(name) ?? []), stack]);
    }
  });
  after(async () => {
    await workload?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const total = (list: readonly FoldedStack[]): number => list.reduce((n, s) => n + s.count, 0);

  test('reports the interpreter, offsets source and sample statistics', () => {
    assert.match(stderr, /Python 3\.11\.\d+ in \S+; offsets from DWARF in /);
    assert.match(stderr, /mixprof: \d+ samples at 199 Hz .* lost events: 0/);
    assert.match(stderr, /with Python frames: \d/);
  });

  for (const chain of ['nested', 'method', 'closure', 'generator', 'recursion', 'unicode', 'callback', 'zlib', 'read']) {
    test(`${chain}: at least 95% of samples have exactly the expected Python frames`, (t) => {
      const expected = workload.ready.chains[chain]!.stack;
      const samples = byChain.get(chain) ?? [];
      const n = total(samples);
      assert.ok(n >= MIN_SAMPLES_PER_CHAIN, `only ${n} samples for ${chain}`);
      const exact = total(samples.filter((s) => JSON.stringify(pythonNames(s.frames)) === JSON.stringify(expected)));
      const wrong = samples.filter((s) => JSON.stringify(pythonNames(s.frames)) !== JSON.stringify(expected)).slice(0, 3);
      t.diagnostic(`${python.name} ${chain}: ${exact}/${n} samples exact (${((100 * exact) / n).toFixed(1)}%)`);
      assert.ok(exact / n >= MIN_EXACT, `${chain}: ${exact}/${n} exact; expected ${expected.join(';')}; e.g. ${wrong.map((s) => s.frames.join(';')).join('\n')}`);
    });
  }

  test('the recursion chain is deeper than 90 Python frames', () => {
    assert.ok(workload.ready.chains['recursion']!.stack.length > 90);
  });

  test('non-ASCII function names come out intact', () => {
    const names = (byChain.get('unicode') ?? []).flatMap((s) => pythonNames(s.frames));
    assert.ok(names.includes('计算') && names.includes('größe_berechnen'), names.slice(0, 10).join(','));
  });

  test('Python frames carry file and line', () => {
    const leaf = (byChain.get('nested') ?? []).map((s) => s.frames.filter((f) => f.endsWith('_[j]')).at(-1));
    assert.ok(leaf.some((f) => /^nested_inner \(.*chains\.py:\d+\)_\[j\]$/.test(f ?? '')), String(leaf[0]));
  });

  test('the zlib chain ends in native frames from libz or the zlib module', () => {
    const samples = byChain.get('zlib') ?? [];
    const native = samples.filter((s) => {
      const leaf = s.frames.filter((f) => !f.endsWith('_[k]')).at(-1) ?? '';
      return !leaf.endsWith('_[j]') && /deflate|longest_match|fill_window|compress|crc32|adler32|libz|zlib/i.test(leaf);
    });
    assert.ok(total(native) / total(samples) >= 0.8, `${total(native)}/${total(samples)}: ${samples.slice(0, 3).map((s) => s.frames.slice(-3).join(';')).join(' | ')}`);
  });

  test('the os.read chain shows kernel frames', () => {
    const samples = byChain.get('read') ?? [];
    const kernel = samples.filter((s) => s.frames.at(-1)!.endsWith('_[k]'));
    assert.ok(total(kernel) / total(samples) >= 0.5, `${total(kernel)}/${total(samples)} with kernel frames`);
    assert.ok(kernel.some((s) => s.frames.some((f) => /read/.test(f) && f.endsWith('_[k]'))));
  });
}

describe('pyenv CPython 3.11 (shared libpython, DWARF inside)', () => describeInterpreter(() => pyenvPython('3.11.7')));
describe("Debian's CPython 3.11 (static, stripped, debug file with -d)", () => describeInterpreter(() => debianPython('debian-3.11')));
