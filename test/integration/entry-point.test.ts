/**
 * Which program bin/mixprof.js starts: the bundled file (scripts/bundle.js)
 * when it is at least as new as the compiled modules, the modules otherwise
 * (a build that ran tsc and did not bundle), so that a stale bundle never
 * runs. Checked on a copy of the package whose bundle is replaced by one
 * that only says it ran. And the environment bin/mixprof gives node alone
 * (MALLOC_ARENA_MAX=1), which what mixprof starts does not inherit.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { copyPackage, type PackageCopy } from '../helpers/package-copy.js';
import { MIXPROF } from '../helpers/paths.js';

const MARKER = 'the bundled program ran';
const STAND_IN = `export async function main() { process.stdout.write(${JSON.stringify(MARKER)} + '\\n'); return 0; }\nexport function exit(code) { process.exitCode = code; }\n`;

describe("bin/mixprof.js's choice of program", () => {
  let dir: string;
  let copy: PackageCopy;
  let bundle: string;
  let modules: string;
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-entry-'));
    copy = await copyPackage(dir);
    bundle = path.join(copy.root, 'dist', 'mixprof.js');
    modules = path.join(copy.root, 'dist', 'src', 'cli', 'main.js');
    await writeFile(bundle, STAND_IN);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const version = async (): Promise<string> => (await execa('node', [path.join(copy.root, 'bin', 'mixprof.js'), '--version'])).stdout.trim();
  /**
   * Sets the bundle's modification time `seconds` after the compiled modules'.
   * Both are set to whole seconds: a copy's times have nanoseconds, which a
   * time read back in milliseconds would round below the modules' own.
   */
  const bundleAged = async (seconds: number): Promise<void> => {
    const compiled = Math.floor(Date.now() / 1000);
    await utimes(modules, compiled, compiled);
    await utimes(bundle, compiled + seconds, compiled + seconds);
  };

  test('the bundle when it is newer than the modules, or as new', async () => {
    await bundleAged(10);
    assert.equal(await version(), MARKER);
    await bundleAged(0);
    assert.equal(await version(), MARKER);
  });

  test('the modules when the bundle is older than them', async () => {
    await bundleAged(-10);
    assert.match(await version(), /^\d+\.\d+\.\d+/);
  });

  test('the modules when there is no bundle', async () => {
    await rm(bundle);
    try {
      assert.match(await version(), /^\d+\.\d+\.\d+/);
    } finally {
      await writeFile(bundle, STAND_IN);
    }
  });
});

describe("bin/mixprof's malloc arenas", () => {
  /** What a command recorded by mixprof sees: its own MALLOC_ARENA_MAX, and its parent's (mixprof's node) as node was started. */
  const seen = async (env: Record<string, string | undefined>): Promise<{ own: string; node: string[] }> => {
    const script = 'echo "own=${MALLOC_ARENA_MAX-unset}"; tr "\\0" "\\n" < /proc/$PPID/environ | grep "^MALLOC_ARENA_MAX=" || true';
    const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-arena-'));
    try {
      // The command ends before sampling starts: mixprof says so, and exits non-zero.
      const run = await execa(MIXPROF, ['record', '-o', path.join(dir, 'out.folded'), '--', '/bin/sh', '-c', script], { env, extendEnv: false, reject: false });
      const lines = run.stdout.split('\n');
      return { own: lines.find((l) => l.startsWith('own='))!.slice(4), node: lines.filter((l) => l.startsWith('MALLOC_ARENA_MAX=')) };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  };
  const base = { PATH: process.env.PATH, HOME: process.env.HOME };

  test('node runs with one arena; the recorded command does not inherit it', async () => {
    const { own, node } = await seen(base);
    assert.deepEqual(node, ['MALLOC_ARENA_MAX=1']);
    assert.equal(own, 'unset');
  });

  test("a user's own MALLOC_ARENA_MAX is kept, for node and for the command", async () => {
    const { own, node } = await seen({ ...base, MALLOC_ARENA_MAX: '4' });
    assert.deepEqual(node, ['MALLOC_ARENA_MAX=4']);
    assert.equal(own, '4');
  });
});
