/**
 * Finds the directory an output file goes into, walking its path one name at
 * a time as the kernel does, symbolic links included, so that every link on
 * the way (in the path given and in the links' own targets) is looked at.
 *
 * A link is followed when its owner is root, the current user or the owner of
 * the directory holding it, or when that directory can be written by its
 * owner alone. Anything else is a link another user may have planted in a
 * shared directory (/tmp, or one writable by a group) to redirect a root
 * process's write, and is refused. This is the kernel's protected_symlinks
 * rule, widened from sticky world-writable directories to any directory
 * others can write, and checked whether the sysctl is on or not. Ordinary
 * links (/var/run -> /run, a user's ~/out -> /data/out, even under sudo) are
 * followed.
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs';
import path from 'node:path';

/** A write refused on purpose; its message says why, in the user's terms. */
export class OutputRefused extends Error {
  override readonly name = 'OutputRefused';
}

export interface CheckedDirectory {
  /** Its path without symbolic links. */
  readonly real: string;
  /** Its lstat, to know it again once opened. */
  readonly stats: Stats;
}

/** As the kernel's limit on links followed while resolving one path. */
const MAX_LINKS = 40;

/** Only root, the current user and whoever owns the directory (or can write it alone) could have put `link` there. */
function trustedLink(link: Stats, directory: Stats): boolean {
  const othersCanWrite = (directory.mode & 0o022) !== 0;
  return !othersCanWrite || link.uid === 0 || link.uid === process.geteuid?.() || link.uid === directory.uid;
}

/** The real directory `dir` names (absolute, or relative to the working directory, which is real already). */
export function resolveDirectory(dir: string): CheckedDirectory {
  let real = path.isAbsolute(dir) ? '/' : process.cwd();
  let stats = lstatSync(real);
  const pending = dir.split('/');
  let links = 0;
  while (pending.length > 0) {
    const name = pending.shift()!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      // From the directory reached, not the name given: `link/..` is the link target's parent, as for the kernel.
      real = path.dirname(real);
      stats = lstatSync(real);
      continue;
    }
    const next = path.join(real, name);
    const entry = lstatSync(next);
    if (entry.isSymbolicLink()) {
      if (++links > MAX_LINKS) throw new OutputRefused('its path has too many symbolic links');
      if (!trustedLink(entry, stats)) {
        throw new OutputRefused(`${next} is a symbolic link of another user's (uid ${entry.uid}) in a directory others can write, which mixprof does not follow`);
      }
      const target = readlinkSync(next);
      pending.unshift(...target.split('/'));
      if (target.startsWith('/')) {
        real = '/';
        stats = lstatSync(real);
      }
      continue;
    }
    if (!entry.isDirectory()) throw new OutputRefused(`${next} is not a directory`);
    real = next;
    stats = entry;
  }
  return { real, stats };
}
