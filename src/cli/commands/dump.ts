/** `mixprof dump`: where every thread of running processes is, now. */
import { Command, Option } from 'commander';
import { dumpProcess } from '../../dump/dump-session.js';
import type { ProcessDump } from '../../profile/thread-dump.js';
import { MixprofError } from '../../errors.js';
import { dumpJson, dumpText } from '../../output/dump-text.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { checkOutputFile, writeProfile } from '../../output/write.js';
import { OFFSET_SOURCES, type OffsetSource } from '../../python/find-layout.js';
import { checkPrivileges } from '../../target/privileges.js';
import { checkDebugFiles } from '../debug-files.js';
import { reportError } from '../handle-error.js';
import { collect, pidList } from '../options.js';

const EXAMPLES = `
Examples:
  sudo mixprof dump -x 1234
  sudo mixprof dump -x 1234,1240 --json > threads.json

Each thread is shown with Python's name for it and its id, whether it was
running, waiting for a CPU or waiting in the kernel (and in which system
call), whether it held the GIL, and its stack innermost frame first: kernel
frames ([kernel]), native frames (with their library) and Python frames
("qualname (file.py:LINE)"), merged. The process is not stopped: threads
that wait are read where they wait, and running ones where the CPU clock
finds them, in about a quarter of a second.`;

interface DumpFlags {
  pid: number[];
  json?: boolean;
  locals?: boolean;
  async?: boolean;
  output?: string;
  debugFile?: string[];
  fullPaths?: boolean;
  hide: boolean;
  offsetsFrom?: OffsetSource;
}

export function dumpCommand(): Command {
  return new Command('dump')
    .description("show every thread's stack of running processes now: Python, native and kernel frames, and what each waits on")
    .requiredOption('-x, --pid <PIDS>', 'processes to look at: a PID, or PIDs separated by commas (repeatable)', pidList)
    .option('--locals', "also show each Python frame's arguments and local variables (ints, floats, strs, bytes, bools and None whole; other objects by type and size)")
    .option('--async', "also show the asyncio tasks (3.11+): each under the task awaiting it, with its coroutines")
    .option('--json', 'write JSON for tools instead of text')
    .option('-o, --output <FILE>', 'write the dump here instead of stdout')
    .option('-d, --debug-file <PATH>', 'extra file for symbols and debug info: a library or its separate debug file (repeatable)', collect)
    .option('--full-paths', 'name Python source files by their full path')
    .option('--no-hide', 'show interpreter call plumbing (PyObject_Vectorcall and the like)')
    .addOption(new Option('--offsets-from <SOURCE>', 'take CPython struct offsets only from this source').choices(OFFSET_SOURCES))
    .addHelpText('after', EXAMPLES)
    .action(async (flags: DumpFlags) => {
      const extraFiles = checkDebugFiles(flags.debugFile ?? []);
      if (flags.output) checkOutputFile(flags.output);
      checkPrivileges();
      const options = {
        extraFiles,
        hidePlumbing: flags.hide,
        fullPaths: flags.fullPaths ?? false,
        locals: flags.locals ?? false,
        async: flags.async ?? false,
        ...(flags.offsetsFrom ? { offsetSources: [flags.offsetsFrom] } : {}),
      };
      // Each process on its own: one that cannot be read is said in a line, the others are shown.
      const settled = await Promise.allSettled(flags.pid.map((pid) => dumpProcess(pid, options, writeStderrLine)));
      const only = settled.length === 1 ? settled[0]! : null;
      if (only?.status === 'rejected') throw only.reason;
      const dumps: ProcessDump[] = [];
      let failed = 0;
      for (const result of settled) {
        if (result.status === 'fulfilled') dumps.push(result.value);
        else {
          failed++;
          reportError(result.reason);
        }
      }
      if (dumps.length > 0) await writeProfile(flags.output ?? null, flags.json ? dumpJson(dumps) : dumpText(dumps), flags.json ? '.json' : '.txt');
      if (failed > 0) throw new MixprofError('NO_SUCH_PROCESS', `${failed} of ${settled.length} processes could not be dumped`, 'each is said above; the others were written');
    });
}
