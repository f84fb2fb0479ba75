// Runs the compiled tests with Node's test runner: unit tests, then the
// integration tests one file at a time (they load BPF programs and compete for
// the CPU, which would skew sample counts if run side by side).
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const list = (dir) => {
  const full = path.join(root, 'dist', 'test', dir);
  return existsSync(full) ? readdirSync(full).filter((f) => f.endsWith('.test.js')).sort().map((f) => path.join(full, f)) : [];
};
const only = process.argv.slice(2);
const files = [...list('unit'), ...list('integration')].filter((f) => only.length === 0 || only.some((o) => f.includes(o)));
if (files.length === 0) {
  console.error('run-tests: no compiled tests found; run `npm run build` first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
