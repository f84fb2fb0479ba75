/**
 * Files a profiled process places where mixprof looks for debug files
 * (docs/faults.md S09-S13): a library without a build-id whose
 * .gnu_debuglink names a FIFO, a link to /dev/zero, an absolute link out of
 * its container, or a path of "../"; a debug file whose dwz link names a FIFO. Real processes run a library built here
 * (a static function does the work, so its name shows only if a debug file
 * is read); containers are test/workloads/container.sh's. Every run ends
 * when it should, answers Ctrl-C, and shows no symbol of a file the target
 * could not read itself.
 */
import assert from 'node:assert/strict';
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { ProfileStore } from '../../src/store/profile-store.js';
import { parseFolded, type FoldedStack } from '../helpers/folded.js';
import { MIXPROF, REPO, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, runMixprof, sampleForCpu, startContainerWorkload, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

const SPIN = path.join(WORKLOADS, 'library-spin.py');
const PYTHON = '/usr/bin/python3.11';
/** The static function that does the work: named only through a debug file. */
const SECRET = 'secret_inner';
const total = (stacks: readonly FoldedStack[]): number => stacks.reduce((n, s) => n + s.count, 0);
const named = (stacks: readonly FoldedStack[], name: string): number => total(stacks.filter((s) => s.frames.includes(name)));

interface Library {
  /** Stripped, no build-id, with the debuglink asked for. */
  readonly lib: string;
  /** The unstripped build: what a debug file of it holds. */
  readonly full: string;
}

/**
 * Builds lib<name>.so in `dir` without a build-id, stripped, with a
 * .gnu_debuglink of `link` (any text, "../" included) carrying the CRC of
 * its real debug file.
 */
async function buildLibrary(dir: string, name: string, link: string): Promise<Library> {
  const source = path.join(dir, `${name}.c`);
  await writeFile(source, `static __attribute__((noinline)) unsigned long ${SECRET}(unsigned long n) {\n  volatile unsigned long x = 0;\n  for (unsigned long i = 0; i < n; i++) x += i;\n  return x;\n}\nunsigned long spin(unsigned long n) { return ${SECRET}(n) + 1; }\n`);
  const full = path.join(dir, `${name}.full.so`);
  await execa('gcc', ['-shared', '-fPIC', '-O1', '-g', '-Wl,--build-id=none', '-o', full, source]);
  const lib = path.join(dir, `lib${name}.so`);
  await execa('strip', ['--strip-all', '-o', lib, full]);
  // The section as binutils writes it: the name, NUL, padding to 4 bytes, the CRC (little-endian).
  const nameBytes = Buffer.from(`${link}\0`);
  const section = Buffer.alloc(Math.ceil(nameBytes.length / 4) * 4 + 4);
  nameBytes.copy(section);
  section.writeUInt32LE(crc32(await readFile(full)), section.length - 4);
  const sectionFile = path.join(dir, `${name}.debuglink`);
  await writeFile(sectionFile, section);
  await execa('objcopy', ['--add-section', `.gnu_debuglink=${sectionFile}`, lib]);
  return { lib, full };
}

describe('debug files a hostile target names', () => {
  let dir: string;
  const workloads: Workload<unknown>[] = [];

  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-hostile-'));
    await chmod(dir, 0o755);
  });
  after(async () => {
    for (const w of workloads) await w.stop();
    await rm(dir, { recursive: true, force: true });
    assert.equal(await bpftraceCount(), 0);
  });

  const sample = async (pid: number): Promise<FoldedStack[]> => {
    // A hang would show as this timeout: the run must end at -t.
    const r = await runMixprof(['sample', '-x', String(pid), '-t', '2', '--unwind', 'dwarf'], { timeoutMs: 60_000 });
    assert.equal(r.timedOut, false, `still running 60 s after a 2 s run: ${r.stderr}`);
    assert.equal(r.exitCode, 0, r.stderr);
    const stacks = parseFolded(r.stdout);
    assert.ok(total(stacks) > 0, r.stderr);
    return stacks;
  };

  test("[S09] an ordinary user's library whose debuglink names a FIFO beside it: the run ends at -t with its samples and answers Ctrl-C; serve's /profile of it neither hangs nor holds up other requests", async () => {
    const user = path.join(dir, 'user');
    await mkdir(user);
    const { lib } = await buildLibrary(user, 'fifo', 'libfifo.debug');
    await execa('mkfifo', [path.join(user, 'libfifo.debug')]);
    await execa('chown', ['-R', 'nobody:nogroup', user]);
    const w = await startWorkload<{ pid: number }>('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', PYTHON, SPIN, lib]);
    workloads.push(w);

    const stacks = await sample(w.pid);
    assert.equal(named(stacks, SECRET), 0);
    const interrupted = await sampleForCpu(['sample', '-x', String(w.pid), '--unwind', 'dwarf'], w.pid, 0.5, 60_000);
    assert.equal(interrupted.exitCode, 0, interrupted.stderr);
    assert.match(interrupted.stderr, /\(interrupted\)/);

    const dataDir = path.join(dir, 'store');
    ProfileStore.open(dataDir).close();
    const serve = execa(MIXPROF, ['serve', '--port', '0', '--data-dir', dataDir], { reject: false, timeout: 120_000, stdin: 'ignore' });
    try {
      let stderr = '';
      const base = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
        void serve.then(() => reject(new Error(`serve exited: ${stderr}`)));
        serve.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(stderr);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const profile = fetch(`${base}/profile?pid=${w.pid}&seconds=1`, { signal: AbortSignal.timeout(60_000) });
      assert.equal((await fetch(`${base}/health`, { signal: AbortSignal.timeout(30_000) })).status, 200);
      const answer = await profile;
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.ok(total(parseFolded(await answer.text())) > 0);
    } finally {
      serve.kill('SIGTERM');
      await serve;
    }
  });

  describe('in a container', () => {
    let pyroot: string;
    before(async () => {
      const python = await debianPython('debian-3.11');
      pyroot = path.resolve(path.dirname(python.executable), '..', '..');
    });

    /** Runs the library in a container whose /app is `app`. */
    const inContainer = async (app: string, lib: string): Promise<number> => {
      const { pid, workload } = await startContainerWorkload<{ pid: number }>(pyroot, SPIN, [`/app/${path.basename(lib)}`], app);
      workloads.push(workload);
      return pid;
    };

    test('[S10] a debug file that is a link to /dev/zero: refused unopened, the run ends at -t', async () => {
      const app = path.join(dir, 'zero-app');
      await mkdir(app);
      const { lib } = await buildLibrary(app, 'zero', 'libzero.debug');
      await symlink('/dev/zero', path.join(app, 'libzero.debug'));
      const stacks = await sample(await inContainer(app, lib));
      assert.equal(named(stacks, SECRET), 0);
    });

    test("[S11] a debug file that is an absolute link to a file only the host has: the host's symbols never appear; the same file inside the container is used", async () => {
      const hostOnly = path.join(dir, 'host-only');
      await mkdir(hostOnly);
      const app = path.join(dir, 'link-app');
      await mkdir(app);
      const { lib, full } = await buildLibrary(app, 'link', 'liblink.debug');
      await copyFile(full, path.join(hostOnly, 'secret.debug'));
      // The container has no such path; through /proc/PID/root a plain open would follow the link to the host's file.
      await symlink(path.join(hostOnly, 'secret.debug'), path.join(app, 'liblink.debug'));
      const linked = await sample(await inContainer(app, lib));
      assert.equal(named(linked, SECRET), 0, 'symbols of a host file in the profile');

      // The control: the debug file really inside the container names the function.
      const own = path.join(dir, 'own-app');
      await mkdir(own);
      await copyFile(lib, path.join(own, path.basename(lib)));
      await copyFile(full, path.join(own, 'liblink.debug'));
      const stacks = await sample(await inContainer(own, path.join(own, path.basename(lib))));
      assert.ok(named(stacks, SECRET) / total(stacks) >= 0.5, `${named(stacks, SECRET)}/${total(stacks)} samples in ${SECRET}`);
    });
  });

  test("[S13] a debug file's dwz link (.gnu_debugaltlink) naming a FIFO: never opened, neither for struct layouts nor while sampling; the real dwz file is used, checked by its build-id", async () => {
    const work = path.join(dir, 'dwz');
    await mkdir(work);
    // Two libraries sharing a struct: dwz moves its description into the common file both link to.
    await writeFile(path.join(work, 'shared.h'), 'struct shared_state { long before; int counter; double ratio; struct shared_state *next; };\n');
    const common = path.join(work, 'common.debug');
    for (const n of ['a', 'b']) {
      await writeFile(path.join(work, `${n}.c`), `#include "shared.h"\nstatic __attribute__((noinline)) unsigned long ${SECRET}(struct shared_state *s, unsigned long n) {\n  volatile unsigned long x = 0;\n  for (unsigned long i = 0; i < n; i++) x += i + s->counter;\n  return x;\n}\nunsigned long spin(unsigned long n) { struct shared_state s = {0, 1, 0.5, 0}; return ${SECRET}(&s, n) + 1; }\nstruct shared_state *next_${n}(struct shared_state *s) { return s->next; }\n`);
      await execa('gcc', ['-shared', '-fPIC', '-O1', '-g', '-Wl,--build-id', '-o', path.join(work, `lib${n}.debug`), path.join(work, `${n}.c`)]);
      await execa('strip', ['--strip-all', '-o', path.join(work, `lib${n}.so`), path.join(work, `lib${n}.debug`)]);
    }
    await execa('dwz', ['-m', common, '-M', common, path.join(work, 'liba.debug'), path.join(work, 'libb.debug')]);
    await execa('objcopy', ['--add-gnu-debuglink', path.join(work, 'liba.debug'), path.join(work, 'liba.so')]);
    // In a child process: a blocked open would hang this one.
    const layout = async (): Promise<string> => {
      const code = `const a = require(${JSON.stringify(path.join(REPO, 'native', 'build', 'Release', 'mixprof_native.node'))});
        const [r] = a.structLayout(${JSON.stringify(path.join(work, 'liba.debug'))}, [{ type: 'shared_state', members: ['counter', 'next'] }]);
        process.stdout.write(JSON.stringify(r.members, (k, v) => (typeof v === 'bigint' ? Number(v) : v)));`;
      const r = await execa(process.execPath, ['-e', code], { reject: false, timeout: 30_000 });
      assert.equal(r.timedOut, false, 'structLayout blocked on the dwz link');
      assert.equal(r.exitCode, 0, r.stderr);
      return r.stdout;
    };
    assert.equal(await layout(), '{"counter":{"offset":8,"size":4},"next":{"offset":24,"size":8}}');

    await rm(common);
    await execa('mkfifo', [common]);
    assert.equal(await layout(), '{"counter":null,"next":null}');
    const w = await startWorkload<{ pid: number }>(PYTHON, [SPIN, path.join(work, 'liba.so')]);
    workloads.push(w);
    const stacks = await sample(w.pid);
    // The debug file itself is read: its symbols name the function.
    assert.ok(named(stacks, SECRET) / total(stacks) >= 0.5, `${named(stacks, SECRET)}/${total(stacks)} samples in ${SECRET}`);

    // Another file at the link's name, of another build: not taken for it.
    await rm(common);
    await copyFile(path.join(work, 'libb.debug'), common);
    assert.equal(await layout(), '{"counter":null,"next":null}');
  });

  test('[S12] a debuglink name with a directory part ("../../../../host-only/secret.debug"): refused, never joined onto a debug directory', async () => {
    const hostOnly = path.join(dir, 'dotdot-host');
    await mkdir(hostOnly);
    const app = path.join(dir, 'dotdot-app');
    await mkdir(app);
    // From /usr/lib/debug<the library's directory>/, enough "../" to reach / and then the host file.
    const up = '../'.repeat(3 + app.split('/').length);
    const { lib, full } = await buildLibrary(app, 'dotdot', `${up}${hostOnly.slice(1)}/secret.debug`);
    await copyFile(full, path.join(hostOnly, 'secret.debug'));
    const w = await startWorkload<{ pid: number }>(PYTHON, [SPIN, lib]);
    workloads.push(w);
    const stacks = await sample(w.pid);
    assert.equal(named(stacks, SECRET), 0, 'symbols of a file the debuglink reached with ../');
  });
});
