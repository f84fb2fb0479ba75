/** `mixprof doctor`: whether this machine can profile, one line per part with what to do about it. */
import { writeSync } from 'node:fs';
import { Command } from 'commander';
import { summarize, type CheckResult } from '../../doctor/judge.js';

const EXAMPLES = `
Checks, in order: privileges, the kernel's BTF, lockdown, Yama's ptrace
scope, the native addon, the DWARF sampler (loaded and attached to mixprof
itself), bpftrace (run), tracefs, the kernel's sample-rate limit and the
profile store. Exits 1 when something sampling needs is missing.`;

const MARK: Record<CheckResult['status'], string> = { ok: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function formatReport(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => `  ${MARK[r.status]}  ${r.name.padEnd(width)}  ${r.detail}${r.fix ? `; to fix: ${r.fix}` : ''}`);
  return `${lines.join('\n')}\nmixprof doctor: ${summarize(results).line}\n`;
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check that this machine can profile: privileges, kernel, bpftrace, the addon and the samplers')
    .option('--json', 'print the checks as JSON')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: { json?: boolean }) => {
      const { runChecks } = await import('../../doctor/checks.js');
      const results = await runChecks();
      const text = flags.json ? `${JSON.stringify({ ready: summarize(results).ready, checks: results }, null, 2)}\n` : formatReport(results);
      try {
        writeSync(1, text);
      } catch (error) {
        // A reader that stops early (`| head`) is not an error worth reporting.
        if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
      }
      process.exitCode = summarize(results).ready ? 0 : 1;
    });
}
