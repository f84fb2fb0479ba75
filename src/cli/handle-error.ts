/** The one place errors become output: a line saying what is wrong and what to do. */
import { isMixprofError } from '../errors.js';
import { terminalText, writeStderrLine } from '../output/terminal-text.js';

/** Debug output keeps its lines (a stack trace), each escaped: messages may quote the target's names. */
function writeDebug(text: string): void {
  process.stderr.write(text.split('\n').map(terminalText).join('\n') + '\n');
}

export function reportError(error: unknown): number {
  if (isMixprofError(error)) {
    // Messages name the target's files, libraries and processes: escaped as any line to the terminal.
    writeStderrLine(`mixprof: error: ${error.message}${error.hint ? ` (${error.hint})` : ''}`);
    if (process.env['MIXPROF_DEBUG'] && error.cause) writeDebug(String((error.cause as Error).stack ?? error.cause));
    // As shells report a command ended by Ctrl-C.
    return error.code === 'INTERRUPTED' ? 130 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  writeStderrLine(`mixprof: internal error: ${message.split('\n')[0]} (please report it; MIXPROF_DEBUG=1 shows details)`);
  if (process.env['MIXPROF_DEBUG']) writeDebug(String((error as Error).stack ?? error));
  return 2;
}
