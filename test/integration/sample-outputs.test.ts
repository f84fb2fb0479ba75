/**
 * Everyday use on real processes: each output format picked by the -o
 * extension and by `mixprof convert`, short and full source paths, several
 * PIDs with process roots, --subprocesses, the top-functions table and the
 * live status line on a terminal.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { Ajv } from 'ajv';
import { execa } from 'execa';
import { Profile } from 'pprof-format';
import type { ChainsReady } from '../helpers/chains.js';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { MIXPROF, REPO, WORKLOADS } from '../helpers/paths.js';
import { runMixprof, startSampling, startWorkload, waitForEachCpuSeconds, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

interface WorkersReady {
  parent: number;
  fork: number;
  exec: number;
}

const total = (stacks: { count: number }[]): number => stacks.reduce((n, s) => n + s.count, 0);

/** Weights are seconds: one sample is 1/hz. */
function validSpeedscope(text: string, hz: number): { names: string[]; samples: number } {
  const schema = JSON.parse(readFileSync(path.join(REPO, 'node_modules', 'speedscope', 'dist', 'release', 'file-format-schema.json'), 'utf8')) as object;
  const data = JSON.parse(text) as { shared: { frames: { name: string }[] }; profiles: { weights: number[] }[] };
  const validate = new Ajv({ strict: false }).compile(schema);
  assert.ok(validate(data), JSON.stringify(validate.errors));
  const seconds = data.profiles.reduce((n, p) => n + p.weights.reduce((a, b) => a + b, 0), 0);
  return { names: data.shared.frames.map((f) => f.name), samples: Math.round(seconds * hz) };
}

function pprofNamesAndCount(bytes: Buffer): { names: Set<string>; samples: number; mainBinary: { file: string; start: bigint; limit: bigint } | null } {
  const profile = Profile.decode(gunzipSync(bytes));
  const strings = profile.stringTable.strings;
  const names = new Set(profile.function.map((f) => strings[Number(f.name)]!));
  const samples = profile.sample.reduce((n, s) => n + Number(s.value[0]), 0);
  const main = profile.mapping[0];
  return { names, samples, mainBinary: main ? { file: strings[Number(main.filename)]!, start: BigInt(main.memoryStart), limit: BigInt(main.memoryLimit) } : null };
}

