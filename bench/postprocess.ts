/**
 * Post-processing throughput: a real recorded bpftrace stream (999 Hz on the
 * known-chain workload) replayed through parsing, chain naming, native
 * symbolization, merging and folded output, against the live target.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cachedStackTexts } from '../src/sampler/bpftrace-runner.js';
import { BpftraceStream } from '../src/sampler/bpftrace-records.js';
import { nativeAddon } from '../src/native.js';
import { formatFolded } from '../src/output/folded.js';
import { formatSvg } from '../src/output/svg.js';
import { attachTarget } from '../src/session/attach.js';
import { openTarget, readMapsText } from '../src/target/process.js';
import { WORKLOADS } from '../test/helpers/paths.js';
import { runMixprof, startWorkload } from '../test/helpers/processes.js';
import { syntheticStacks } from '../test/helpers/synthetic-stacks.js';

export interface PostprocessResult {
  readonly records: number;
  readonly samples: number;
  /** First pass, caches cold. */
  readonly coldSeconds: number;
  /** Mean of the later passes. */
  readonly warmSeconds: number;
}

export async function measurePostprocessing(python: string, seconds: number, passes: number): Promise<PostprocessResult> {
  const workload = await startWorkload(python, [path.join(WORKLOADS, 'chains.py')]);
  const dir = await mkdtemp(path.join(tmpdir(), 'mixprof-replay-'));
  try {
    const raw = path.join(dir, 'raw.jsonl');
    const r = await runMixprof(['sample', '-x', String(workload.pid), '-t', String(seconds), '-F', '999', '-o', path.join(dir, 'out.folded'), '--unwind', 'fp'], { env: { MIXPROF_TRACE_RAW: raw } });
    if (r.exitCode !== 0) throw new Error(`mixprof failed: ${r.stderr}`);
    const lines = (await readFile(raw, 'utf8')).split('\n');
    const addon = nativeAddon();
    const target = openTarget(workload.pid);
    const attached = attachTarget(addon, target, readMapsText(workload.pid)!, { extraFiles: [], nativeOnly: false }, () => undefined);
    let records = 0;
    let samples = 0;
    const times: number[] = [];
    for (let pass = 0; pass < passes; pass++) {
      const t0 = process.hrtime.bigint();
      const builder = attached.newBuilder({ hidePlumbing: true, maxNativeDepth: 32, nativeUnwind: 'fp', threadRoots: false });
      // As the runner parses them: each distinct stack text once per run.
      const stream = new BpftraceStream('text', cachedStackTexts('text'));
      for (const line of lines) {
        const event = stream.line(line);
        if (!event) continue;
        builder.apply(event);
        if (pass === 0 && event.type === 'samples') {
          records += event.samples.length;
          samples += event.samples.reduce((n, s) => n + s.count, 0);
        }
      }
      formatFolded(builder.finish().stacks, { markPython: false });
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    attached.native.close();
    const warm = times.slice(1);
    return { records, samples, coldSeconds: times[0]!, warmSeconds: warm.reduce((a, b) => a + b, 0) / Math.max(1, warm.length) };
  } finally {
    await workload.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Seconds to write the SVG flame graph of `count` distinct synthetic stacks (the median of `passes`). */
export function measureSvg(count: number, passes: number): number {
  const stacks = syntheticStacks(count);
  const times: number[] = [];
  for (let pass = 0; pass < passes; pass++) {
    const t0 = process.hrtime.bigint();
    formatSvg({ stacks, hz: 99, startTime: null, durationSeconds: null, title: 'synthetic' });
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return times.sort((a, b) => a - b)[passes >> 1]!;
}
