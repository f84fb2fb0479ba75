/**
 * The npm package as `npm pack` makes it for the registry, from this build:
 * the files package.json lists, with the addon and BPF object put in
 * native/prebuilds by scripts/prebuild.js (npm's prepack step, here run on a
 * staging copy so the checkout is left as it is).
 */
import { copyFile, cp, mkdir, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { REPO } from './paths.js';

/** Builds the tarball in `dir` and returns its path. */
export async function packPackage(dir: string): Promise<string> {
  const staging = path.join(dir, 'staging');
  const release = path.join(staging, 'native', 'build', 'Release');
  await mkdir(release, { recursive: true });
  for (const file of ['package.json', 'README.md']) await copyFile(path.join(REPO, file), path.join(staging, file));
  for (const sub of ['bin', 'bpf', 'scripts', path.join('dist', 'src'), path.join('native', 'src')]) await cp(path.join(REPO, sub), path.join(staging, sub), { recursive: true });
  await copyFile(path.join(REPO, 'native', 'binding.gyp'), path.join(staging, 'native', 'binding.gyp'));
  for (const file of ['mixprof_native.node', 'dwarf-sampler.bpf.o']) await copyFile(path.join(REPO, 'native', 'build', 'Release', file), path.join(release, file));
  await execa(process.execPath, [path.join(staging, 'scripts', 'prebuild.js')]);
  // The set-up part of prepack has been done by the build this copies.
  await execa('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: staging });
  const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${dir}`);
  return path.join(dir, tarball);
}
