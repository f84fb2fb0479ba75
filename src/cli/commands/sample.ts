/** `mixprof sample`: profile running processes for a while, write their stacks. */
import { Command, Option } from 'commander';
import { checkDebugFiles } from '../debug-files.js';
import { chooseFormat } from '../../output/formats.js';
import { OUTPUT_FORMATS, TIME_ORDER_FORMATS, TIMELINE_FORMATS } from '../../output/output-profile.js';
import { MixprofError } from '../../errors.js';
import { profileProcesses, type RunOptions } from '../../sample/run.js';
import { OFFSET_SOURCES, type OffsetSource } from '../../python/find-layout.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { checkOutputFile } from '../../output/write.js';
import { collect, nonNegativeInteger, pidList, positiveSeconds } from '../options.js';
import { addSamplingOptions, type SamplingFlags } from '../sampling-options.js';
import { sessionOptions } from '../../session/session-options.js';

const DEFAULT_TOP = 10;

const EXAMPLES = `
Examples:
  sudo mixprof sample -x 1234 -t 60 > app.folded
  sudo mixprof sample -x 1234 -t 30 -o app.svg            # interactive flame graph
  sudo mixprof sample -x 1234 -t 30 -o app.speedscope.json
  sudo mixprof sample -x 1234 -t 30 -o app.pb.gz           # go tool pprof, Pyroscope
  sudo mixprof sample -x 1234,1240 --pid-root -t 30 -o workers.svg
  sudo mixprof sample -x 1234 --subprocesses -t 60 -o app.svg
  sudo mixprof sample -x 1234 --mode wall -t 30 -o wall.svg  # also sleeping, blocked, waiting
  sudo mixprof sample -x 1234 --gil --threads -t 30 -o gil.svg  # who holds the GIL, who runs without it
  sudo mixprof sample -x 1234 -t 60 -F 499 -d /opt/app/lib/libfoo.so -o app.folded
  sudo mixprof sample -x 1234 -t 30 -o app.gecko.json      # time line per thread: profiler.firefox.com
  sudo mixprof sample -x 1234 -t 30 -o app.trace.json      # the same for ui.perfetto.dev, chrome://tracing

Formats (--format, else from the -o extension): folded (.folded, .txt; the
default), svg, speedscope (.speedscope.json, .json), pprof (.pb.gz, .pprof),
cpuprofile (.cpuprofile, Chrome DevTools); with each sample's time (--timeline):
gecko (.gecko.json, the Firefox Profiler), chrometrace (.trace.json) and
speedscope in time order. Python frames read
"qualname (file.py:LINE)" with short paths unless --full-paths; kernel frames
end in _[k] in folded output. Ctrl-C stops early and still writes everything
collected.`;

/** The options `sample` and `record` share. */
export interface ProfileFlags extends SamplingFlags {
  time?: number;
  frequency: number;
  debugFile?: string[];
  output?: string;
  format?: string;
  hide: boolean;
  markPython?: boolean;
  threads?: boolean;
  pidRoot?: boolean;
  subprocesses?: boolean;
  top: number;
  quiet?: boolean;
  offsetsFrom?: OffsetSource;
  gil?: boolean;
  timeline?: boolean;
}

interface SampleFlags extends ProfileFlags {
  pid: number[];
}

