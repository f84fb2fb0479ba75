/**
 * `mixprof trace`: attaches the tracing program to a running interpreter's
 * USDT probes, names each function at its first call (while its code object
 * lives), and puts the report together when it ends: after --time, at
 * Ctrl-C, or when the target exits.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { MixprofError } from '../errors.js';
import { nativeAddon } from '../native.js';
import { CodeObjectReader } from '../python/code-objects.js';
import { versionString } from '../python/layout.js';
import { startBpftrace } from '../sampler/bpftrace-process.js';
import { findBpftrace } from '../sampler/bpftrace.js';
import { MAP_KEYS_MAX } from '../sampler/program.js';
import type { StopReason } from '../sampler/sampler.js';
import { ensureTracefs } from '../sampler/tracefs.js';
import { findPython } from '../session/attach.js';
import { notAttachedError } from '../session/sampler-outcome.js';
import { onStopSignals } from '../stop-signals.js';
import { parseMaps } from '../target/maps.js';
import { processMemory } from '../target/memory.js';
import { isAlive, openTarget, readMapsText } from '../target/process.js';
import { functionRows, type FunctionName, type IsPackage } from './function-rows.js';
import { TraceCountsBuilder } from './trace-counts.js';
import { traceProgram } from './trace-program.js';
import { parseTraceLine, type TraceRecord } from './trace-records.js';
import type { TraceReport } from './trace-report.js';
import { interpreterProbes, noCallsLine, probeFile } from './usdt-probes.js';

export interface TraceOptions {
  readonly pid: number;
  /** Seconds from the probes' attaching; null: until Ctrl-C or the target's exit. */
  readonly durationSeconds: number | null;
  readonly match: RegExp | null;
  readonly extraFiles: readonly string[];
}

/** Whether a folder of the target's (seen through its root) holds an __init__.py; each folder looked at once. */
function packageFolders(root: string): IsPackage {
  const known = new Map<string, boolean>();
  return (dir) => {
    let is = known.get(dir);
    if (is === undefined) known.set(dir, (is = existsSync(path.join(root, dir, '__init__.py'))));
    return is;
  };
}

export async function traceProcess(options: TraceOptions, log: (line: string) => void): Promise<TraceReport> {
  const target = openTarget(options.pid);
  const addon = nativeAddon();
  const mapsText = readMapsText(target.pid);
  if (mapsText === null) throw new MixprofError('NO_SUCH_PROCESS', `process ${target.pid} exited`, 'start the target again and pass its new PID');
  const memory = processMemory(addon, target.pid);
  const found = findPython(addon, memory, target, parseMaps(mapsText), options);
  if (!found.interpreter) {
    throw new MixprofError('UNSUPPORTED_PYTHON', found.why, found.found ? 'use `mixprof sample`, which profiles without the Python frames too' : 'trace a Python process: pgrep -a python');
  }
  const { interpreter, layout } = found;
  const python = versionString(layout.version);
  const groups = interpreterProbes(addon, target, interpreter);
  if (!groups.functions) log(noCallsLine(layout.version));
  const bpftrace = await findBpftrace();
  await ensureTracefs(bpftrace, log, 'or use a bpftrace that does not need it, such as 0.23, with MIXPROF_BPFTRACE=...');

  // Each function named at its first call: its code object may be gone by the end.
  const reader = new CodeObjectReader(memory, layout);
  const names = new Map<bigint, FunctionName>();
  const nameOf = (code: bigint): FunctionName | null => {
    let name = names.get(code);
    if (!name) {
      // An unreadable one is tried again later (the reader reads an address at most once a second).
      const info = reader.code(code);
      if (!info) return null;
      names.set(code, (name = { qualname: info.qualname, filename: info.filename, firstLineNo: info.firstLineNo }));
    }
    return name;
  };
  const counts = new TraceCountsBuilder();
  let attachedAt: number | null = null;
  // When bpftrace was asked to stop, on its clock (CLOCK_MONOTONIC): calls begun after it are left out.
  let stopNs: bigint | null = null;
  const running = await startBpftrace<TraceRecord>({
    bpftrace: bpftrace.path,
    // -p: the probes' semaphores are set in this process only, and only its calls trap.
    args: ['-f', 'json', '-p', String(target.pid), '-e', traceProgram(layout, interpreter.runtimeAddress, groups, probeFile(target, bpftrace))],
    env: { BPFTRACE_MAP_KEYS_MAX: String(MAP_KEYS_MAX), BPFTRACE_STRLEN: '64' },
    durationSeconds: options.durationSeconds,
    isTargetAlive: () => isAlive(target.pid),
    parseLine: parseTraceLine,
    signalOf: (record) => (record.type === 'ready' ? 'ready' : null),
    onRecord: (record) => {
      if (record.type === 'code') nameOf(record.address);
      else counts.apply(record);
    },
    onStop: () => {
      stopNs = process.hrtime.bigint();
    },
    onAttached: () => {
      attachedAt = Date.now();
      const what = [groups.functions ? 'calls' : null, groups.gc ? 'garbage collections' : null, groups.imports ? 'imports' : null].filter((w) => w !== null).join(', ');
      log(`mixprof: tracing ${what} of process ${target.pid} (${target.comm}, Python ${python})${options.durationSeconds ? ` for ${Number(options.durationSeconds.toFixed(1))} s` : ''}; Ctrl-C to stop`);
    },
  });
  // The first stop signal ends tracing and the report is still made; bpftrace then prints its counts, which a second signal does not cut short (a third abandons them).
  const removeSignals = onStopSignals((before) => {
    if (before === 0) running.stop('interrupted' satisfies StopReason);
    else if (before === 1) log('mixprof: stopping: bpftrace is printing its counts; interrupt again to abandon them');
    else running.kill();
  });
  let result;
  try {
    result = await running.done;
  } finally {
    removeSignals();
  }
  if (!result.attached) throw notAttachedError(result, target.pid, { what: 'tracing', line: 'tracing' });
  if (!counts.complete) {
    throw new MixprofError('BPFTRACE_FAILED', `bpftrace ended without printing its counts (${result.killed ? 'killed' : result.signal ? `killed by ${result.signal}` : `exit status ${result.exitCode}`})${result.errors[0] ? `: ${result.errors[0]}` : ''}`, 'run again, and stop it with one Ctrl-C');
  }
  const traced = counts.counts(stopNs);
  let calls = 0;
  let unnamedCalls = 0;
  for (const [code, c] of traced.codes) {
    calls += c.calls;
    // A name missed at the first call (its line lost) is read now, if the process still runs.
    if (code !== 0n && nameOf(code) === null) unnamedCalls += c.calls;
  }
  const isPackage = packageFolders(target.root);
  const all = functionRows(traced.codes, nameOf, { isPackage, match: null });
  const seconds = traced.seconds ?? (attachedAt === null ? 0 : Math.max(0, result.stoppedAt - attachedAt) / 1000);
  return {
    pid: target.pid,
    comm: target.comm,
    cwd: target.cwd,
    python,
    seconds,
    traced: groups,
    functions: options.match ? functionRows(traced.codes, nameOf, { isPackage, match: options.match }) : all,
    functionCount: all.length,
    matched: options.match !== null,
    calls,
    unattributedCalls: traced.codes.get(0n)?.calls ?? 0,
    unnamedCalls,
    deeperCalls: traced.deeperCalls,
    openCalls: traced.openCalls,
    gc: traced.gc,
    imports: traced.imports,
  };
}
