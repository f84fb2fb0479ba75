/**
 * Which program bin/mixprof.js starts: the bundled file (scripts/bundle.js)
 * when it is at least as new as the compiled modules, the modules otherwise
 * (a build that ran tsc and did not bundle), so that a stale bundle never
 * runs. Checked on a copy of the package whose bundle is replaced by one
 * that only says it ran.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { copyPackage, type PackageCopy } from '../helpers/package-copy.js';

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
  /** Sets the bundle's modification time `seconds` after the compiled modules'. */
  const bundleAged = async (seconds: number): Promise<void> => {
    const compiled = (await stat(modules)).mtime.getTime() / 1000;
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
