/** `mixprof record -- command`: run a command and profile it until it exits. */
import { Command } from 'commander';
import { record } from '../../sample/record.js';
import { addProfileOptions, profileOptions, type ProfileFlags } from './sample.js';

const DEFAULT_OUTPUT = 'mixprof.folded';

const EXAMPLES = `
Examples:
  sudo mixprof record -- python3 app.py --port 8080
  sudo mixprof record -F 499 -o app.folded -- python3 -m mymodule
  flamegraph.pl mixprof.folded > app.svg

The command gets mixprof's stdin, stdout and stderr, and mixprof exits with
its exit status. Ctrl-C goes to the command; what was sampled is written.`;

export function recordCommand(): Command {
  const command = new Command('record')
    .description('run a command and profile it until it exits: Python, native and kernel frames in folded stacks')
    .argument('<command...>', 'the command to run, after --')
    .usage('[options] -- command [args...]')
    .passThroughOptions();
  return addProfileOptions(command, `write folded stacks here (default: ${DEFAULT_OUTPUT}; stdout is the command's)`)
    .addHelpText('after', EXAMPLES)
    .action(async (commandLine: string[], flags: ProfileFlags) => {
      const output = flags.output ?? DEFAULT_OUTPUT;
      const log = (line: string): void => void process.stderr.write(line + '\n');
      const { status, written } = await record({ ...profileOptions(flags, output), command: commandLine }, log);
      if (written && !flags.quiet) log(`mixprof: wrote ${output}`);
      process.exitCode = status;
    });
}
