/**
 * Writes an output file the way editors save one: into a new file beside it,
 * created exclusively (O_EXCL, so nothing planted is ever opened: a FIFO
 * cannot block the write nor take the data, another user's file is never
 * written into), then renamed over the name given.
 *
 * Only a missing file or a regular file is replaced: a FIFO, socket, device
 * or directory and a symbolic link are refused, and so is another user's file
 * in a directory others can write (their 0666 file in /tmp), which they may
 * have planted there; in a directory only its owner writes, its owner's file
 * is replaced (`sudo mixprof ... -o ~/app.svg` over the user's own file). A file replaced keeps
 * its permission bits, as an overwrite would; a new one gets 0666 & ~umask.
 *
 * The directory is checked (output-directory.ts), opened, known again by its
 * inode, and used through /proc/self/fd, so a directory swapped for another
 * after the check is never written into.
 */
import { closeSync, constants, existsSync, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, renameSync, rmSync, writeSync, type Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { OutputRefused, resolveDirectory, type CheckedDirectory } from './output-directory.js';

export function writeAll(fd: number, data: Uint8Array): void {
  let offset = 0;
  while (offset < data.length) offset += writeSync(fd, data, offset, data.length - offset);
}

const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** The file's name and its checked directory. */
function splitOutputPath(file: string): { name: string; checked: CheckedDirectory } {
  const slash = file.lastIndexOf('/');
  const name = file.slice(slash + 1);
  if (name === '' || name === '.' || name === '..') throw new OutputRefused('it names a directory');
  return { name, checked: resolveDirectory(slash < 0 ? '.' : file.slice(0, slash + 1)) };
}

/**
 * What replaceFile would refuse, found before there is anything to write: the
 * same checks, and an empty new file made and removed beside the name (a
 * read-only or full file system, a directory mixprof may not write).
 */
export function checkReplaceable(file: string): void {
  const { name, checked } = splitOutputPath(file);
  const directory = openDirectory(checked);
  try {
    replaceableIn(checked.stats, path.join(directory.path, name));
    rmSync(writeTemporary(directory.path, name, new Uint8Array(0), null));
  } finally {
    directory.close();
  }
}

export function replaceFile(file: string, data: Uint8Array): void {
  const { name, checked } = splitOutputPath(file);
  const directory = openDirectory(checked);
  try {
    const target = path.join(directory.path, name);
    const replaceable = (at: string): Stats | null => replaceableIn(checked.stats, at);
    const old = replaceable(target);
    const temp = writeTemporary(directory.path, name, data, old ? old.mode & 0o777 : null);
    try {
      // Again: the write took a while. What appears between this and the rename is replaced, never written into.
      replaceable(target);
      renameSync(temp, target);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    }
  } finally {
    directory.close();
  }
}

/** The path to reach the checked directory by, and how to let it go. */
function openDirectory(checked: CheckedDirectory): { path: string; close(): void } {
  let fd: number;
  try {
    fd = openSync(checked.real, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (error) {
    // A directory one can write but not read: only its path is left.
    if ((error as NodeJS.ErrnoException).code === 'EACCES') return { path: checked.real, close: () => {} };
    throw error;
  }
  const opened = fstatSync(fd);
  if (opened.dev !== checked.stats.dev || opened.ino !== checked.stats.ino) {
    closeSync(fd);
    throw new OutputRefused(`its directory ${checked.real} was replaced while it was checked`);
  }
  const byFd = `/proc/self/fd/${fd}`;
  return { path: existsSync(byFd) ? byFd : checked.real, close: () => closeSync(fd) };
}

/** The file to be replaced, null when there is none; anything mixprof must not replace is refused. */
function replaceableIn(directory: Stats, target: string): Stats | null {
  let stats: Stats;
  try {
    stats = lstatSync(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  if (stats.isSymbolicLink()) throw new OutputRefused('it is a symbolic link, which mixprof does not write through');
  if (stats.isDirectory()) throw new OutputRefused('it is a directory');
  const other = stats.isFIFO() ? 'a FIFO' : stats.isCharacterDevice() ? 'a character device' : stats.isBlockDevice() ? 'a block device' : stats.isSocket() ? 'a socket' : null;
  if (other) throw new OutputRefused(`it is ${other}, not a regular file (to write into one, leave out -o and redirect stdout)`);
  const othersCanWrite = (directory.mode & 0o022) !== 0;
  const ours = stats.uid === process.geteuid?.() || (stats.uid === directory.uid && !othersCanWrite);
  if (!ours) throw new OutputRefused(`it belongs to another user (uid ${stats.uid}) in a directory others can write, and mixprof replaces only its own files there`);
  return stats;
}

/** A new file beside `name`, holding `data` on disk; `mode` is the replaced file's. */
function writeTemporary(dir: string, name: string, data: Uint8Array, mode: number | null): string {
  for (let attempt = 0; ; attempt++) {
    // The name's start keeps it recognisable; 50 characters are at most 200 bytes, within the 255-byte limit.
    const temp = path.join(dir, `.${name.slice(0, 50)}.mixprof-${randomBytes(4).toString('hex')}`);
    let fd: number;
    try {
      // Created with the replaced file's mode (or 0666) less the umask, so it is never readable by more than the result.
      fd = openSync(temp, CREATE, mode ?? 0o666);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && attempt < 10) continue;
      throw error;
    }
    try {
      if (mode !== null) fchmodSync(fd, mode);
      writeAll(fd, data);
      // Renamed over a file the user had, the new one must be whole even after a crash.
      fsyncSync(fd);
    } catch (error) {
      rmSync(temp, { force: true });
      throw error;
    } finally {
      closeSync(fd);
    }
    return temp;
  }
}
