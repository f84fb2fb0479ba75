// Regenerates src/python/sources/tables.generated.ts from DWARF of real
// interpreter builds: pyenv's 3.8-3.13 (DWARF inside libpython) and Debian
// sid's 3.14 and 3.15 with their -dbg debug files (test/fixtures/pythons.sh sid-3.X-dbg).
// Run `npm run build` first.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { nativeAddon } from '../dist/src/native.js';
import { renderTables, tablesFromDwarf } from '../dist/src/python/sources/generate-tables.js';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const pyenv = process.env.PYENV_ROOT ?? '/root/.pyenv';
const sources = ['3.8.18', '3.9.18', '3.10.13', '3.11.7', '3.12.1', '3.13.0'].map((v) => {
  const minor = Number(v.split('.')[1]);
  return { minor, debugFile: path.join(pyenv, 'versions', v, 'lib', `libpython3.${minor}.so.1.0`), label: `pyenv ${v}, libpython3.${minor}.so.1.0` };
});
for (const minor of [14, 15]) {
  const line = execFileSync('bash', [path.join(root, 'test', 'fixtures', 'pythons.sh'), `sid-3.${minor}-dbg`], { encoding: 'utf8' }).trim();
  const [, exe, debug] = line.split('\t');
  const version = execFileSync(exe, ['-c', 'import sys; print(sys.version.split()[0])'], { encoding: 'utf8' }).trim();
  sources.push({ minor, debugFile: debug, label: `Debian sid python3.${minor} ${version}, debug file from python3.${minor}-dbg` });
}

const tables = tablesFromDwarf(nativeAddon(), sources);
const out = path.join(root, 'src', 'python', 'sources', 'tables.generated.ts');
writeFileSync(out, renderTables(tables, sources));
console.log(`wrote ${out}`);
