/**
 * Which Debian/Ubuntu package provides a shared library the prebuilt addon
 * needs, for the one line that says what to install when it does not load.
 * Debian 13 and Ubuntu 24.04 renamed some for the 64-bit time_t transition.
 */
import { readTextOrNull } from './read-text.js';

interface LibraryPackage {
  readonly before: string;
  /** Debian 13+, Ubuntu 24.04+. */
  readonly t64: string;
}

const PACKAGES: Readonly<Record<string, LibraryPackage>> = {
  'libdw.so.1': { before: 'libdw1', t64: 'libdw1t64' },
  'libelf.so.1': { before: 'libelf1', t64: 'libelf1t64' },
  'libbpf.so.1': { before: 'libbpf1', t64: 'libbpf1' },
  'libz.so.1': { before: 'zlib1g', t64: 'zlib1g' },
  'libstdc++.so.6': { before: 'libstdc++6', t64: 'libstdc++6' },
};

/** /etc/os-release's ID and VERSION_ID (null where unknown). */
function osRelease(text: string | null): { id: string | null; version: number | null } {
  const field = (name: string): string | null => new RegExp(`^${name}="?([^"\\n]*)"?$`, 'm').exec(text ?? '')?.[1] ?? null;
  const version = Number.parseFloat(field('VERSION_ID') ?? '');
  return { id: field('ID'), version: Number.isFinite(version) ? version : null };
}

function readOsRelease(): string | null {
  return readTextOrNull('/etc/os-release');
}

/** The package to install for a library, by the release's naming. */
export function packageFor(library: string, osReleaseText: string | null = readOsRelease()): string | null {
  const entry = PACKAGES[library];
  if (!entry) return null;
  const { id, version } = osRelease(osReleaseText);
  const t64 = version !== null && ((id === 'debian' && version >= 13) || (id === 'ubuntu' && version >= 24.04));
  // Debian testing and sid carry no VERSION_ID, and have the new names.
  const unreleasedDebian = id === 'debian' && version === null;
  return t64 || unreleasedDebian ? entry.t64 : entry.before;
}

/** The library a dlopen() error names as missing, e.g. "libdw.so.1: cannot open shared object file". */
export function missingLibrary(message: string): string | null {
  return /([\w+.-]+\.so(?:\.\d+)*): cannot open shared object file/.exec(message)?.[1] ?? null;
}
