/** `mixprof convert IN -o OUT`: a folded file (mixprof's, or any stackcollapse tool's) in another format. */
import path from 'node:path';
import { Command, Option } from 'commander';
import { MixprofError } from '../../errors.js';
import { readFolded } from '../../output/folded-reader.js';
import { chooseFormat, FORMAT_EXTENSION, renderProfile } from '../../output/formats.js';
import { AGGREGATE_FORMATS, type OutputProfile } from '../../output/output-profile.js';
import { formatSvg } from '../../output/svg.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { formatTopTable } from '../../output/top-table.js';
import { writeProfile } from '../../output/write.js';
import { nonNegativeInteger, positiveInteger } from '../options.js';
import { readInput } from '../read-input.js';

const EXAMPLES = `
Examples:
  mixprof convert app.folded -o app.svg
  mixprof convert app.folded -o app.pb.gz -F 499     # pprof, with the rate it was sampled at
  py-spy record --format raw -o py.txt -- python3 app.py; mixprof convert py.txt -o py.speedscope.json
  mixprof convert - --format svg < app.folded > app.svg
  mixprof convert after.folded --base before.folded -o diff.svg   # what grew (red), what shrank (blue)

Frame kinds come from the marks in the file: _[k] kernel, _[j] Python, else
"func (file.py:LINE)" is Python and any other name native code.`;

interface ConvertFlags {
  output?: string;
  format?: string;
  frequency: number;
  title?: string;
  mode: 'cpu' | 'wall';
  markPython?: boolean;
  top: number;
  quiet?: boolean;
  base?: string;
}

export function convertCommand(): Command {
  return new Command('convert')
    .description('turn a folded stack file into a flame graph (svg), speedscope, pprof or Chrome .cpuprofile file')
    .argument('<input>', 'folded stacks ("frame;frame;... COUNT" lines), or - for stdin')
    .option('-o, --output <FILE>', 'write here instead of stdout (the extension picks the format)')
    .addOption(new Option('-f, --format <FORMAT>', 'output format (default: from the -o extension, else folded)').choices(AGGREGATE_FORMATS))
    .option('-F, --frequency <HZ>', 'the rate the stacks were sampled at, for the formats that show time', positiveInteger('--frequency', 100_000), 99)
    .option('--title <TEXT>', 'title shown by the viewers (default: the input file name)')
    .addOption(new Option('--mode <MODE>', 'what the samples measured: cpu (time on a CPU) or wall (wall-clock time, from --mode wall); pprof names it').choices(['cpu', 'wall']).default('cpu'))
    .option('--mark-python', 'folded output: suffix Python frames with _[j]')
    .option('--base <FILE>', 'draw a differential flame graph (svg): each frame red where its share of the samples grew since this baseline (folded stacks), blue where it shrank')
    .option('--top <N>', 'rows of the top-functions table printed on stderr (0: none)', nonNegativeInteger('--top', 1000), 0)
    .option('-q, --quiet', 'print nothing on stderr but errors')
    .addHelpText('after', EXAMPLES)
    .action(async (input: string, flags: ConvertFlags) => {
      const output = flags.output ?? null;
      const format = chooseFormat(flags.format, output, AGGREGATE_FORMATS);
      if (flags.base !== undefined && format !== 'svg') {
        throw new MixprofError('BAD_OPTION', `--base draws a differential flame graph, which is an svg, not ${format}`, 'write it with -o FILE.svg or --format svg');
      }
      if (flags.base === '-' && input === '-') throw new MixprofError('BAD_OPTION', 'the input and --base cannot both be stdin', 'name one of them by its file');
      const stacks = readFolded(readInput(input), input === '-' ? 'stdin' : input);
      const base = flags.base === undefined ? null : readFolded(readInput(flags.base), flags.base === '-' ? 'stdin' : flags.base);
      const name = (file: string): string => (file === '-' ? 'stdin' : path.basename(file));
      const profile: OutputProfile = {
        stacks,
        hz: flags.frequency,
        startTime: null,
        durationSeconds: null,
        title: flags.title ?? (base ? `Differential flame graph: ${name(input)} against ${name(flags.base!)}` : input === '-' ? 'mixprof' : path.basename(input)),
        time: flags.mode,
      };
      const rendered = base ? formatSvg(profile, { base }) : renderProfile(profile, format, { markPython: flags.markPython ?? false });
      const { path: written } = await writeProfile(output, rendered, FORMAT_EXTENSION[format]);
      if (!flags.quiet) {
        for (const line of formatTopTable(stacks, flags.top, process.stderr.columns || 100)) process.stderr.write(line + '\n');
        if (written) writeStderrLine(`mixprof: wrote ${written} (${format}, ${stacks.reduce((n, s) => n + s.count, 0)} samples)`);
      }
    });
}
