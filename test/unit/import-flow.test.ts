/**
 * The data flows one way: session -> sampler -> resolver -> profile ->
 * output, driven by the commands. Each stage may import the stages before
 * it (to know their records) and the shared knowledge of the machine and
 * the interpreter; none imports a stage after it, and nothing but a command
 * imports a command. README.md ("How it works") names the same folders.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { REPO } from '../helpers/paths.js';

/** In data-flow order; a folder of src/ belongs to one. */
const STAGES: readonly (readonly [string, readonly string[]])[] = [
  // What the machine, the target and its interpreter are: used by every stage.
  ['shared', ['.', 'target', 'python']],
  ['sampler', ['sampler']],
  // Names: frames, threads, and asyncio's tasks (their coroutines are frames to name).
  ['resolver', ['symbolize', 'asyncio']],
  ['profile', ['profile']],
  ['output', ['output', 'store', 'push']],
  // Runs the stages for one process.
  ['session', ['session']],
  // What a user runs: the command line and each command's run.
  ['commands', ['cli', 'sample', 'collect', 'serve', 'top', 'doctor', 'dump', 'trace']],
];

const SRC = path.join(REPO, 'src');

function stageOf(file: string): number {
  const folder = path.relative(SRC, path.dirname(file)).split(path.sep)[0] || '.';
  const index = STAGES.findIndex(([, folders]) => folders.includes(folder));
  if (index < 0) throw new Error(`src/${path.relative(SRC, file)}: its folder belongs to no stage; add it to STAGES and to the README`);
  return index;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sources(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

/** Relative imports (static, type-only and dynamic) of one source, as files. */
function importsOf(file: string, text: string): string[] {
  const found = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*)'(\.[^']+)'/g)].map((m) => m[1]!);
  return found.map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
}

/** Imports against the flow, as "importer -> imported (stage -> stage)". */
export function againstFlow(files: readonly { file: string; text: string }[]): string[] {
  const wrong: string[] = [];
  for (const { file, text } of files) {
    const from = stageOf(file);
    for (const imported of importsOf(file, text)) {
      const to = stageOf(imported);
      // A stage may import itself and the stages before it; the commands import what they run; only commands import commands.
      const allowed = to <= from || STAGES[from]![0] === 'commands';
      if (!allowed) wrong.push(`src/${path.relative(SRC, file)} -> src/${path.relative(SRC, imported)} (${STAGES[from]![0]} -> ${STAGES[to]![0]})`);
    }
  }
  return wrong;
}

test('no source imports a stage after its own', () => {
  const files = sources(SRC).map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  assert.ok(files.length > 100, `read ${files.length} sources`);
  assert.deepEqual(againstFlow(files), []);
});

test('the check finds an import against the flow, static or dynamic', () => {
  const at = (name: string): string => path.join(SRC, name);
  assert.deepEqual(
    againstFlow([
      { file: at('sampler/x.ts'), text: "import type { Frame } from '../symbolize/frame.js';" },
      { file: at('output/y.ts'), text: "const s = await import('../session/session.js');" },
      { file: at('profile/z.ts'), text: "import { a } from './profile.js';\nimport { b } from '../sampler/sampler.js';" },
    ]),
    ['src/sampler/x.ts -> src/symbolize/frame.ts (sampler -> resolver)', 'src/output/y.ts -> src/session/session.ts (output -> session)'],
  );
  assert.throws(() => againstFlow([{ file: at('elsewhere/w.ts'), text: '' }]), /belongs to no stage/);
});
