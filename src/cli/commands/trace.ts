/** `mixprof trace`: exact call counts and times of a running interpreter, from its USDT probes. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { writeStderrLine } from '../../output/terminal-text.js';
import { checkOutputFile, writeProfile } from '../../output/write.js';
import { checkPrivileges } from '../../target/privileges.js';
import { SORT_KEYS, type SortKey } from '../../trace/function-rows.js';
import { traceJson, traceTable } from '../../trace/trace-report.js';
import { traceProcess } from '../../trace/trace-session.js';
import { checkDebugFiles } from '../debug-files.js';
import { collect, positiveInteger, positiveSeconds } from '../options.js';

const EXAMPLES = `
Examples:
  sudo mixprof trace -x 1234 -t 10
  sudo mixprof trace -x 1234 -t 30 --match '^myapp\\.' -o calls.json
  sudo mixprof trace -x 1234 --sort calls --top 50

Every Python call of the process is counted, and timed from entry to
return, in the kernel, from the interpreter's own probes (function__entry
and function__return): CALLS is exact, OWN is the time in the function
itself, TOTAL the time until it returned (a recursion counted once), both
wall-clock time. Garbage collection pauses and imports are traced too. The
interpreter must be built with the probes (--with-dtrace), as Debian's and
Ubuntu's python3 are; CPython 3.12 to 3.14 have no call probes. Every call
then costs the target traps into the kernel (about 2 µs a call on 3.15, 5-6
µs on 3.11, whose every line traps too): a function-heavy program runs
markedly slower while traced. For where time goes at almost no cost, use
\`mixprof sample\`.`;

interface TraceFlags {
  pid: number;
  time?: number;
  match?: RegExp;
  output?: string;
  sort: SortKey;
  top: number;
  debugFile?: string[];
}

function regex(value: string): RegExp {
  try {
    return new RegExp(value);
  } catch (error) {
    throw new InvalidArgumentError(`--match ${value}: not a regular expression (${(error as Error).message})`);
  }
}

export function traceCommand(): Command {
  return new Command('trace')
    .description("count and time every Python call of a running process exactly, from the interpreter's USDT probes; also GC pauses and imports")
    .requiredOption('-x, --pid <PID>', 'the process to trace', positiveInteger('--pid'))
    .option('-t, --time <SECONDS>', 'how long to trace (default: until Ctrl-C or the target exits)', positiveSeconds('--time'))
    .option('--match <REGEX>', 'report only the functions whose module.qualname this matches (a JavaScript regular expression)', regex)
    .option('-o, --output <FILE>', 'also write the whole report as JSON here')
    .addOption(new Option('--sort <KEY>', 'order of the table').choices(SORT_KEYS).default('own'))
    .option('--top <N>', 'rows of the table', positiveInteger('--top', 100_000), 30)
    .option('-d, --debug-file <PATH>', 'extra file for symbols and debug info (repeatable)', collect)
    .addHelpText('after', EXAMPLES)
    .action(async (flags: TraceFlags) => {
      const extraFiles = checkDebugFiles(flags.debugFile ?? []);
      if (flags.output) checkOutputFile(flags.output);
      checkPrivileges();
      const report = await traceProcess({ pid: flags.pid, durationSeconds: flags.time ?? null, match: flags.match ?? null, extraFiles }, writeStderrLine);
      if (flags.output) await writeProfile(flags.output, traceJson(report), '.json');
      for (const line of traceTable(report, { sort: flags.sort, limit: flags.top, output: flags.output ?? null })) writeStderrLine(line);
    });
}
