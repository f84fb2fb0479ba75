/**
 * mixprof as users get it: `npm install -g` of the package `npm pack` makes,
 * which carries the addon and the DWARF sampler's BPF object prebuilt, so
 * that nothing is compiled on the machine being profiled. Installed here
 * (Debian 12, the test machine's node and npm) and on Debian 13, in a root
 * holding trixie's own node 20, npm, python3.13 and bpftrace 0.23
 * (test/fixtures/pythons.sh trixie-root), where it profiles trixie's Python
 * with both unwinders.
 *
 * The installs leave out optional dependencies: better-sqlite3's install
 * fetches its binary from GitHub, which test machines cannot reach, and only
 * the profile store (collect, serve) needs it; doctor then warns, and stays
 * ready. Global installs of npm 11 run its install script all the same, and
 * on this machine, which has a compiler, it then builds SQLite for two
 * minutes: the Debian 12 install runs no scripts (mixprof has none, which a
 * test checks); Debian 13's root has no compiler, and its npm runs them.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { chainShares, type ChainsReady } from '../helpers/chains.js';
import { parseFolded } from '../helpers/folded.js';
import { packPackage } from '../helpers/package-tarball.js';
import { WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, sampleForCpu, startWorkload, type Workload } from '../helpers/processes.js';
import { debianPython, pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

/** Where npm keeps its cache: the host install fills it, the Debian 13 install reads it offline. */
const NPM_CACHE = path.join(homedir(), '.npm');
const INSTALL = ['install', '-g', '--omit=optional', '--no-audit', '--no-fund'];
const CHAINS = ['nested', 'method', 'recursion', 'callback', 'zlib', 'read'];

/** Every chain's thread got samples, and nearly all of them show the chain (or its first frames). */
function assertChains(folded: string, ready: ChainsReady, label: string): void {
  const shares = chainShares(parseFolded(folded), ready);
  for (const name of CHAINS) {
    const { samples, right } = shares.get(name)!;
    assert.ok(samples >= 20, `${label}: only ${samples} samples of the ${name} chain`);
    assert.ok(right / samples >= 0.9, `${label}: ${right}/${samples} samples of the ${name} chain show its Python frames`);
  }
}

let dir: string;
let tarball: string;

