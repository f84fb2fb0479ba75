/** `mixprof record -- command`: run a command and profile it until it exits. */
import { Command } from 'commander';
import { chooseFormat, FORMAT_EXTENSION } from '../../output/formats.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { addProfileOptions, profileOptions, type ProfileFlags } from './sample.js';

const DEFAULT_OUTPUT = 'mixprof.folded';
/** With --timeline and neither -o nor --format: a time line, for the Firefox Profiler. */
const DEFAULT_TIMELINE_OUTPUT = 'mixprof.gecko.json';

const EXAMPLES = `
Examples:
  sudo mixprof record -- python3 app.py --port 8080
  sudo mixprof record -F 499 -o app.folded -- python3 -m mymodule
  sudo mixprof record -o app.svg -- python3 app.py           # interactive flame graph
  sudo mixprof record --subprocesses --pid-root -o app.speedscope.json -- gunicorn app:wsgi
  sudo mixprof record --timeline -- python3 job.py           # mixprof.gecko.json: profiler.firefox.com

The command gets mixprof's stdin, stdout and stderr, and mixprof exits with
its exit status. Ctrl-C goes to the command; what was sampled is written.`;

export function recordCommand(): Command {
  const command = new Command('record')
    .description('run a command and profile it until it exits: Python, native and kernel frames merged into one stack per sample')
    .argument('<command...>', 'the command to run, after --')
    .usage('[options] -- command [args...]')
    .passThroughOptions();
  return addProfileOptions(command, `write the profile here (default: ${DEFAULT_OUTPUT}, ${DEFAULT_TIMELINE_OUTPUT} with --timeline, or mixprof.EXT for --format; stdout is the command's; the extension picks the format)`)
    .addHelpText('after', EXAMPLES)
    .action(async (commandLine: string[], flags: ProfileFlags) => {
      const output = flags.output ?? (flags.format ? `mixprof${FORMAT_EXTENSION[chooseFormat(flags.format, null)]}` : flags.timeline ? DEFAULT_TIMELINE_OUTPUT : DEFAULT_OUTPUT);
      // Escaped: lines name the target's processes, threads and functions (terminal-text.ts).
      const log = writeStderrLine;
      // No status line: the command's own output shares the terminal.
      // Loaded here: it brings execa, which no other command needs at start-up.
      const { record } = await import('../../sample/record.js');
      const { status, written } = await record({ ...profileOptions(flags, output), statusStream: null, command: commandLine }, log);
      if (written && !flags.quiet) log(`mixprof: wrote ${written}`);
      process.exitCode = status;
    });
}
