/** The mixprof command line: one subcommand per file under commands/. */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../package-root.js';
import { collectCommand } from './commands/collect.js';
import { convertCommand } from './commands/convert.js';
import { doctorCommand } from './commands/doctor.js';
import { dumpCommand } from './commands/dump.js';
import { recordCommand } from './commands/record.js';
import { sampleCommand } from './commands/sample.js';
import { serveCommand } from './commands/serve.js';
import { topCommand } from './commands/top.js';
import { traceCommand } from './commands/trace.js';
import { stdoutWriteStuck } from '../output/write.js';
import { STOP_SIGNALS } from '../stop-signals.js';
import { reportError } from './handle-error.js';

function version(): string {
  const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/**
 * Help and version text. process.stdout is made only here: making it sets
 * a stdout pipe non-blocking, and profiles are written to fd 1 directly.
 */
function writeHelp(text: string): void {
  if (process.stdout.listenerCount('error') === 0) {
    // A reader that stops early (`| head`) is not an error worth a stack trace.
    process.stdout.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw error;
    });
  }
  process.stdout.write(text);
}

export async function main(argv: string[]): Promise<number> {
  const program = new Command('mixprof')
    .description('Where a running Python process spends its time: Python, native and kernel frames in one stack')
    .version(version())
    // record's command line after -- is the command's own.
    .enablePositionalOptions()
    .addCommand(sampleCommand())
    .addCommand(recordCommand())
    .addCommand(convertCommand())
    .addCommand(collectCommand())
    .addCommand(serveCommand())
    .addCommand(topCommand())
    .addCommand(dumpCommand())
    .addCommand(traceCommand())
    .addCommand(doctorCommand());
  // Subcommands added with addCommand do not inherit these settings.
  for (const command of [program, ...program.commands]) {
    command.exitOverride().configureOutput({
      writeOut: writeHelp,
      outputError: (text, write) => write(`mixprof: error: ${text.replace(/^error: /, '').trim()} (see \`${command === program ? 'mixprof' : `mixprof ${command.name()}`} --help\`)\n`),
    });
  }
  try {
    await program.parseAsync(argv);
    // A command may set the status (record passes on its command's).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    return reportError(error);
  }
}

/** Ends the process with main's status. */
export function exit(code: number): never {
  if (stdoutWriteStuck()) {
    // A normal exit would wait for the abandoned write for good. Ended by
    // SIGINT, as shells report Ctrl-C (130); SIGKILL if SIGINT is ignored.
    for (const signal of STOP_SIGNALS) process.removeAllListeners(signal);
    process.kill(process.pid, 'SIGINT');
    process.kill(process.pid, 'SIGKILL');
  }
  process.exit(code);
}
