/**
 * `npm run soak`: mixprof at 999 Hz for 10 minutes per run, following its
 * memory, to show that what it holds is bounded by the distinct stacks and
 * threads of the target, not by the samples taken. Two targets: ten threads
 * in known chains, and one starting and ending hundreds of threads a second;
 * each with both unwinders. Written to bench/SOAK.md.
 *
 *   --minutes N   minutes per run (default 10)
 *   --hz N        sampling rate (default 999)
 *   --only NAME   runs whose name contains NAME (e.g. "churn fp")
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO, WORKLOADS } from '../test/helpers/paths.js';
import { startWorkload } from '../test/helpers/processes.js';
import { pyenvPython } from '../test/helpers/pythons.js';
import { cpuSeconds } from './processes.js';
import { mixprof, type Unwind } from './profilers.js';

interface Point {
  /** Seconds since sampling started. */
  readonly t: number;
  /** Resident memory in bytes (VmRSS) of mixprof's Node process and of bpftrace (fp only). */
  readonly mixprof: number;
  readonly bpftrace: number;
}

interface SoakResult {
  readonly name: string;
  readonly seconds: number;
  readonly samples: number;
  readonly lost: number;
  /** Stacks bpftrace could not look up (fp): samples that lost their native or kernel frames. */
  readonly stackErrors: string;
  readonly problems: string;
  readonly threads: number;
  readonly points: Point[];
  readonly cpu: number;
  readonly exitCode: number | null;
}

const MiB = 2 ** 20;
const log = (line: string): void => void process.stderr.write(`soak: ${line}\n`);

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

async function rss(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}

