/** Paths of the repository, from compiled tests in dist/test/. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

export const REPO = findRoot();
export const MIXPROF = path.join(REPO, 'bin', 'mixprof');
export const WORKLOADS = path.join(REPO, 'test', 'workloads');
export const FIXTURES = path.join(REPO, 'test', 'fixtures');