before(async () => {
  assertRoot();
  dir = await mkdtemp(path.join(tmpdir(), 'mixprof-install-'));
  tarball = await packPackage(dir);
});
after(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the npm package, installed with npm install -g (Debian 12)', () => {
  let prefix: string;
  let mixprof: string;
  let workload: Workload<ChainsReady>;

  before(async () => {
    prefix = path.join(dir, 'prefix');
    await execa('npm', [...INSTALL, '--prefer-offline', '--ignore-scripts', '--prefix', prefix, tarball], { timeout: 600_000, env: { npm_config_cache: NPM_CACHE } });
    mixprof = path.join(prefix, 'bin', 'mixprof');
    workload = await startWorkload<ChainsReady>(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'chains.py')]);
  });
  after(async () => {
    await workload?.stop();
  });

  test('the package holds the prebuilt addon and BPF object, the sources to rebuild them, and no build directory or tests', async () => {
    const files = (await execa('tar', ['-tzf', tarball])).stdout.split('\n');
    for (const file of ['native/prebuilds/linux-x64/node.napi.glibc.node', 'native/prebuilds/linux-x64/dwarf-sampler.bpf.o', 'native/binding.gyp', 'bin/mixprof', 'dist/src/cli/main.js', 'bpf/python-sampler.bt']) {
      assert.ok(files.includes(`package/${file}`), `${file} is not in the package`);
    }
    assert.deepEqual(files.filter((f) => /^package\/(native\/build|dist\/test|test|scripts)\//.test(f)), []);
  });

  test('npm compiles nothing: no install script, no binding.gyp at the top, no build directory after installing', async () => {
    const installed = path.join(prefix, 'lib', 'node_modules', 'mixprof');
    const pkg = JSON.parse(await readFile(path.join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string>; gypfile?: boolean };
    for (const script of ['preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts?.[script], undefined, `a ${script} script`);
    assert.notEqual(pkg.gypfile, true);
    assert.equal(existsSync(path.join(installed, 'binding.gyp')), false);
    assert.equal(existsSync(path.join(installed, 'native', 'build')), false);
  });

  test('the installed mixprof loads the prebuilt addon: doctor says ready', async () => {
    const r = await execa(mixprof, ['doctor'], { reject: false });
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ {2}ok {4}native addon +loads \(.*\/lib\/node_modules\/mixprof\/native\/prebuilds\/linux-x64\/node\.napi\.glibc\.node\)$/m);
    assert.match(r.stdout, /^ {2}ok {4}DWARF sampler /m);
  });

  for (const unwind of ['dwarf', 'fp'] as const) {
    test(`the installed mixprof samples a Python process's call chains (--unwind ${unwind})`, async () => {
      const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--threads', '--mark-python', '--unwind', unwind], workload.pid, 6, 120_000, {}, [mixprof]);
      assert.equal(r.exitCode, 0, r.stderr);
      assertChains(r.stdout, workload.ready, `pyenv 3.11, ${unwind}`);
      assert.equal(await bpftraceCount(), 0);
    });
  }
});

interface KeeperReady {
  pid: number;
}

/**
 * The Debian 13 root as a machine of its own: a mount namespace held open by
 * a process that only waits, where the cached root is the lower layer of an
 * overlay (what the test installs goes to its upper layer, in the test's
 * directory, and the cache stays as built), with /proc, /sys, /dev and npm's
 * cache bound in. Commands enter it with nsenter and chroot, exec'd all the
 * way: a command's PID is the program's own, and signals reach it.
 */
async function startDebian13(root: string, dir: string): Promise<{ keeper: Workload<KeeperReady>; run(argv: readonly string[]): [string, ...string[]] }> {
  const merged = path.join(dir, 'merged');
  for (const sub of ['upper', 'work', 'merged']) await mkdir(path.join(dir, sub), { recursive: true });
  const script = [
    'root=$1; dir=$2; cache=$3',
    'mount -t overlay overlay -o "lowerdir=$root,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged" || exit 96',
    'for d in proc sys dev; do mount --rbind "/$d" "$dir/merged/$d" || exit 96; done',
    'mount --bind "$cache" "$dir/merged/root/.npm" || exit 96',
    `echo 'READY {"pid": '$$'}'`,
    'exec sleep infinity',
  ].join('; ');
  const keeper = await startWorkload<KeeperReady>('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', root, dir, NPM_CACHE]);
  const run = (argv: readonly string[]): [string, ...string[]] => ['nsenter', '--mount', `--target=${keeper.pid}`, 'chroot', merged, '/usr/bin/env', '-i', 'HOME=/root', 'PATH=/usr/local/bin:/usr/bin:/bin', ...argv];
  return { keeper, run };
}

describe("on Debian 13: npm install -g with trixie's node and npm, then its python3.13 profiled with bpftrace 0.23 and the DWARF sampler", () => {
  let debian13: Awaited<ReturnType<typeof startDebian13>>;
  let workload: Workload<ChainsReady>;
  const inside = (argv: readonly string[], timeout = 120_000) => {
    const [command, ...args] = debian13.run(argv);
    return execa(command, args, { reject: false, timeout });
  };

  before(async () => {
    const python = await debianPython('trixie-root');
    const root = path.dirname(path.dirname(path.dirname(python.executable)));
    debian13 = await startDebian13(root, path.join(dir, 'debian13'));
    // The overlay is mounted in the keeper's namespace only: copied from there.
    const merged = path.join(dir, 'debian13', 'merged');
    await execa('nsenter', ['--mount', `--target=${debian13.keeper.pid}`, 'cp', tarball, path.join(merged, 'tmp', 'mixprof.tgz')]);
    await execa('nsenter', ['--mount', `--target=${debian13.keeper.pid}`, 'cp', path.join(WORKLOADS, 'chains.py'), path.join(merged, 'tmp', 'chains.py')]);
  });
  after(async () => {
    await workload?.stop();
    await debian13?.keeper.stop();
  });

  test('npm install -g mixprof with trixie\'s npm 9 and node 20: mixprof on PATH', async () => {
    const install = await inside(['npm', ...INSTALL, '--offline', '/tmp/mixprof.tgz'], 600_000);
    assert.equal(install.exitCode, 0, `npm install failed: ${install.stderr}`);
    const version = await inside(['mixprof', '--version']);
    assert.equal(version.exitCode, 0, version.stderr);
  });

  test('before its libraries are installed, doctor names the Debian 13 package to install (libdw1t64), exit 1', async () => {
    const r = await inside(['mixprof', 'doctor']);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^ {2}FAIL {2}native addon +the native addon needs libdw\.so\.1, which is not installed; to fix: install it with `apt-get install libdw1t64`$/m);
  });

  test('with libdw1t64 unpacked, doctor is ready and runs bpftrace 0.23', async () => {
    const unpack = await inside(['sh', '-c', 'dpkg -x /var/cache/apt/archives/libdw1t64_*.deb /']);
    assert.equal(unpack.exitCode, 0, unpack.stderr);
    const r = await inside(['mixprof', 'doctor']);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^ {2}ok {4}bpftrace +0\.23\.\d+ \(bpftrace\) runs programs/m);
  });

  for (const unwind of ['dwarf', 'fp'] as const) {
    test(`trixie's python3.13: every chain's Python frames (--unwind ${unwind})`, async () => {
      const [command, ...args] = debian13.run(['python3.13', '/tmp/chains.py']);
      workload ??= await startWorkload<ChainsReady>(command, args);
      const r = await sampleForCpu(['sample', '-x', String(workload.pid), '--threads', '--mark-python', '--unwind', unwind], workload.pid, 6, 120_000, {}, debian13.run(['mixprof']));
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stderr, /Python 3\.13\.\d+ in \/usr\/bin\/python3\.13; offsets from the interpreter's _Py_DebugOffsets/);
      assertChains(r.stdout, workload.ready, `Debian 13's python3.13, ${unwind}`);
      assert.equal(await bpftraceCount(), 0);
    });
  }
});
