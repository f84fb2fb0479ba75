/**
 * --subprocesses on forking servers and pools, on a loaded machine: the
 * processes a target forks are sampled by its own sampler from their first
 * instruction, so recycled workers and short pool runs are profiled whole,
 * with their names, and each run's duration is its process's life.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { parseFolded, pythonNames, type FoldedStack } from '../helpers/folded.js';
import { startLoad, type Load } from '../helpers/load.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { startSampling, startWorkload, type MixprofResult } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

const HZ = 99;

interface Exited {
  pid: number;
  cpu: number;
  life: number;
}

/** Samples per process, from the "comm (pid)" roots of --pid-root. */
function byProcess(stacks: readonly FoldedStack[]): Map<number, FoldedStack[]> {
  const map = new Map<number, FoldedStack[]>();
  for (const s of stacks) {
    const pid = Number(/\((\d+)\)$/.exec(s.frames[0]!)?.[1]);
    map.set(pid, [...(map.get(pid) ?? []), s]);
  }
  return map;
}

/** Waits until the reaped children of pid have used `seconds` more CPU time (cutime + cstime of /proc/PID/stat). */
async function waitForChildrenCpu(pid: number, seconds: number, timeoutMs: number): Promise<void> {
  const used = async (): Promise<number> => {
    const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
    return (Number(fields[13]) + Number(fields[14])) / 100;
  };
  const start = await used();
  const deadline = Date.now() + timeoutMs;
  while ((await used()) - start < seconds) {
    if (Date.now() > deadline) throw new Error(`the children of ${pid} did not use ${seconds} s of CPU in ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const count = (stacks: readonly FoldedStack[] | undefined): number => (stacks ?? []).reduce((n, s) => n + s.count, 0);

/** A recycler worker's samples, and those in its requests. */
function workerSamples(processes: Map<number, FoldedStack[]>, pid: number): { n: number; inRequests: number } {
  const stacks = processes.get(pid);
  return { n: count(stacks), inRequests: count(stacks?.filter((s) => pythonNames(s.frames).includes('handle_request'))) };
}

/** The report's "process PID (comm): N samples over S s (why)" lines. */
function reportedRuns(stderr: string): Map<number, { samples: number; seconds: number; why: string }> {
  const runs = new Map<number, { samples: number; seconds: number; why: string }>();
  for (const m of stderr.matchAll(/^ {2}process (\d+) \(.*\): (\d+) samples over ([\d.]+) s \((.*)\)$/gm)) {
    runs.set(Number(m[1]), { samples: Number(m[2]), seconds: Number(m[3]), why: m[4]! });
  }
  return runs;
}

interface RecyclerRun {
  /** mixprof's result, and the workers forked after sampling started that ended before the stop was asked for. */
  readonly result: MixprofResult;
  readonly ended: readonly Exited[];
  readonly processes: Map<number, FoldedStack[]>;
  readonly report: Map<number, { samples: number; seconds: number; why: string }>;
}

/**
 * Samples recycler.py's master (run with workloadArgs) with `args` (and
 * --subprocesses --pid-root) until `workers` workers forked after sampling
 * started have ended.
 */
async function sampleRecycler(python: string, out: string, args: readonly string[], workers: number, workloadArgs: readonly string[] = ['2', '30']): Promise<RecyclerRun> {
  const master = await startWorkload<{ master: number }>(python, [path.join(WORKLOADS, 'recycler.py'), ...workloadArgs], 60_000, {}, 'pipe');
  const exited: Exited[] = [];
  let onExit: () => void = () => undefined;
  createInterface({ input: master.child.stdout! }).on('line', (line) => {
    if (!line.startsWith('EXITED ')) return;
    exited.push(JSON.parse(line.slice(7)) as Exited);
    onExit();
  });
  try {
    const run = await startSampling(['sample', '-x', String(master.pid), ...args, '--subprocesses', '--pid-root', '--mark-python', '--top', '0', '-o', out]);
    // Workers running when sampling started are sampled from then on, not whole: left out.
    const { stdout } = await execa('pgrep', ['-P', String(master.pid)], { reject: false });
    const before = new Set(stdout.split('\n').filter(Boolean).map(Number));
    const fresh = (): Exited[] => exited.filter((e) => !before.has(e.pid));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`fewer than ${workers} workers started and ended in 180 s: ${JSON.stringify(exited)} ${run.stderr()}`)), 180_000);
      onExit = () => {
        if (fresh().length >= workers) {
          clearTimeout(timer);
          resolve();
        }
      };
      onExit();
    });
    // The workers that ended before the stop was asked for: more end while mixprof writes its output.
    const ended = fresh();
    const result = await run.stop();
    assert.equal(result.exitCode, 0, result.stderr);
    return { result, ended, processes: byProcess(parseFolded(await readFile(out, 'utf8'))), report: reportedRuns(result.stderr) };
  } finally {
    master.child.stdin!.end();
    await master.stop();
  }
}

describe('--subprocesses on a loaded machine: forked workers sampled from their first instruction', () => {
  let load: Load;
  let dir: string;
  const python = (): string => pyenvPython('3.11.7').executable;

  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-follow-'));
    // Two spinning processes per CPU, for the whole of each test.
    load = await startLoad(2);
  });
  after(async () => {
    await load?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('recycled workers of a pre-forking server: each sampled for its whole life, its samples following its CPU time, its duration its life', async () => {
    const { result: r, ended, processes, report } = await sampleRecycler(python(), path.join(dir, 'recycler.folded'), [], 6);
    let samples = 0;
    let expected = 0;
    for (const worker of ended) {
      const { n, inRequests } = workerSamples(processes, worker.pid);
      samples += n;
      expected += worker.cpu * HZ;
      const what = `worker ${worker.pid} (${worker.cpu.toFixed(2)} s CPU, ${worker.life.toFixed(2)} s life): ${n} samples, ${inRequests} in handle_request\n${r.stderr}`;
      // Sampled from its fork: about hz samples a CPU second, whichever CPU it ran on.
      assert.ok(n >= 0.6 * worker.cpu * HZ, what);
      // Named from its own code objects (or its parent's, once it has exited): its requests, not unknown frames.
      assert.ok(inRequests >= 0.9 * n, what);
      // Its duration is its life (fork to exit, as its parent saw it), not the session's.
      const run = report.get(worker.pid);
      assert.ok(run, what);
      assert.equal(run.why, 'target exited', what);
      assert.ok(Math.abs(run.seconds - worker.life) <= Math.max(0.3, 0.2 * worker.life), what);
    }
    assert.ok(samples >= 0.85 * expected && samples <= 1.15 * expected, `${samples} samples in the workers for ${(expected / HZ).toFixed(2)} s of their CPU time\n${r.stderr}`);
  });

  test('wall-clock mode: recycled workers sampled by the passes from their fork, hz samples for each second of their lives, on a CPU or waiting for one', async () => {
    const { result: r, ended, processes, report } = await sampleRecycler(python(), path.join(dir, 'recycler-wall.folded'), ['--mode', 'wall', '-F', String(HZ)], 4);
    let samples = 0;
    let lives = 0;
    for (const worker of ended) {
      const { n, inRequests } = workerSamples(processes, worker.pid);
      const run = report.get(worker.pid);
      const what = `worker ${worker.pid} (${worker.life.toFixed(2)} s life, reported ${run?.seconds} s): ${n} samples, ${inRequests} in handle_request\n${r.stderr}`;
      assert.ok(run && run.why === 'target exited', what);
      // Every pass from the one after its fork counts it: hz a second of its life, running or not. Its life
      // is at least the report's (fork to exit, shown to 0.1 s) and at most the master's (fork to reaping).
      assert.ok(n >= 0.95 * HZ * (run.seconds - 0.05) && n <= 1.02 * HZ * worker.life + 2, what);
      assert.ok(inRequests >= 0.9 * n, what);
      samples += n;
      lives += worker.life;
    }
    assert.ok(samples >= 0.93 * HZ * lives && samples <= 1.02 * HZ * lives, `${samples} samples in the workers for ${lives.toFixed(2)} s of their lives (fork to reaping)\n${r.stderr}`);
  });

  test('workers that import a C extension after their fork: their time in it is named and unwound through it to the thread start, and no call frame information is blamed', async () => {
    const { result: r, ended, processes } = await sampleRecycler(python(), path.join(dir, 'late-extension.folded'), [], 4, ['2', '30', 'decimal']);
    let inExtension = 0;
    let whole = 0;
    for (const worker of ended) {
      let own = 0;
      let through = 0;
      for (const s of processes.get(worker.pid) ?? []) {
        const at = s.frames.findIndex((f) => f.startsWith('decimal_work '));
        if (at < 0) continue;
        own += s.count;
        // The extension's functions (libmpdec's, built into _decimal) above decimal_work, and the thread's first function below it.
        if (s.frames.includes('_start') && s.frames.slice(at + 1).some((f) => /^_?mpd_/.test(f))) through += s.count;
      }
      assert.ok(own > 0, `worker ${worker.pid}: no samples in decimal_work\n${r.stderr}`);
      inExtension += own;
      whole += through;
    }
    // A worker's samples before mixprof read its new maps (its first poll, a tenth of a second) are cut short, and said to be.
    assert.ok(whole >= 0.8 * inExtension, `${whole} of ${inExtension} samples in decimal_work go through the extension to _start\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /no call frame information/, r.stderr);
  });

  test("a child's samples from the fork's return on carry the Python frames that forked it, before its interpreter takes its thread as its own", async () => {
    const forker = await startWorkload<{ pid: number }>(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'forker.py')]);
    const out = path.join(dir, 'forker.folded');
    try {
      const run = await startSampling(['sample', '-x', String(forker.pid), '--subprocesses', '--pid-root', '--mark-python', '--top', '0', '-F', '499', '-o', out]);
      // Enough child samples: wait for the children's CPU time to show in the parent's (reaped children's) count.
      // Two seconds of it: one second gave 19 samples in the fork's return on a loaded machine, one short of the floor below.
      await waitForChildrenCpu(forker.pid, 2, 120_000);
      const r = await run.stop();
      assert.equal(r.exitCode, 0, r.stderr);
      const children = [...byProcess(parseFolded(await readFile(out, 'utf8')))].filter(([pid]) => pid !== forker.pid).flatMap(([, stacks]) => stacks);
      // The fork's return in the child: the kernel's ret_from_fork, or the interpreter's after-fork work.
      const inFork = children.filter((s) => s.frames.some((f) => /^(ret_from_fork|ret_from_fork_asm)_\[k\]$|^PyOS_AfterFork_Child$/.test(f)));
      const named = inFork.filter((s) => pythonNames(s.frames).includes('fork_child'));
      assert.ok(count(inFork) >= 20, `${count(inFork)} child samples in the fork's return\n${r.stderr}`);
      assert.ok(count(named) >= 0.95 * count(inFork), `${count(named)}/${count(inFork)} under fork_child:\n${inFork.filter((s) => !named.includes(s)).map((s) => s.frames.join(';')).slice(0, 5).join('\n')}`);
    } finally {
      await forker.stop();
    }
  });

  test('a short multiprocessing pool under record: every worker sampled from its fork, with its Python names', async () => {
    const out = path.join(dir, 'pool.folded');
    const r = await execa(MIXPROF, ['record', '--subprocesses', '--pid-root', '--mark-python', '--top', '0', '-o', out, '--', pyenvPython('3.12.1').executable, path.join(WORKLOADS, 'pool.py'), '3', '60'], {
      reject: false,
      timeout: 180_000,
    });
    assert.equal(r.exitCode, 0, r.stderr);
    const pool = JSON.parse(/^POOL (.*)$/m.exec(r.stdout)![1]!) as { workers: number[]; cpu: number };
    const processes = byProcess(parseFolded(await readFile(out, 'utf8')));
    const workerStacks = pool.workers.flatMap((pid) => processes.get(pid) ?? []);
    const samples = count(workerStacks);
    const inTasks = count(workerStacks.filter((s) => pythonNames(s.frames).includes('pool_task')));
    const unknown = count(workerStacks.filter((s) => s.frames.includes('[unknown python frame]')));
    const what = `${samples} samples in the workers for ${pool.cpu.toFixed(2)} s of their CPU time; ${inTasks} in pool_task, ${unknown} with unknown frames\n${r.stderr}`;
    for (const pid of pool.workers) assert.ok(count(processes.get(pid)) > 0, `worker ${pid} has no samples: ${what}`);
    assert.ok(samples >= 0.8 * pool.cpu * HZ && samples <= 1.2 * pool.cpu * HZ + 5, what);
    assert.ok(inTasks >= 0.9 * samples, what);
    assert.ok(unknown <= 0.02 * samples, what);
  });
});
