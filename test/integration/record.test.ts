/**
 * mixprof record -- command: the command runs with mixprof's stdin, stdout
 * and stderr, is profiled until it exits, and its exit status comes back.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { getPriority, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { parseFolded, pythonNames } from '../helpers/folded.js';
import { startLoad } from '../helpers/load.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { waitForCpuSeconds, waitForEachCpuSeconds } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

const TARGET = path.join(WORKLOADS, 'record-target.py');

describe('mixprof record', () => {
  let dir: string;
  let python: string;

  before(async () => {
    assertRoot();
    python = pyenvPython('3.11.7').executable;
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-record-'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("passes stdin and stdout through, exits with the command's status, and profiles it", async () => {
    const out = path.join(dir, 'run.folded');
    const r = await execa(MIXPROF, ['record', '-F', '199', '--mark-python', '-o', out, '--', python, TARGET, '7', '3'], {
      input: 'hello\n',
      reject: false,
      timeout: 120_000,
    });
    assert.equal(r.exitCode, 7, r.stderr);
    assert.equal(r.stdout, 'got hello\ndone');
    // The hold's sitecustomize stands in for the interpreter's own when there is none (pyenv's builds have none).
    assert.doesNotMatch(r.stderr, /sitecustomize|Traceback/);
    assert.match(r.stderr, new RegExp(`mixprof: wrote ${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const stacks = parseFolded(await readFile(out, 'utf8'));
    const total = stacks.reduce((n, s) => n + s.count, 0);
    const inSpin = stacks.filter((s) => JSON.stringify(pythonNames(s.frames)) === JSON.stringify(['<module>', 'main', 'spin'])).reduce((n, s) => n + s.count, 0);
    // 3 s of its CPU time at 199 Hz less what it ran while mixprof attached, nearly all of it in spin().
    assert.ok(total >= 199, `${total} samples`);
    assert.ok(inSpin / total >= 0.9, `${inSpin}/${total} in <module>;main;spin`);
  });

  test('a Python command is held at its first line until the sampler is attached: all of a short run is profiled', async () => {
    const out = path.join(dir, 'short.folded');
    // Half a second of CPU time right at the start: without the hold, attaching on a busy machine takes longer.
    const r = await execa(MIXPROF, ['record', '-F', '199', '--mark-python', '-o', out, '--', python, TARGET, '0', '0.5'], { input: 'x\n', reject: false, timeout: 120_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(await readFile(out, 'utf8'));
    const inSpin = stacks.filter((s) => pythonNames(s.frames).includes('spin')).reduce((n, s) => n + s.count, 0);
    // 0.5 s of CPU at 199 Hz is about 100 samples.
    assert.ok(inSpin >= 60, `${inSpin} samples in spin(): ${r.stderr}`);
  });

  test("the hold leaves no trace: the command's PYTHONPATH, path, own sitecustomize and priority are as without mixprof", async () => {
    const own = path.join(dir, 'own');
    await mkdir(own, { recursive: true });
    await writeFile(path.join(own, 'sitecustomize.py'), 'import os\nos.environ["OWN_SITECUSTOMIZE"] = "ran"\n');
    const script = 'import os, sys, json; print(json.dumps([os.environ.get("PYTHONPATH"), os.environ.get("OWN_SITECUSTOMIZE"), [p for p in sys.path if "mixprof-hold" in p], sorted(k for k in os.environ if k.startswith("MIXPROF")), os.getpriority(os.PRIO_PROCESS, 0)]))';
    const r = await execa(MIXPROF, ['record', '-q', '-o', path.join(dir, 'trace.folded'), '--', python, '-c', script], { reject: false, timeout: 120_000, env: { PYTHONPATH: own } });
    assert.equal(r.exitCode, 0, r.stderr);
    // Nor does mixprof's raised priority while attaching: the command runs at the one mixprof was started with.
    assert.deepEqual(JSON.parse(r.stdout), [own, 'ran', [], [], getPriority()]);
  });

  test('a SIGTERM to mixprof reaches the command; the samples are written and its status returned', async () => {
    const out = path.join(dir, 'term.folded');
    const child = execa(MIXPROF, ['record', '-o', out, '--', python, TARGET, '0', '0'], { input: 'x\n', reject: false, timeout: 120_000 });
    let stdout = '';
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // Both: the command spins, and mixprof samples it.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not spinning and sampling in 60 s: ${stdout} ${stderr}`)), 60_000);
      const check = (): void => {
        if (stdout.includes('SPINNING') && /sampling process/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        check();
      });
      child.stderr!.on('data', check);
    });
    // Then until the command has run 0.3 s of CPU under the profiler: samples to keep.
    const { stdout: pids } = await execa('pgrep', ['-P', String(child.pid)]);
    await waitForCpuSeconds(Number(pids.trim().split('\n')[0]), 0.3, 60_000);
    child.kill('SIGTERM');
    const r = await child;
    assert.equal(r.exitCode, 128 + 15, stderr);
    // The command ended on the forwarded signal, and with it the sampling.
    assert.match(r.stderr, /\(target exited\)/);
    const stacks = parseFolded(await readFile(out, 'utf8'));
    assert.ok(stacks.some((s) => s.frames.some((f) => f.startsWith('spin ('))), r.stderr);
  });

  test('--subprocesses follows the workers the command starts', async () => {
    const out = path.join(dir, 'workers.folded');
    // The command ends when its stdin (mixprof's, passed through) closes: once both workers were sampled for a second of their CPU time.
    const child = execa(MIXPROF, ['record', '--subprocesses', '--pid-root', '--mark-python', '-o', out, '--', python, path.join(WORKLOADS, 'workers.py'), '--until-eof'], { reject: false, timeout: 180_000, stdin: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const ready = await new Promise<{ parent: number; fork: number; exec: number }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no READY in 60 s: ${stdout} ${stderr}`)), 60_000);
      child.stdout!.on('data', () => {
        const line = /^READY (.*)$/m.exec(stdout);
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line[1]!) as { parent: number; fork: number; exec: number });
        }
      });
    });
    const deadline = Date.now() + 120_000;
    // The forked worker is sampled by the command's own sampler from its fork on; the exec'd one gets a sampler of its own.
    while (!/and the processes it forks/.test(stderr) || !new RegExp(`sampling process ${ready.exec} `).test(stderr)) {
      assert.ok(Date.now() < deadline, `the workers were not both sampled in 120 s: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await waitForEachCpuSeconds([ready.fork, ready.exec], 1, 120_000);
    child.stdin!.end();
    const r = await child;
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(await readFile(out, 'utf8'));
    const leafIn = (pid: number, leaf: string): number => stacks.filter((s) => s.frames[0]!.endsWith(`(${pid})`) && pythonNames(s.frames).at(-1) === leaf).reduce((n, s) => n + s.count, 0);
    assert.ok(leafIn(ready.fork, 'fork_worker_spin') >= 50, `${leafIn(ready.fork, 'fork_worker_spin')} samples in the forked worker\n${r.stderr}`);
    assert.ok(leafIn(ready.exec, 'exec_worker_spin') >= 50, `${leafIn(ready.exec, 'exec_worker_spin')} samples in the exec'd worker\n${r.stderr}`);
  });

  test('on a loaded machine, a command that ends at its first line is reported over the time it ran, not the time mixprof took to notice', async () => {
    const load = await startLoad(2);
    try {
      for (let i = 0; i < 3; i++) {
        const r = await execa(MIXPROF, ['record', '--top', '0', '-o', path.join(dir, 'brief.folded'), '--', python, '-c', 'pass'], { reject: false, timeout: 120_000 });
        assert.equal(r.exitCode, 0, r.stderr);
        const span = /samples at \d+ Hz over ([\d.]+) s \(target exited\)/.exec(r.stderr);
        assert.ok(span, r.stderr);
        // Before, the span ran to mixprof's next look at the process: up to 1.3 s here.
        assert.ok(Number(span[1]) <= 0.3, r.stderr);
      }
    } finally {
      await load.stop();
    }
  });

  test('a command that cannot be run is one clear error', async () => {
    const r = await execa(MIXPROF, ['record', '-o', path.join(dir, 'none.folded'), '--', '/nonexistent/command'], { reject: false, timeout: 60_000 });
    assert.equal(r.exitCode, 1);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^mixprof: error: cannot run \/nonexistent\/command: .*check the command name and PATH/);
  });
});
