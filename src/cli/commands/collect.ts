/** `mixprof collect`: a long-running agent keeping a history of profiles. */
import { Command, InvalidArgumentError } from 'commander';
import { Collector } from '../../collect/collector.js';
import { MixprofError } from '../../errors.js';
import type { PushTarget } from '../../push/pyroscope.js';
import { ProfileStore } from '../../store/profile-store.js';
import { parseDuration } from '../../store/time-range.js';
import { onStopSignals } from '../../stop-signals.js';
import { checkPrivileges } from '../../target/privileges.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { pidList, positiveInteger, positiveSeconds } from '../options.js';
import { addSamplingOptions, DEFAULT_HZ, type SamplingFlags } from '../sampling-options.js';
import { sessionOptions } from '../../session/session-options.js';
import { keepResidentSmall } from '../../sample/long-running.js';

export const DEFAULT_DATA_DIR = '/var/lib/mixprof';

const EXAMPLES = `
Examples:
  sudo mixprof collect -x 1234 --interval 5 --duration 3 --data-dir /var/lib/mixprof
  sudo mixprof collect --match 'gunicorn|celery'            # 10 s every 60 s, new processes too
  sudo mixprof collect --match app.py --continuous -F 19     # back-to-back periods at a low rate
  sudo mixprof collect --match app.py --push http://pyroscope:4040
  mixprof serve --data-dir /var/lib/mixprof                  # then open http://127.0.0.1:5555

Each period samples every selected process at once and stores one profile
per process (its name, PID, host and Python version, and its threads) in
DATA_DIR/profiles.db (SQLite, WAL mode). Profiles older than a day are merged
into one per hour; those older than --retain are deleted. Ctrl-C ends the
period under way, stores it, and exits.`;

interface CollectFlags extends SamplingFlags {
  pid?: number[];
  match?: string;
  duration: number;
  interval?: number;
  continuous?: boolean;
  dataDir: string;
  retain: number;
  push?: string;
  appName?: string;
  tenant?: string;
  count?: number;
  quiet?: boolean;
}

function duration(name: string) {
  return (value: string): number => {
    const ms = parseDuration(value);
    if (ms === null || ms <= 0) throw new InvalidArgumentError(`${name} must be a duration such as 7d, 12h or 90m, not "${value}"`);
    return ms;
  };
}

function pattern(value: string): string {
  try {
    new RegExp(value);
  } catch (error) {
    throw new InvalidArgumentError(`--match must be a regular expression: ${(error as Error).message}`);
  }
  return value;
}

function pushTarget(flags: CollectFlags): PushTarget | null {
  if (!flags.push) return null;
  let url: URL;
  try {
    url = new URL(flags.push);
  } catch {
    throw new MixprofError('BAD_OPTION', `--push ${flags.push}: not a URL`, 'give the Pyroscope server, e.g. http://pyroscope:4040');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new MixprofError('BAD_OPTION', `--push ${flags.push}: not an http(s) URL`, 'give the Pyroscope server, e.g. http://pyroscope:4040');
  return { url, appName: flags.appName ?? null, tenant: flags.tenant ?? null };
}

export function collectCommand(): Command {
  const command = new Command('collect')
    .description('keep sampling processes, a few seconds every interval, and store their profiles for `mixprof serve` (and Pyroscope)')
    .option('-x, --pid <PIDS>', 'processes to collect from: a PID, or PIDs separated by commas (repeatable)', pidList)
    .option('--match <REGEX>', 'also every process whose command line matches (as pgrep -f), including ones started later', pattern)
    .option('--duration <SECONDS>', 'seconds sampled each period', positiveSeconds('--duration'), 10)
    .option('--interval <SECONDS>', 'seconds from the start of one period to the next (default 60)', positiveSeconds('--interval'))
    .option('--continuous', 'sample all the time: periods of --duration back to back (default rate 19 Hz)');
  return addSamplingOptions(command, { frequency: 'samples per second on each CPU the targets run on (default 99; 19 with --continuous)', defaultHz: null })
    .option('--data-dir <DIR>', 'where the profile store is kept', DEFAULT_DATA_DIR)
    .option('--retain <DURATION>', 'delete profiles older than this (e.g. 7d, 12h)', duration('--retain'), 7 * 86_400_000)
    .option('--push <URL>', "also send each profile to Grafana Pyroscope's ingest API at URL (http://host:4040)")
    .option('--app-name <NAME>', 'application name for --push (default: the process name)')
    .option('--tenant <ID>', 'X-Scope-OrgID for --push to a multi-tenant Pyroscope')
    .option('--count <N>', 'stop after N periods', positiveInteger('--count'))
    .option('-q, --quiet', 'print nothing on stderr but errors')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: CollectFlags) => {
      if (!flags.pid?.length && !flags.match) throw new MixprofError('BAD_OPTION', 'nothing to collect from', 'pass -x PID or --match PATTERN');
      const interval = flags.continuous ? flags.duration : (flags.interval ?? 60);
      if (interval < flags.duration) throw new MixprofError('BAD_OPTION', `--interval ${interval} is shorter than --duration ${flags.duration}`, 'make the interval at least as long as the duration, or use --continuous');
      const push = pushTarget(flags);
      checkPrivileges();
      // Escaped: lines name the target's processes, threads and functions (terminal-text.ts).
      const log = writeStderrLine;
      const store = ProfileStore.open(flags.dataDir);
      const hz = flags.frequency ?? (flags.continuous ? 19 : DEFAULT_HZ);
      const collector = new Collector({
        selection: { pids: flags.pid ?? [], match: flags.match ? new RegExp(flags.match) : null },
        durationSeconds: flags.duration,
        intervalSeconds: interval,
        periods: flags.count ?? null,
        // Per period, the collector sets how long and keeps thread roots.
        session: sessionOptions(flags, hz, { durationSeconds: null, extraFiles: [], hidePlumbing: true, threadRoots: true, quiet: true }),
        store,
        retainMs: flags.retain,
        push,
        log,
        quiet: flags.quiet ?? false,
        continuous: flags.continuous ?? false,
      });
      // The first signal ends the period under way (it is stored); a second one exits at once.
      const removeSignals = onStopSignals((before) => {
        if (before > 0) process.exit(130);
        collector.stop();
      });
      if (!flags.quiet) log(`mixprof: collecting ${flags.duration} s every ${interval} s at ${hz} Hz into ${store.file}${push ? ` and ${push.url.origin}` : ''}; Ctrl-C to stop`);
      // A long-running process: what start-up alone touched goes, and garbage does not pile up.
      const stopKeeping = keepResidentSmall();
      try {
        await collector.run();
      } finally {
        stopKeeping();
        store.close();
        removeSignals();
      }
    });
}
