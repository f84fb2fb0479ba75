/**
 * Writes a finished profile. A file is written through a new file renamed
 * over it (replace-file.ts: nothing planted at the path, in a shared
 * directory or on the way to it, is written into or followed); when it
 * cannot be written, the profile goes to a new file in the temporary
 * directory instead, so samples are not lost, and the error says where.
 *
 * Stdout is written from libuv's thread pool, not through process.stdout,
 * whose pipe writes block the event loop on Linux: a reader that stops
 * reading would leave signals unanswered. Its descriptor is made blocking
 * first (Node makes a pipe non-blocking), so a write waits in the kernel for
 * the reader. A reader that exits early, or a caller that gives up on a slow
 * one (`abandon`), has the profile go to a fallback file.
 */
import { closeSync, constants, fstatSync, openSync, statSync, write } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isatty } from 'node:tty';
import { promisify } from 'node:util';
import { MixprofError } from '../errors.js';
import { nativeAddon } from '../native.js';
import { OutputRefused } from './output-directory.js';
import { checkReplaceable, replaceFile, writeAll } from './replace-file.js';

export interface WriteResult {
  /** Where the profile went: a path, or null for stdout. */
  readonly path: string | null;
}

const EXCLUSIVE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

const writeAsync = promisify(write);
const STDOUT = 1;
/**
 * Bytes per write: a blocking pipe write returns only once all of it is
 * taken, so chunks tell how far a slow reader got.
 */
const CHUNK = 64 * 1024;
/** How often a full non-blocking stdout is tried again. */
const FULL_PIPE_RETRY_MS = 10;

export interface WriteOptions {
  /** Aborted when the caller stops waiting for stdout's reader. */
  readonly abandon?: AbortSignal;
}

/**
 * `file` null writes to stdout: binary data is refused when stdout is a
 * terminal. `extension` names the fallback file.
 */
export async function writeProfile(file: string | null, data: string | Uint8Array, extension: string, options: WriteOptions = {}): Promise<WriteResult> {
  if (file === null) {
    if (typeof data !== 'string' && isatty(STDOUT)) {
      const fallback = writeFallback(data, extension);
      throw new MixprofError('BAD_OPTION', `this format is binary and stdout is a terminal; the profile was written to ${fallback}`, 'pass -o FILE or redirect stdout');
    }
    await writeStdout(data, extension, options.abandon);
    return { path: null };
  }
  // Asked to throw the profile away (to see only the report, or the table).
  if (isDevNull(file)) return { path: file };
  try {
    replaceFile(file, typeof data === 'string' ? Buffer.from(data) : data);
    return { path: file };
  } catch (error) {
    const why = whyNotWritten(error);
    const fallback = writeFallback(data, extension);
    throw new MixprofError('OUTPUT_FAILED', `cannot write ${file}: ${why}`, `the profile was written to ${fallback} instead; choose another -o path`, { cause: error });
  }
}

/** A system error's text without the path it was given (a /proc/self/fd one): "ENOSPC: no space left on device". */
function whyNotWritten(error: unknown): string {
  return error instanceof OutputRefused ? error.message : (/^E[A-Z]+: [^,]*/.exec((error as Error).message)?.[0] ?? (error as Error).message);
}

/** The null device (char 1:3), whatever the name it is reached by: the only device -o writes to. */
function isDevNull(file: string): boolean {
  try {
    const stats = statSync(file);
    return stats.isCharacterDevice() && stats.rdev === DEV_NULL;
  } catch {
    return false;
  }
}

/** makedev(1, 3). */
const DEV_NULL = (1 << 8) | 3;

/** Refuses, before sampling, an -o path the profile could not be written to. */
export function checkOutputFile(file: string): void {
  if (isDevNull(file)) return;
  try {
    checkReplaceable(file);
  } catch (error) {
    throw new MixprofError('BAD_OPTION', `cannot write ${file}: ${whyNotWritten(error)}`, 'choose another -o path (nothing was sampled)', { cause: error });
  }
}

async function writeStdout(data: string | Uint8Array, extension: string, abandon: AbortSignal | undefined): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  makeBlocking();
  let offset = 0;
  const taken = (): string => `at least ${offset} of ${bytes.length} bytes`;
  while (offset < bytes.length) {
    if (abandon?.aborted) {
      const fallback = writeFallback(bytes, extension);
      throw new MixprofError('INTERRUPTED', `interrupted while stdout's reader had taken ${taken()} of the profile`, `the whole profile was written to ${fallback}`);
    }
    try {
      offset += (await untilAbandoned(writeAsync(STDOUT, bytes, offset, Math.min(CHUNK, bytes.length - offset)), abandon)).bytesWritten;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EAGAIN') await untilAbandoned(new Promise((resolve) => setTimeout(resolve, FULL_PIPE_RETRY_MS)), abandon);
      else if (code === 'ABANDONED') continue;
      else {
        const fallback = writeFallback(bytes, extension);
        const why = code === 'EPIPE' ? `stdout was closed after its reader had taken ${taken()} of the profile` : `cannot write to stdout: ${(error as Error).message}`;
        throw new MixprofError('OUTPUT_FAILED', why, `the whole profile was written to ${fallback}`, { cause: error });
      }
    }
  }
}

/** Without the addon (convert runs without it) a full pipe is tried again every few milliseconds instead. */
function makeBlocking(): void {
  try {
    if (!fstatSync(STDOUT).isFile()) nativeAddon().setBlocking(STDOUT);
  } catch {
    // EAGAIN is handled
  }
}

let writesInFlight = 0;

/**
 * A write to stdout given up on is still waiting in the thread pool: the
 * process cannot exit normally (libuv joins its threads at exit) and must
 * end by a signal.
 */
export function stdoutWriteStuck(): boolean {
  return writesInFlight > 0;
}

/** The promise's value, or an ABANDONED error as soon as the caller gives up (a write stuck in the thread pool is left there). */
function untilAbandoned<T>(promise: Promise<T>, abandon: AbortSignal | undefined): Promise<T> {
  if (!abandon) return promise;
  writesInFlight++;
  void promise.then(
    () => writesInFlight--,
    () => writesInFlight--,
  );
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(Object.assign(new Error('abandoned'), { code: 'ABANDONED' }));
    if (abandon.aborted) return onAbort();
    abandon.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => abandon.removeEventListener('abort', onAbort));
  });
}

function writeFallback(data: string | Uint8Array, extension: string): string {
  for (let attempt = 0; ; attempt++) {
    const file = path.join(tmpdir(), `mixprof-${process.pid}-${Date.now()}${attempt ? `-${attempt}` : ''}${extension}`);
    try {
      const fd = openSync(file, EXCLUSIVE, 0o666);
      try {
        writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data);
      } finally {
        closeSync(fd);
      }
      return file;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 100) throw error;
    }
  }
}
