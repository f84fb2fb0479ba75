/**
 * Writes a finished profile. A file is created with the caller's umask and
 * never written through a symlink; when it cannot be written, the profile
 * goes to a new file in the temporary directory instead, so samples are not
 * lost, and the error says where.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MixprofError } from '../errors.js';

export interface WriteResult {
  /** Where the profile went: a path, or null for stdout. */
  readonly path: string | null;
}

function writeAll(fd: number, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let offset = 0;
  while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
}

function writeFile(file: string, data: string | Uint8Array, flags: number): void {
  const fd = openSync(file, flags, 0o666);
  try {
    writeAll(fd, data);
  } finally {
    closeSync(fd);
  }
}

const TRUNCATE = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
const EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

/**
 * `file` null writes to stdout: binary data is refused when stdout is a
 * terminal. `extension` names the fallback file.
 */
export function writeProfile(file: string | null, data: string | Uint8Array, extension: string): WriteResult {
  if (file === null) {
    if (typeof data !== 'string' && process.stdout.isTTY) {
      const fallback = writeFallback(data, extension);
      throw new MixprofError('BAD_OPTION', `this format is binary and stdout is a terminal; the profile was written to ${fallback}`, 'pass -o FILE or redirect stdout');
    }
    // Synchronous for files and pipes on Linux, and it copes with a full pipe.
    process.stdout.write(data);
    return { path: null };
  }
  try {
    writeFile(file, data, TRUNCATE);
    return { path: file };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ELOOP' ? 'it is a symbolic link, which mixprof does not write through' : (error as Error).message;
    const fallback = writeFallback(data, extension);
    throw new MixprofError('OUTPUT_FAILED', `cannot write ${file}: ${why}`, `the profile was written to ${fallback} instead; choose another -o path`, { cause: error });
  }
}

function writeFallback(data: string | Uint8Array, extension: string): string {
  for (let attempt = 0; ; attempt++) {
    const file = path.join(tmpdir(), `mixprof-${process.pid}-${Date.now()}${attempt ? `-${attempt}` : ''}${extension}`);
    try {
      writeFile(file, data, EXCLUSIVE);
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 100) throw error;
    }
  }
}
