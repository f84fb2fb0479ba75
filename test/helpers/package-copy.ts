/**
 * A copy of the built package whose native build files a test may replace
 * (a stale or refused BPF object): mixprof run from it finds its files
 * beside itself, as an installed copy does.
 */
import { copyFile, cp, mkdir, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { FIXTURES, REPO } from './paths.js';

export interface PackageCopy {
  readonly root: string;
  /** Its bin/mixprof. */
  readonly mixprof: string;
  /** The DWARF sampler's BPF object it loads. */
  readonly bpfObject: string;
}

export async function copyPackage(dir: string): Promise<PackageCopy> {
  const root = path.join(dir, 'package');
  const release = path.join(root, 'native', 'build', 'Release');
  await mkdir(release, { recursive: true });
  await copyFile(path.join(REPO, 'package.json'), path.join(root, 'package.json'));
  for (const sub of ['bin', 'bpf', 'dist']) await cp(path.join(REPO, sub), path.join(root, sub), { recursive: true });
  for (const file of ['mixprof_native.node', 'dwarf-sampler.bpf.o']) await copyFile(path.join(REPO, 'native', 'build', 'Release', file), path.join(release, file));
  await symlink(path.join(REPO, 'node_modules'), path.join(root, 'node_modules'));
  return { root, mixprof: path.join(root, 'bin', 'mixprof'), bpfObject: path.join(release, 'dwarf-sampler.bpf.o') };
}

/** Compiles test/fixtures/bpf/NAME.bpf.c as the addon's build compiles the sampler. */
export async function buildFixtureBpf(name: string, output: string): Promise<void> {
  const build = path.join(REPO, 'native', 'build');
  const vmlinux = (await readdir(build, { recursive: true })).find((f) => path.basename(f) === 'vmlinux.h');
  if (!vmlinux) throw new Error(`no vmlinux.h under ${build}: build the addon first`);
  const source = path.join(FIXTURES, 'bpf', `${name}.bpf.c`);
  await execa('clang', ['-O2', '-g', '-Wall', '-target', 'bpf', '-D__TARGET_ARCH_x86', `-I${path.dirname(path.join(build, vmlinux))}`, `-I${path.join(REPO, 'bpf')}`, '-c', source, '-o', output]);
}
