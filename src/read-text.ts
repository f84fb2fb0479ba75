/** A small text file (/proc, /sys, /etc) as a string, or null where it cannot be read: absent, gone, or not allowed. */
import { readFileSync } from 'node:fs';

export function readTextOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
