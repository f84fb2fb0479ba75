/** `mixprof top`: the hottest functions of a running process, live, or of a saved profile, in the terminal. */
import { ReadStream, WriteStream } from 'node:tty';
import { Command } from 'commander';
import { MixprofError } from '../../errors.js';
import { startProcessSession, type ProcessSession } from '../../session/session.js';
import { readFolded } from '../../output/folded-reader.js';
import { fileSource, sessionSource, type TopSource } from '../../top/top-source.js';
import { readInput } from '../read-input.js';
import { onStopSignals } from '../../stop-signals.js';
import { checkPrivileges } from '../../target/privileges.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { positiveInteger, positiveSeconds } from '../options.js';
import { addSamplingOptions, type SamplingFlags } from '../sampling-options.js';
import { sessionOptions } from '../../session/session-options.js';

const EXAMPLES = `
Examples:
  sudo mixprof top -x 1234
  sudo mixprof top -x 1234 -F 499 --window 30
  sudo mixprof top -x 1234 --cumulative
  sudo mixprof top -x 1234 --mode wall        # also where threads sleep or wait
  mixprof top app.folded                      # a saved profile (folded stacks)

Columns: OWN (samples where the function is the innermost frame), TOTAL
(samples where it is anywhere on the stack), each also as a share of the
samples shown; FUNCTION with its file (Python) or library (native) and its
kind. Keys: q quit, space pause/resume, arrows and PgUp/PgDn move, enter
opens a function into the functions it calls and those calling it (right
opens, left closes), s or ] / [ change the sort column, t shows one thread
after the other, r resets the counts, w writes the stacks shown to a folded
file in the working directory.`;

interface TopFlags extends SamplingFlags {
  pid?: number;
  frequency: number;
  window: number;
  cumulative?: boolean;
}

export function topCommand(): Command {
  const command = new Command('top')
    .description('show the hottest functions of a running process, live (like top, for functions), or of a saved profile')
    .argument('[file]', 'a saved profile to view instead (folded stacks, as convert reads them; - for stdin)')
    .option('-x, --pid <PID>', 'the process to watch', positiveInteger('--pid', 2 ** 22));
  return addSamplingOptions(command)
    .option('--window <SECONDS>', 'count the samples of the last SECONDS', positiveSeconds('--window'), 10)
    .option('--cumulative', 'count every sample since the start (or the last r) instead')
    .addHelpText('after', EXAMPLES)
    .action(async (file: string | undefined, flags: TopFlags) => {
      if (file !== undefined && flags.pid !== undefined) throw new MixprofError('BAD_OPTION', 'mixprof top shows a running process (-x PID) or a saved profile (FILE), not both', 'leave out one of them');
      if (file === undefined && flags.pid === undefined) throw new MixprofError('BAD_OPTION', 'mixprof top needs a process to watch (-x PID) or a saved profile (FILE)', 'e.g. `sudo mixprof top -x 1234` or `mixprof top app.folded`');
      // stdin is the terminal: a saved profile comes from a file.
      if (file === '-') throw new MixprofError('BAD_OPTION', 'mixprof top reads its keys from stdin, so a saved profile cannot come from it', 'pass the file by its name');
      const saved = file === undefined ? null : readFolded(readInput(file), file);
      // Checked before anything is attached: a view that cannot be shown.
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new MixprofError('BAD_OPTION', 'mixprof top needs a terminal: its input and output are not one', 'run it in a terminal (ssh -t for a remote one), or use `mixprof sample` to write a profile');
      }
      let session: ProcessSession | null = null;
      let source: TopSource;
      if (file !== undefined && saved !== null) {
        source = fileSource(file, saved);
      } else {
        checkPrivileges();
        // Escaped: lines name the target's processes, threads and functions (terminal-text.ts).
        session = await startProcessSession(flags.pid!, sessionOptions(flags, flags.frequency, { durationSeconds: null, extraFiles: [], hidePlumbing: true, threadRoots: true, quiet: true }), writeStderrLine);
        source = sessionSource(session, flags.frequency);
      }
      // Loaded here: the terminal's libraries are a good part of the start-up of the other commands.
      const [{ openTerminal }, { TopView }] = await Promise.all([import('../../top/terminal.js'), import('../../top/top-app.js')]);
      const terminal = openTerminal(process.stdin as ReadStream, process.stdout as WriteStream);
      // A saved profile is shown whole: it has no last seconds.
      const windowMs = flags.cumulative || session === null ? null : flags.window * 1000;
      const view = new TopView({ source, terminal, windowMs, writeDir: process.cwd() });
      const removeSignals = onStopSignals(() => view.stop());
      try {
        await view.run();
      } catch (error) {
        // The view failed: the sampler goes at once, then the error is reported on the shell's screen.
        if (session) {
          session.kill();
          await session.done.catch(() => undefined);
        }
        throw error;
      } finally {
        removeSignals();
        terminal.restore();
      }
    });
}