describe('output formats, paths, several processes', () => {
  let dir: string;
  let python: string;
  let chains: Workload<ChainsReady>;

  before(async () => {
    assertRoot();
    python = pyenvPython('3.11.7').executable;
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-outputs-'));
    // Run from the workloads directory: its files are then named relative to it.
    chains = await startWorkload<ChainsReady>('bash', ['-c', 'cd "$1" && exec "$2" chains.py', 'chains', WORKLOADS, python]);
  });
  after(async () => {
    await chains?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('the -o extension picks the format: svg, speedscope, pprof and cpuprofile files of the same run read the same functions', async () => {
    const files = { svg: 'p.svg', speedscope: 'p.speedscope.json', pprof: 'p.pb.gz', cpuprofile: 'p.cpuprofile' };
    for (const file of Object.values(files)) {
      const r = await runMixprof(['sample', '-x', String(chains.pid), '-t', '1.5', '-F', '199', '-q', '-o', path.join(dir, file)]);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const svg = await readFile(path.join(dir, files.svg), 'utf8');
    assert.match(svg, /^<\?xml|^<svg/);
    assert.match(svg, /nested_inner \(chains\.py:\d+\)/);

    const speedscope = validSpeedscope(await readFile(path.join(dir, files.speedscope), 'utf8'), 199);
    assert.ok(speedscope.names.includes('nested_inner'), speedscope.names.join(', '));
    assert.ok(speedscope.samples >= 100, `${speedscope.samples} samples`);

    const pprof = pprofNamesAndCount(await readFile(path.join(dir, files.pprof)));
    for (const name of ['nested_inner', 'Worker.step', 'recurse']) assert.ok(pprof.names.has(name), name);
    assert.ok(pprof.samples >= 100, `${pprof.samples} samples`);
    // pprof's main binary is the target's program, at the range its code was mapped at.
    assert.equal(pprof.mainBinary?.file, await realpath(python));
    assert.ok(pprof.mainBinary.start > 0n && pprof.mainBinary.limit > pprof.mainBinary.start, JSON.stringify(pprof.mainBinary, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v)));

    const cpuprofile = JSON.parse(await readFile(path.join(dir, files.cpuprofile), 'utf8')) as { nodes: { id: number; callFrame: { functionName: string } }[]; samples: number[] };
    assert.equal(cpuprofile.nodes[0]!.callFrame.functionName, '(root)');
    assert.ok(cpuprofile.nodes.some((n) => n.callFrame.functionName === 'nested_inner'));
    assert.ok(cpuprofile.samples.length >= 100);
  });

  test('source paths are short by default (relative to the working directory and the standard library) and full with --full-paths', async () => {
    const short = await runMixprof(['sample', '-x', String(chains.pid), '-t', '1', '-q', '--mark-python']);
    assert.equal(short.exitCode, 0, short.stderr);
    const full = await runMixprof(['sample', '-x', String(chains.pid), '-t', '1', '-q', '--mark-python', '--full-paths']);
    assert.equal(full.exitCode, 0, full.stderr);
    const frames = (text: string): string[] => parseFolded(text).flatMap((s) => s.frames.filter((f) => f.endsWith('_[j]')));
    assert.ok(frames(short.stdout).some((f) => /^nested_inner \(chains\.py:\d+\)_\[j\]$/.test(f)));
    assert.ok(frames(short.stdout).some((f) => /^Thread\.run \(threading\.py:\d+\)_\[j\]$/.test(f)));
    const escaped = WORKLOADS.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.ok(frames(full.stdout).some((f) => new RegExp(`^nested_inner \\(${escaped}/chains\\.py:\\d+\\)_\\[j\\]$`).test(f)));
    assert.ok(frames(full.stdout).some((f) => /^Thread\.run \(\/.*\/lib\/python3\.11\/threading\.py:\d+\)_\[j\]$/.test(f)));
  });

  test('mixprof convert turns the folded output into each format with every sample kept', async () => {
    const folded = path.join(dir, 'c.folded');
    const r = await runMixprof(['sample', '-x', String(chains.pid), '-t', '1', '-q', '-o', folded]);
    assert.equal(r.exitCode, 0, r.stderr);
    const samples = total(parseFolded(await readFile(folded, 'utf8')));
    for (const [file, check] of [
      ['c.pb.gz', async (p: string) => pprofNamesAndCount(await readFile(p)).samples],
      ['c.json', async (p: string) => validSpeedscope(await readFile(p, 'utf8'), 99).samples],
      ['c.cpuprofile', async (p: string) => (JSON.parse(await readFile(p, 'utf8')) as { samples: number[] }).samples.length],
      ['c.svg', async (p: string) => Number(/(\d+) samples/.exec(await readFile(p, 'utf8'))?.[1])],
    ] as const) {
      const c = await runMixprof(['convert', folded, '-o', path.join(dir, file)]);
      assert.equal(c.exitCode, 0, c.stderr);
      assert.match(c.stderr, new RegExp(`wrote .*${file.replace('.', '\\.')}`));
      assert.equal(await check(path.join(dir, file)), samples, file);
    }
    // stdin to stdout, and the folded format back unchanged.
    const back = await execa(MIXPROF, ['convert', '-', '--format', 'folded'], { inputFile: folded, reject: false });
    assert.equal(back.exitCode, 0, back.stderr);
    assert.deepEqual(parseFolded(back.stdout).sort((a, b) => a.frames.join().localeCompare(b.frames.join())), parseFolded(await readFile(folded, 'utf8')).sort((a, b) => a.frames.join().localeCompare(b.frames.join())));
  });

  test('convert --base: a differential flame graph of two folded files, red where a stack grew, blue where it shrank', async () => {
    const before = path.join(dir, 'before.folded');
    const afterFile = path.join(dir, 'after.folded');
    await writeFile(before, 'main (app.py:1);handle (app.py:5);memcpy 80\nmain (app.py:1);render (app.py:9);tcp_sendmsg_[k] 20\n');
    await writeFile(afterFile, 'main (app.py:1);handle (app.py:5);memcpy 300\nmain (app.py:1);render (app.py:9);tcp_sendmsg_[k] 700\n');
    const out = path.join(dir, 'diff.svg');
    const r = await runMixprof(['convert', afterFile, '--base', before, '-o', out]);
    assert.equal(r.exitCode, 0, r.stderr);
    const svg = await readFile(out, 'utf8');
    assert.match(svg, /<text id="title"[^>]*>Differential flame graph: after\.folded against before\.folded</);
    const fill = (name: string): number[] => {
      const m = new RegExp(`<title>${name} \\([^<]*</title><rect [^>]*fill="rgb\\((\\d+),(\\d+),(\\d+)\\)"`).exec(svg);
      assert.ok(m, `${name} drawn`);
      return [Number(m[1]), Number(m[2]), Number(m[3])];
    };
    // render: 20% -> 70%, red; handle: 80% -> 30%, blue.
    assert.ok(fill('render')[0]! > fill('render')[2]! && fill('handle')[2]! > fill('handle')[0]!, `render ${fill('render').join()}, handle ${fill('handle').join()}`);
    assert.match(svg, /baseline 20\.00%, \+50\.00 points/);
    // Only an svg can be differential; one line otherwise.
    const wrong = await runMixprof(['convert', afterFile, '--base', before, '-o', path.join(dir, 'diff.pb.gz')]);
    assert.equal(wrong.exitCode, 1);
    assert.match(wrong.stderr, /^mixprof: error: --base draws a differential flame graph, which is an svg, not pprof \(write it with -o FILE\.svg or --format svg\)$/);
    assert.equal(wrong.stderr.split('\n').length, 1);
  });

  test('[B11] convert: a file that is not folded stacks, or missing, is one clear error', async () => {
    const bad = path.join(dir, 'bad.folded');
    await writeFile(bad, 'main;work 3\nthis is not a stack\n');
    for (const [args, pattern] of [
      [['convert', bad, '-o', path.join(dir, 'x.svg')], /bad\.folded:2: not a folded stack line/],
      [['convert', path.join(dir, 'missing.folded')], /cannot read .*missing\.folded: no such file/],
      [['convert', bad, '--format', 'png'], /--format/],
    ] as const) {
      const r = await runMixprof([...args]);
      assert.notEqual(r.exitCode, 0);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, /^mixprof: error: /);
      assert.match(lines[0]!, pattern);
    }
  });

  test('the top-functions table names the hottest functions by self and total samples', async () => {
    const r = await runMixprof(['sample', '-x', String(chains.pid), '-t', '1.5', '--top', '40', '-o', path.join(dir, 't.folded')]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stderr.split('\n');
    const header = lines.findIndex((l) => /SELF%\s+SELF\s+TOTAL%\s+TOTAL\s+FUNCTION/.test(l));
    assert.ok(header >= 0, r.stderr);
    const rows = lines.slice(header + 1).filter((l) => /^\s+\d+\.\d%/.test(l));
    assert.ok(rows.length > 5 && rows.length <= 40, r.stderr);
    // The workload's chains are named with their Python functions (which chains a 1.5 s run at 99 Hz
    // catches depends on how the threads took turns at the GIL: no one function is asserted).
    const workloadRows = new Set(rows.map((l) => / (\S+) \(chains\.py\) \[py\]$/.exec(l)?.[1]).filter((name) => name !== undefined));
    assert.ok(workloadRows.size >= 3, r.stderr);
    const counts = rows.map((l) => /^\s+\S+\s+(\d+)\s+\S+\s+(\d+)/.exec(l)!).map((m) => ({ self: Number(m[1]), total: Number(m[2]) }));
    assert.ok(counts.every((c) => c.total >= c.self), r.stderr);
    const selfs = counts.map((c) => c.self);
    assert.deepEqual(selfs, [...selfs].sort((a, b) => b - a));
  });

  test('on a terminal, one status line is redrawn with time, samples, lost events and the hottest function', async () => {
    // script(1) gives mixprof a terminal; the arguments are fixed paths and a PID.
    const command = [MIXPROF, 'sample', '-x', String(chains.pid), '-t', '2.5', '-o', path.join(dir, 'tty.folded')].map((a) => `'${a}'`).join(' ');
    const r = await execa('script', ['-qefc', command, '/dev/null'], { reject: false, timeout: 120_000, stdin: 'ignore' });
    assert.equal(r.exitCode, 0, r.stdout);
    const redraws = r.stdout.split('\r\x1b[K').filter((part) => /^mixprof: \d+\/2\.5 s \| \d+ samples \| \d+ lost/.test(part));
    assert.ok(redraws.length >= 1, JSON.stringify(r.stdout.slice(0, 2000)));
    assert.ok(redraws.some((part) => /hottest: \S+ \d+%/.test(part)), JSON.stringify(redraws));
  });
});

describe('several processes', () => {
  let python: string;
  let workers: Workload<WorkersReady> | undefined;

  before(() => {
    assertRoot();
    python = pyenvPython('3.11.7').executable;
  });
  after(async () => {
    await workers?.stop();
    // The workers die with their parent (a parent-death signal); make sure.
    for (const pid of [workers?.ready.fork, workers?.ready.exec]) if (pid) await execa('kill', ['-9', String(pid)], { reject: false });
  });

  test('-x with several PIDs and --pid-root: a root per process, each with its own samples', async () => {
    workers = await startWorkload<WorkersReady>(python, [path.join(WORKLOADS, 'workers.py')]);
    const { fork, exec } = workers.ready;
    // Each is attached in turn: from when both are sampled, until each has run 1.5 s on a CPU (about 148 samples), however busy the machine.
    const run = await startSampling(['sample', '-x', `${fork},${exec}`, '--pid-root', '--mark-python']);
    await run.until(new RegExp(`sampling process ${fork} `));
    await run.until(new RegExp(`sampling process ${exec} `));
    await waitForEachCpuSeconds([fork, exec], 1.5, 120_000);
    const r = await run.stop();
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    const under = (pid: number, leaf: string): number => total(stacks.filter((s) => s.frames[0]!.endsWith(` (${pid})`) && pythonNames(s.frames).at(-1) === leaf));
    assert.ok(under(fork, 'fork_worker_spin') >= 100, r.stdout.slice(0, 500));
    assert.ok(under(exec, 'exec_worker_spin') >= 100, r.stdout.slice(0, 500));
    assert.ok(stacks.every((s) => /^\S+ \((\d+)\)$/.test(s.frames[0]!) && [fork, exec].includes(Number(/\((\d+)\)$/.exec(s.frames[0]!)![1]))));
  });

  test('--subprocesses follows the workers a parent started: a forked one and an exec\'d one', async () => {
    workers ??= await startWorkload<WorkersReady>(python, [path.join(WORKLOADS, 'workers.py')]);
    const { parent, fork, exec } = workers.ready;
    const run = await startSampling(['sample', '-x', String(parent), '--subprocesses', '--pid-root', '--mark-python']);
    // The forked one (not exec'd) is followed by its parent's sampler; the exec'd one, another program, gets its own.
    await run.until(new RegExp(`following process ${fork}, forked from ${parent} `));
    await run.until(new RegExp(`sampling process ${exec} `));
    // Each then sampled for a second of its CPU time (99 samples), however busy the machine.
    await waitForEachCpuSeconds([fork, exec], 1, 120_000);
    const r = await run.stop();
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    const roots = new Map<number, number>();
    for (const s of stacks) {
      const pid = Number(/\((\d+)\)$/.exec(s.frames[0]!)?.[1]);
      roots.set(pid, (roots.get(pid) ?? 0) + s.count);
    }
    assert.ok((roots.get(fork) ?? 0) >= 50, `${JSON.stringify([...roots])} ${r.stderr}`);
    assert.ok((roots.get(exec) ?? 0) >= 50, `${JSON.stringify([...roots])} ${r.stderr}`);
    assert.ok(stacks.some((s) => s.frames[0]!.endsWith(`(${fork})`) && pythonNames(s.frames).at(-1) === 'fork_worker_spin'));
    assert.ok(stacks.some((s) => s.frames[0]!.endsWith(`(${exec})`) && pythonNames(s.frames).at(-1) === 'exec_worker_spin'));
    assert.match(r.stderr, new RegExp(`process ${fork} \\(\\S+\\): \\d+ samples`));
  });
});
