/**
 * The interpreters the integration tests run. pyenv builds come with machines
 * of this kind; Debian's builds are unpacked into private roots by
 * test/fixtures/pythons.sh. A missing one fails the test that needs it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { REPO } from './paths.js';

export interface TestPython {
  readonly name: string;
  readonly executable: string;
  /** A separate debug file to pass with -d, when the build needs one. */
  readonly debugFile: string | null;
}

export function pyenvPython(version: string): TestPython {
  const minor = version.split('.').slice(0, 2).join('.');
  const executable = path.join(process.env['PYENV_ROOT'] ?? '/root/.pyenv', 'versions', version, 'bin', `python${minor}`);
  if (!existsSync(executable)) throw new Error(`test interpreter missing: ${executable} (pyenv ${version} is expected on machines of this kind)`);
  return { name: `pyenv-${version}`, executable, debugFile: null };
}

export async function debianPython(name: string): Promise<TestPython> {
  const { stdout } = await execa('bash', [path.join(REPO, 'test', 'fixtures', 'pythons.sh'), name], { timeout: 600_000 });
  const [, executable, debug] = stdout.trim().split('\t');
  if (!executable) throw new Error(`test/fixtures/pythons.sh ${name} printed no interpreter`);
  return { name, executable, debugFile: debug && debug !== '-' ? debug : null };
}

/** Another Debian release's bpftrace (trixie-bpftrace, sid-bpftrace), unpacked with its libraries by test/fixtures/pythons.sh. */
export async function testBpftrace(name: string): Promise<string> {
  const { executable } = await debianPython(name);
  return executable;
}

/** An interpreter the system's packages installed. */
export function systemPython(executable: string): TestPython {
  if (!existsSync(executable)) throw new Error(`test interpreter missing: ${executable} (Debian's python3.11 package is expected on machines of this kind)`);
  return { name: path.basename(executable), executable, debugFile: null };
}