export function addProfileOptions(command: Command, output: string): Command {
  return addSamplingOptions(command.option('-t, --time <SECONDS>', 'how long to sample (default: until Ctrl-C or the target exits)', positiveSeconds('--time')))
    .option('-d, --debug-file <PATH>', 'extra file for symbols and debug info: a library, its separate debug file, or one loaded later (repeatable)', collect)
    .option('-o, --output <FILE>', output)
    .addOption(new Option('-f, --format <FORMAT>', 'output format (default: from the -o extension, else folded)').choices(OUTPUT_FORMATS))
    .option('--subprocesses', 'also profile the Python processes the targets start (multiprocessing, gunicorn workers)')
    .option('--threads', 'add a root frame per thread: "name (tid)", with Python\'s thread name (threading.Thread.name) where it has one')
    .option('--gil', 'add a root frame per GIL state: "[GIL held]", "[GIL released]" (native code without the GIL, I/O, or waiting for it) or "[no Python thread]"; inside the thread\'s with --threads')
    .option('--pid-root', 'add a root frame per process: "name (pid)"')
    .option('--timeline', 'keep every sample\'s time and thread, for the formats that show samples in time order: gecko (Firefox Profiler), chrometrace (Perfetto, chrome://tracing) and speedscope; implied by gecko and chrometrace')
    .option('--no-hide', 'show interpreter call plumbing (PyObject_Vectorcall and the like) and unmatched eval-loop frames')
    .option('--mark-python', 'folded output: suffix Python frames with _[j] so `flamegraph.pl --colors=java` paints them green')
    .option('--top <N>', 'rows of the top-functions table printed at the end (0: none)', nonNegativeInteger('--top', 1000), DEFAULT_TOP)
    .addOption(
      new Option('--offsets-from <SOURCE>', "take CPython struct offsets only from this source (default: the interpreter's _Py_DebugOffsets, then DWARF, then the built-in table)").choices(OFFSET_SOURCES),
    )
    .option('-q, --quiet', 'print nothing on stderr but errors');
}

/** The flags as run options, less the PIDs; -d files and the -o path are checked here. */
export function profileOptions(flags: ProfileFlags, output: string | null): Omit<RunOptions, 'pids'> {
  const extraFiles = checkDebugFiles(flags.debugFile ?? []);
  // Found out now, not after the whole run: nothing is sampled into a path that cannot take it.
  if (output !== null) checkOutputFile(output);
  const quiet = flags.quiet ?? false;
  const format = chooseFormat(flags.format, output);
  const timeline = flags.timeline === true || (TIMELINE_FORMATS as readonly string[]).includes(format);
  if (timeline && !TIME_ORDER_FORMATS.includes(format)) {
    throw new MixprofError('BAD_OPTION', `--timeline keeps each sample's time, which the ${format} format does not show`, `write gecko, chrometrace or speedscope (--format, or -o FILE.gecko.json, FILE.trace.json, FILE.speedscope.json)`);
  }
  return {
    ...sessionOptions(flags, flags.frequency, {
      durationSeconds: flags.time ?? null,
      extraFiles,
      hidePlumbing: flags.hide,
      threadRoots: flags.threads ?? false,
      quiet,
      gil: flags.gil ?? false,
      ...(timeline ? { timeline: true } : {}),
      ...(flags.offsetsFrom ? { offsetSources: [flags.offsetsFrom] } : {}),
    }),
    output,
    format,
    markPython: flags.markPython ?? false,
    processRoots: flags.pidRoot ?? false,
    subprocesses: flags.subprocesses ?? false,
    top: flags.top,
    statusStream: !quiet && process.stderr.isTTY ? process.stderr : null,
  };
}

export function sampleCommand(): Command {
  const command = new Command('sample')
    .description('sample running processes: Python, native and kernel frames merged into one stack per sample')
    .requiredOption('-x, --pid <PIDS>', 'processes to profile: a PID, or PIDs separated by commas (repeatable)', pidList);
  return addProfileOptions(command, 'write the profile here instead of stdout (the extension picks the format)')
    .addHelpText('after', EXAMPLES)
    .action(async (flags: SampleFlags) => {
      // Escaped: lines name the target's processes, threads and functions (terminal-text.ts).
      const log = writeStderrLine;
      const { written } = await profileProcesses({ pids: flags.pid, ...profileOptions(flags, flags.output ?? null) }, log);
      if (written && !flags.quiet) log(`mixprof: wrote ${written}`);
    });
}
