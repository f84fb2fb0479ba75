/** The one place errors become output: a line saying what is wrong and what to do. */
import { isMixprofError } from '../errors.js';

export function reportError(error: unknown): number {
  if (isMixprofError(error)) {
    process.stderr.write(`mixprof: error: ${error.message}${error.hint ? ` (${error.hint})` : ''}\n`);
    if (process.env['MIXPROF_DEBUG'] && error.cause) process.stderr.write(String((error.cause as Error).stack ?? error.cause) + '\n');
    // As shells report a command ended by Ctrl-C.
    return error.code === 'INTERRUPTED' ? 130 : 1;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`mixprof: internal error: ${message.split('\n')[0]} (please report it; MIXPROF_DEBUG=1 shows details)\n`);
  if (process.env['MIXPROF_DEBUG']) process.stderr.write(String((error as Error).stack ?? error) + '\n');
  return 2;
}
