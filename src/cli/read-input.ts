/** A folded stack file (or stdin) read whole, for `convert` and `top FILE`; what goes wrong is said in one line. */
import { constants as bufferConstants } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { MixprofError } from '../errors.js';

const MAX_STRING_LENGTH = bufferConstants.MAX_STRING_LENGTH;

export function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_STRING_TOO_LONG' || code === 'ERR_FS_FILE_TOO_LARGE') {
      throw new MixprofError('BAD_INPUT', `cannot read ${file}: it is larger than the ${Math.floor(MAX_STRING_LENGTH / 2 ** 20)} MiB mixprof reads at once`, 'merge its lines first (e.g. sort | awk to add up equal stacks) or split it');
    }
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' ? 'permission denied' : (error as Error).message;
    throw new MixprofError('BAD_INPUT', `cannot read ${file}: ${why}`, 'pass a folded stack file, or - for stdin');
  }
}
