/** `mixprof top`: the hottest functions of a running process, live, in the terminal. */
import { ReadStream, WriteStream } from 'node:tty';
import { Command, Option } from 'commander';
import { MixprofError } from '../../errors.js';
import { MAX_PYTHON_DEPTH, SAMPLE_MODES, startProcessSession, type SampleMode } from '../../sample/session.js';
import { UNWIND_CHOICES, type UnwindChoice } from '../../sample/unwind.js';
import { checkPrivileges } from '../../target/privileges.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { positiveInteger, positiveSeconds } from '../options.js';
import { MAX_HZ } from './sample.js';

const EXAMPLES = `
Examples:
  sudo mixprof top -x 1234
  sudo mixprof top -x 1234 -F 499 --window 30
  sudo mixprof top -x 1234 --cumulative
  sudo mixprof top -x 1234 --mode wall        # also where threads sleep or wait

Columns: OWN (samples where the function is the innermost frame), TOTAL
(samples where it is anywhere on the stack), each also as a share of the
samples shown; FUNCTION with its file (Python) or library (native) and its
kind. Keys: q quit, space pause/resume, arrows and PgUp/PgDn move, enter
opens a function into the functions it calls and those calling it (right
opens, left closes), s or ] / [ change the sort column, t shows one thread
after the other, r resets the counts, w writes the stacks shown to a folded
file in the working directory.`;

interface TopFlags {
  pid: number;
  frequency: number;
  window: number;
  cumulative?: boolean;
  mode: SampleMode;
  unwind: UnwindChoice;
  nativeOnly?: boolean;
  fullPaths?: boolean;
}

export function topCommand(): Command {
  return new Command('top')
    .description('show the hottest functions of a running process, live (like top, for functions)')
    .requiredOption('-x, --pid <PID>', 'the process to watch', positiveInteger('--pid', 2 ** 22))
    .option('-F, --frequency <HZ>', 'samples per second on each CPU the target runs on', positiveInteger('--frequency', MAX_HZ), 99)
    .option('--window <SECONDS>', 'count the samples of the last SECONDS', positiveSeconds('--window'), 10)
    .option('--cumulative', 'count every sample since the start (or the last r) instead')
    .addOption(new Option('--mode <MODE>', 'cpu: where threads run on a CPU; wall: where every thread spends its time, also sleeping or blocked').choices(SAMPLE_MODES).default('cpu'))
    .addOption(new Option('--unwind <HOW>', 'native stacks: fp, dwarf or auto (see mixprof sample --help)').choices(UNWIND_CHOICES).default('auto'))
    .option('--native-only', 'do not walk Python frames')
    .option('--full-paths', 'name Python source files by their full path')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: TopFlags) => {
      // Checked first: nothing is attached for a view that cannot be shown.
      if (!process.stdin.isTTY || !process.stdout.isTTY) {
        throw new MixprofError('BAD_OPTION', 'mixprof top needs a terminal: its input and output are not one', 'run it in a terminal (ssh -t for a remote one), or use `mixprof sample` to write a profile');
      }
      checkPrivileges();
      // Escaped: lines name the target's processes, threads and functions (terminal-text.ts).
      const log = writeStderrLine;
      const session = await startProcessSession(
        flags.pid,
        {
          durationSeconds: null,
          hz: flags.frequency,
          extraFiles: [],
          hidePlumbing: true,
          threadRoots: true,
          fullPaths: flags.fullPaths ?? false,
          maxDepth: MAX_PYTHON_DEPTH,
          nativeOnly: flags.nativeOnly ?? false,
          quiet: true,
          unwind: flags.unwind,
          mode: flags.mode,
        },
        log,
      );
      // Loaded here: the terminal's libraries are a good part of the start-up of the other commands.
      const [{ openTerminal }, { TopView }] = await Promise.all([import('../../top/terminal.js'), import('../../top/top-app.js')]);
      const terminal = openTerminal(process.stdin as ReadStream, process.stdout as WriteStream);
      const view = new TopView({ session, terminal, hz: flags.frequency, windowMs: flags.cumulative ? null : flags.window * 1000, writeDir: process.cwd() });
      const onSignal = (): void => view.stop();
      for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
      try {
        await view.run();
      } catch (error) {
        // The view failed: the sampler goes at once, then the error is reported on the shell's screen.
        session.kill();
        await session.done.catch(() => undefined);
        throw error;
      } finally {
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.off(s, onSignal);
        terminal.restore();
      }
    });
}
