// mixprof's program; bin/mixprof starts it. --no-memory-reducer (there): V8
// would otherwise run full collections ~8 s after start-up to shrink a heap of
// a few megabytes, tens of milliseconds of CPU spent while the target is sampled.
import { statSync } from 'node:fs';
import { raisePriority } from '../dist/src/startup-priority.js';

// Set by bin/mixprof for node alone (glibc read it at start): what mixprof
// starts (a recorded command, bpftrace) gets the environment it was given.
if (process.env.MIXPROF_SET_MALLOC_ARENA_MAX) {
  delete process.env.MALLOC_ARENA_MAX;
  delete process.env.MIXPROF_SET_MALLOC_ARENA_MAX;
}

// `sample` and `record` attach ahead of a busy machine's other work
// (src/priority.ts). bin/mixprof has raised this process already as
// root; started some other way, it is raised here, from its first line.
if (process.argv[2] === 'sample' || process.argv[2] === 'record') raisePriority();

// The program in one file (scripts/bundle.js), unless it is missing or older
// than the compiled modules (a build that did not bundle).
const modified = (file) => statSync(new URL(file, import.meta.url), { throwIfNoEntry: false })?.mtimeMs ?? null;
const bundled = modified('../dist/mixprof.js');
const compiled = modified('../dist/src/cli/main.js');
const { exit, main } = bundled !== null && (compiled === null || bundled >= compiled) ? await import('../dist/mixprof.js') : await import('../dist/src/cli/main.js');

exit(await main(process.argv));
