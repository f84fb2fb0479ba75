/** `mixprof sample`: profile a running process for a while, write folded stacks. */
import { accessSync, constants } from 'node:fs';
import { Command, Option } from 'commander';
import { MixprofError } from '../../errors.js';
import { MAX_PYTHON_DEPTH, sample, type SampleOptions } from '../../sample/session.js';
import { OFFSET_SOURCES, type OffsetSource } from '../../python/attach.js';
import { UNWIND_CHOICES, type UnwindChoice } from '../../sample/unwind.js';
import { collect, positiveInteger, positiveSeconds } from '../options.js';

const MAX_HZ = 10_000;

const EXAMPLES = `
Examples:
  sudo mixprof sample -x 1234 -t 60 > app.folded
  sudo mixprof sample -x 1234 -t 60 -F 499 -d /opt/app/lib/libfoo.so -o app.folded
  flamegraph.pl app.folded > app.svg
  sudo mixprof sample -x 1234 -t 30 --mark-python | flamegraph.pl --colors=java > app.svg

Python frames read "qualname (file.py:LINE)", kernel frames end in _[k].
Ctrl-C stops early and still writes everything collected.`;

/** The options `sample` and `record` share. */
export interface ProfileFlags {
  time?: number;
  frequency: number;
  debugFile?: string[];
  output?: string;
  hide: boolean;
  markPython?: boolean;
  threads?: boolean;
  nativeOnly?: boolean;
  quiet?: boolean;
  offsetsFrom?: OffsetSource;
  unwind: UnwindChoice;
}

interface SampleFlags extends ProfileFlags {
  pid: number;
}

export function addProfileOptions(command: Command, output: string): Command {
  return command
    .option('-t, --time <SECONDS>', 'how long to sample (default: until Ctrl-C or the target exits)', positiveSeconds('--time'))
    .option('-F, --frequency <HZ>', 'samples per second on each CPU the target runs on', positiveInteger('--frequency', MAX_HZ), 99)
    .option('-d, --debug-file <PATH>', 'extra file for symbols and debug info: a library, its separate debug file, or one loaded later (repeatable)', collect)
    .option('-o, --output <FILE>', output)
    .option('--no-hide', 'show interpreter call plumbing (PyObject_Vectorcall and the like) and unmatched eval-loop frames')
    .option('--mark-python', 'suffix Python frames with _[j] so `flamegraph.pl --colors=java` paints them green')
    .option('--threads', 'add a root frame per thread: "name (tid)"')
    .option('--native-only', 'do not walk Python frames: native and kernel frames only')
    .addOption(
      new Option('--offsets-from <SOURCE>', "take CPython struct offsets only from this source (default: the interpreter's _Py_DebugOffsets, then DWARF, then the built-in table)").choices(OFFSET_SOURCES),
    )
    .addOption(
      new Option('--unwind <HOW>', 'native stacks: fp (frame pointers, in the kernel), dwarf (CFI of a copy of the stack, in user space), auto (fp when the interpreter keeps frame pointers)')
        .choices(UNWIND_CHOICES)
        .default('auto'),
    )
    .option('-q, --quiet', 'print nothing on stderr but errors');
}

/** The flags as session options, less the PID; -d files are checked here. */
export function profileOptions(flags: ProfileFlags, output: string | null): Omit<SampleOptions, 'pid'> {
  const extraFiles = flags.debugFile ?? [];
  for (const file of extraFiles) {
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new MixprofError('BAD_OPTION', `-d ${file}: no such readable file`, 'pass the path of a library or debug file');
    }
  }
  return {
    durationSeconds: flags.time ?? null,
    hz: flags.frequency,
    extraFiles,
    output,
    hidePlumbing: flags.hide,
    markPython: flags.markPython ?? false,
    threadRoots: flags.threads ?? false,
    maxDepth: MAX_PYTHON_DEPTH,
    nativeOnly: flags.nativeOnly ?? false,
    quiet: flags.quiet ?? false,
    unwind: flags.unwind,
    ...(flags.offsetsFrom ? { offsetSources: [flags.offsetsFrom] } : {}),
  };
}

export function sampleCommand(): Command {
  const command = new Command('sample')
    .description('sample a running process: Python, native and kernel frames merged into folded stacks')
    .requiredOption('-x, --pid <PID>', 'process to profile', positiveInteger('--pid'));
  return addProfileOptions(command, 'write folded stacks here instead of stdout')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: SampleFlags) => {
      await sample({ pid: flags.pid, ...profileOptions(flags, flags.output ?? null) }, (line) => process.stderr.write(line + '\n'));
    });
}
