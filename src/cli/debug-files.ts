/** -d FILE: each a readable ELF file, checked before anything is attached. */
import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { MixprofError } from '../errors.js';

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/** Whether the file starts as ELF files do. */
function isElf(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    return readSync(fd, magic, 0, 4, 0) === 4 && magic.equals(ELF_MAGIC);
  } finally {
    closeSync(fd);
  }
}

/** The files, when each is a readable regular ELF file; else one line saying which is not. */
export function checkDebugFiles(extraFiles: readonly string[]): string[] {
  for (const file of extraFiles) {
    try {
      accessSync(file, constants.R_OK);
    } catch {
      throw new MixprofError('BAD_OPTION', `-d ${file}: no such readable file`, 'pass the path of a library or debug file');
    }
    // A FIFO would block the reader that opens it; a directory is a likely slip.
    if (!statSync(file).isFile()) throw new MixprofError('BAD_OPTION', `-d ${file}: not a regular file`, 'pass the path of a library or debug file');
    if (!isElf(file)) throw new MixprofError('BAD_OPTION', `-d ${file}: not an ELF file`, 'pass a library, an executable or a separate debug file (.debug)');
  }
  return [...extraFiles];
}