async function soak(name: string, python: string, script: string, unwind: Unwind, hz: number, seconds: number): Promise<SoakResult> {
  const workload = await startWorkload(python, [path.join(WORKLOADS, script)]);
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-bench-'));
  try {
    // -t ends the run; the output goes to a scratch file, the report to stderr is what is read.
    const run = mixprof(hz, unwind, ['-t', String(seconds)]).start(workload.pid, path.join(dir, 'out.folded'));
    run.done.catch(() => undefined);
    await run.ready;
    const start = Date.now();
    const points: Point[] = [];
    let cpu = 0;
    const sample = async (): Promise<void> => {
      const [node, bpftrace] = run.pids();
      const point = { t: (Date.now() - start) / 1000, mixprof: await rss(node), bpftrace: await rss(bpftrace) };
      if (point.mixprof > 0) points.push(point);
      cpu = ((await cpuSeconds(node!)) ?? cpu) + (bpftrace ? ((await cpuSeconds(bpftrace)) ?? 0) : 0);
    };
    const timer = setInterval(() => void sample(), 5000);
    const exitCode = await new Promise<number | null>((resolve) => {
      void run.done.then(() => resolve(0));
    });
    clearInterval(timer);
    const stderr = run.stderr();
    const result = {
      name,
      seconds: Number(/ over ([\d.]+) s/.exec(stderr)?.[1] ?? NaN),
      samples: Number(/mixprof: (\d+) samples/.exec(stderr)?.[1] ?? NaN),
      lost: Number(/lost events: (\d+)/.exec(stderr)?.[1] ?? NaN),
      stackErrors: /could not look up (\d+) stacks/.exec(stderr)?.[1] ?? '0',
      problems: /^ {2}note: (\d+ samples [^\n]*)/m.exec(stderr)?.[1] ?? 'none',
      threads: Number(/, (\d+) threads?, lost/.exec(stderr)?.[1] ?? NaN),
      points,
      cpu,
      exitCode,
    };
    if (Number.isNaN(result.samples)) throw new Error(`${name}: no report from mixprof:\n${stderr}`);
    return result;
  } finally {
    await workload.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Resident memory at the first point at or after t seconds. */
function at(points: Point[], t: number, of: 'mixprof' | 'bpftrace'): number {
  return (points.find((p) => p.t >= t) ?? points[points.length - 1]!)[of];
}

async function main(): Promise<void> {
  const minutes = Number(argValue('--minutes', '10'));
  const hz = Number(argValue('--hz', '999'));
  const only = argValue('--only', '');
  const seconds = minutes * 60;
  const python = pyenvPython('3.11.7').executable;
  const runs: [string, string, Unwind][] = [
    ['chains fp', 'chains.py', 'fp'],
    ['chains dwarf', 'chains.py', 'dwarf'],
    ['churn fp', 'churn.py', 'fp'],
    ['churn dwarf', 'churn.py', 'dwarf'],
  ];
  const results: SoakResult[] = [];
  for (const [name, script, unwind] of runs.filter(([n]) => n.includes(only))) {
    log(`${name}: ${minutes} min at ${hz} Hz`);
    const result = await soak(name, python, script, unwind, hz, seconds);
    log(`${name}: ${result.samples} samples, ${result.lost} lost, mixprof ${(at(result.points, 60, 'mixprof') / MiB).toFixed(0)} MiB at 1 min, ${(result.points.at(-1)!.mixprof / MiB).toFixed(0)} MiB at the end`);
    results.push(result);
  }

  const mib = (bytes: number): string => `${(bytes / MiB).toFixed(0)}`;
  const file = path.join(REPO, 'bench', 'SOAK.md');
  // Runs not repeated this time (--only) keep their rows from the last file.
  const previous = await readFile(file, 'utf8').catch(() => '');
  const kept = (table: 1 | 2): string[] => {
    const section = previous.split('\n## ')[table] ?? '';
    return section.split('\n').filter((line) => runs.some(([name]) => line.startsWith(`| ${name} |`) && !results.some((r) => r.name === name)));
  };
  const lines = [
    '# mixprof soak results',
    '',
    `Written by \`npm run soak\` on ${new Date().toISOString().slice(0, 10)}: ${minutes} minutes per run at ${hz} Hz, pyenv CPython 3.11.7.`,
    'Targets: test/workloads/chains.py (10 threads in known chains) and test/workloads/churn.py (about 20 live',
    'threads, several hundred started and ended a second). Resident memory (VmRSS) of the mixprof process and of',
    'bpftrace is read every 5 s; "growth" is the change over the second half of the run. mixprof keeps counts per',
    'distinct stack; what else grows with junk addresses from frame-pointer walks is capped.',
    '',
    '## Memory and lost events',
    '',
    '| run | samples | lost events | threads | mixprof MiB at 1 min / half / end (max) | growth, second half | stack look-ups failed | notes | bpftrace MiB at 1 min / max | CPU of mixprof + bpftrace |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...kept(1),
    ...results.map((r) => {
      const half = at(r.points, seconds / 2, 'mixprof');
      const end = r.points.at(-1)!.mixprof;
      const max = Math.max(...r.points.map((p) => p.mixprof));
      return `| ${r.name} | ${r.samples} | ${r.lost} | ${r.threads} | ${mib(at(r.points, 60, 'mixprof'))} / ${mib(half)} / ${mib(end)} (${mib(max)}) | ${((100 * (end - half)) / half).toFixed(1)}% | ${r.stackErrors} | ${r.problems} | ${r.name.endsWith('fp') ? `${mib(at(r.points, 60, 'bpftrace'))} / ${mib(Math.max(...r.points.map((p) => p.bpftrace)))}` : 'none'} | ${((100 * r.cpu) / r.seconds).toFixed(1)}% |`;
    }),
    '',
    '## Resident memory over time',
    '',
    'MiB of the mixprof process, every minute:',
    '',
    '| run | ' + Array.from({ length: minutes }, (_, i) => `${i + 1}`).join(' | ') + ' |',
    '| --- | ' + Array.from({ length: minutes }, () => '---').join(' | ') + ' |',
    ...kept(2),
    ...results.map((r) => `| ${r.name} | ${Array.from({ length: minutes }, (_, i) => mib(at(r.points, (i + 1) * 60 - 5, 'mixprof'))).join(' | ')} |`),
    '',
  ];
  await writeFile(file, lines.join('\n'));
  log(`written to ${file}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`soak: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
