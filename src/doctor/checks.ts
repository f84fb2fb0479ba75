/**
 * `mixprof doctor`'s checks, run on this machine: the settings judged in
 * judge.ts, then each part mixprof needs tried for real (the addon loaded,
 * the DWARF sampler loaded and attached to this process, bpftrace run), so
 * that what it reports is what sampling will meet.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { release } from 'node:os';
import { findBpftrace, type Bpftrace } from '../sampler/bpftrace.js';
import { MOUNT_TRACEFS, needsTracefs, tracefsMounted } from '../sampler/tracefs.js';
import { isMixprofError } from '../errors.js';
import { readTextOrNull as readText } from '../read-text.js';
import { addonFile, dwarfSamplerObject, nativeAddon, type NativeAddon } from '../native.js';
import { judgeBtf, judgeLockdown, judgePrivileges, judgePtraceScope, judgeSampleRate, judgeTracefs, type CheckResult } from './judge.js';

/** The rate users are told to reach for at most (perf's and py-spy's range). */
const USUAL_MAX_HZ = 1000;

function failure(name: string, error: unknown, fallbackFix: string): CheckResult {
  const message = (error as Error).message.split('\n')[0] ?? String(error);
  return { name, status: 'fail', detail: message, fix: isMixprofError(error) && error.hint ? error.hint : fallbackFix };
}

function checkAddon(): { result: CheckResult; addon: NativeAddon | null } {
  try {
    const addon = nativeAddon();
    return { result: { name: 'native addon', status: 'ok', detail: `loads (${addonFile()})` }, addon };
  } catch (error) {
    return { result: failure('native addon', error, 'reinstall mixprof'), addon: null };
  }
}

/** Loads the DWARF sampler and attaches it to this process's clocks for a moment. */
function checkDwarfSampler(addon: NativeAddon | null): CheckResult {
  const name = 'DWARF sampler';
  if (addon === null) return { name, status: 'fail', detail: 'not tried: the native addon did not load', fix: 'fix the native addon first' };
  let symbolizer;
  try {
    symbolizer = new addon.Symbolizer({ maps: readFileSync('/proc/self/maps', 'utf8') });
    const sampler = new addon.DwarfSampler({ object: dwarfSamplerObject(), pid: process.pid, hz: 1, maxFrames: 8, stackBytes: 1024, ringMiB: 4, symbolizer });
    try {
      sampler.start();
      sampler.stop();
    } finally {
      sampler.close();
    }
    return { name, status: 'ok', detail: 'its BPF program loads and attaches (the default unwinder, --mode wall, --subprocesses)' };
  } catch (error) {
    return failure(name, error, "check that this kernel allows BPF (root, lockdown); MIXPROF_DEBUG=1 mixprof sample shows libbpf's messages");
  } finally {
    symbolizer?.close();
  }
}

/** Finds bpftrace and runs a program that only exits. */
async function checkBpftrace(): Promise<{ result: CheckResult; bpftrace: Bpftrace | null }> {
  const name = 'bpftrace';
  let bpftrace: Bpftrace;
  try {
    bpftrace = await findBpftrace();
  } catch (error) {
    const message = (error as Error).message.split('\n')[0]!;
    return {
      result: {
        name,
        status: 'warn',
        detail: `${message}: only --unwind fp needs it (the default unwinds with the DWARF sampler)`,
        fix: isMixprofError(error) && error.hint ? error.hint : 'install bpftrace 0.17 or newer',
      },
      bpftrace: null,
    };
  }
  const version = bpftrace.version.join('.');
  if (needsTracefs(bpftrace) && !tracefsMounted()) {
    return { result: { name, status: 'ok', detail: `${version} (${bpftrace.path}); not run, as it needs tracefs (below)` }, bpftrace };
  }
  // A fixed program: nothing from outside goes into it.
  const { execa } = await import('execa');
  const run = await execa(bpftrace.path, ['-e', 'BEGIN { exit(); }'], { reject: false, timeout: 60_000, stdin: 'ignore' });
  if (run.failed) {
    const lines = String(run.stderr || run.shortMessage).split('\n');
    const why = lines.find((l) => /error/i.test(l)) ?? lines[0];
    return {
      result: { name, status: 'warn', detail: `${version} (${bpftrace.path}) could not run a program: ${why}; only --unwind fp needs it`, fix: 'check that this kernel allows BPF (root, lockdown), or leave --unwind at its default' },
      bpftrace,
    };
  }
  return { result: { name, status: 'ok', detail: `${version} (${bpftrace.path}) runs programs (--unwind fp)` }, bpftrace };
}

/** better-sqlite3 is optional: only collect and serve's profile store needs it. */
function checkProfileStore(): CheckResult {
  try {
    createRequire(import.meta.url)('better-sqlite3');
    return { name: 'profile store', status: 'ok', detail: 'better-sqlite3 loads (mixprof collect, serve)' };
  } catch (error) {
    return {
      name: 'profile store',
      status: 'warn',
      detail: `better-sqlite3 does not load (${(error as Error).message.split('\n')[0]}): only mixprof collect and serve need it`,
      fix: 'install it beside mixprof: `npm install better-sqlite3` in the mixprof package',
    };
  }
}

export async function runChecks(): Promise<CheckResult[]> {
  const results: CheckResult[] = [
    judgePrivileges(readText('/proc/self/status') ?? ''),
    judgeBtf(existsSync('/sys/kernel/btf/vmlinux'), release()),
    judgeLockdown(readText('/sys/kernel/security/lockdown')),
    judgePtraceScope(readText('/proc/sys/kernel/yama/ptrace_scope')),
  ];
  const { result, addon } = checkAddon();
  results.push(result, checkDwarfSampler(addon));
  const found = await checkBpftrace();
  results.push(found.result, judgeTracefs(found.bpftrace ? needsTracefs(found.bpftrace) : null, tracefsMounted(), MOUNT_TRACEFS));
  results.push(judgeSampleRate(readText('/proc/sys/kernel/perf_event_max_sample_rate'), USUAL_MAX_HZ), checkProfileStore());
  return results;
}
