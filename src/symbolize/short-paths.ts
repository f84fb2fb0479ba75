/**
 * Short source paths for Python frames, as py-spy and austin show them: a
 * module of an installed package is named from its package, a standard
 * library module from the library, the application's own files relative to
 * its working directory. `--full-paths` keeps co_filename whole.
 */

/** Code compiled from strings or frozen modules: "<string>", "<frozen importlib._bootstrap>". */
const PSEUDO_FILE = /^<.*>$/;
const PACKAGES_DIR = /\/(?:site|dist)-packages\//g;
/** The standard library of any prefix: /usr/lib/python3.11/, /opt/py/lib/python3.13t/. */
const STDLIB_DIR = /\/lib(?:64)?\/python\d+\.\d+[a-z]*\//;

export function shortenPath(file: string, cwd: string | null): string {
  if (PSEUDO_FILE.test(file) || !file.startsWith('/')) return file;
  let packages = -1;
  for (const match of file.matchAll(PACKAGES_DIR)) packages = match.index + match[0].length;
  if (packages >= 0 && packages < file.length) return file.slice(packages);
  const stdlib = STDLIB_DIR.exec(file);
  if (stdlib && stdlib.index + stdlib[0].length < file.length) return file.slice(stdlib.index + stdlib[0].length);
  if (cwd && cwd !== '/') {
    const base = cwd.endsWith('/') ? cwd : cwd + '/';
    if (file.startsWith(base) && file.length > base.length) return file.slice(base.length);
  }
  return file;
}
