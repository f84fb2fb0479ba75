/**
 * Holds a Python command that `mixprof record` starts at its first line until
 * the sampler is attached, so that a short script is profiled whole however
 * long attaching takes on a busy machine.
 *
 * The command gets a sitecustomize module first on its path: the interpreter
 * imports it once it is set up (so that mixprof can read it), before the
 * script's first line. It puts PYTHONPATH and the path back as they were,
 * tells mixprof it is there (a byte on the socket mixprof passes as an extra
 * descriptor) and waits for the answer; then it runs the command's own
 * sitecustomize, if there is one. Should mixprof die meanwhile, the socket
 * closes and the command goes on. An interpreter that skips site (-S, -I,
 * -E) or a command that is not Python is not held: it is attached to as it
 * runs, as `sample` does.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Duplex } from 'node:stream';

/** The extra descriptor the command gets: stdin, stdout, stderr, then this. */
export const HOLD_FD = 3;

const SITECUSTOMIZE = `# Written by mixprof record: holds the interpreter until the profiler is attached.
import os
import sys


def _mixprof_hold():
    fd = os.environ.pop("MIXPROF_HOLD_FD", None)
    here = os.environ.pop("MIXPROF_HOLD_DIR", None)
    before = os.environ.pop("MIXPROF_PYTHONPATH", None)
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before
    if here is not None:
        sys.path[:] = [p for p in sys.path if p != here]
    if fd is not None:
        try:
            fd = int(fd)
            os.write(fd, b"R")
            os.read(fd, 1)
        except (OSError, ValueError):
            pass
        finally:
            try:
                os.close(fd)
            except (OSError, TypeError):
                pass
    # The command's own sitecustomize runs as it would have. Without one, this
    # module goes back in its place: the import that runs it looks it up there.
    me = sys.modules.pop("sitecustomize", None)
    try:
        import sitecustomize  # noqa: F401
    except ImportError as exc:
        if exc.name != "sitecustomize":
            raise
    finally:
        if me is not None:
            sys.modules.setdefault("sitecustomize", me)


_mixprof_hold()
`;

export interface Hold {
  /** The command's environment additions. */
  readonly env: Record<string, string>;
  /** Resolves true when the command waits at its first line, false if it ends or closes the socket first. */
  waiting(socket: Duplex): Promise<boolean>;
  /** Lets the command run (once; later calls do nothing). */
  release(): void;
  /** Removes the module's directory. */
  dispose(): void;
}

export function prepareHold(environment: NodeJS.ProcessEnv = process.env): Hold {
  const dir = mkdtempSync(path.join(tmpdir(), 'mixprof-hold-'));
  // Readable by a command that runs as another user (sudo -u): there is nothing secret in it.
  chmodSync(dir, 0o755);
  writeFileSync(path.join(dir, 'sitecustomize.py'), SITECUSTOMIZE, { mode: 0o644 });
  const before = environment['PYTHONPATH'];
  const env: Record<string, string> = {
    PYTHONPATH: before ? `${dir}${path.delimiter}${before}` : dir,
    MIXPROF_HOLD_FD: String(HOLD_FD),
    MIXPROF_HOLD_DIR: dir,
    ...(before !== undefined ? { MIXPROF_PYTHONPATH: before } : {}),
  };
  let socket: Duplex | null = null;
  let released = false;
  return {
    env,
    waiting(s: Duplex): Promise<boolean> {
      socket = s;
      return new Promise((resolve) => {
        const done = (held: boolean) => (): void => {
          s.off('data', onData);
          s.off('close', onEnd);
          s.off('end', onEnd);
          s.off('error', onEnd);
          resolve(held);
        };
        const onData = done(true);
        const onEnd = done(false);
        s.once('data', onData);
        s.once('end', onEnd);
        s.once('close', onEnd);
        s.once('error', onEnd);
      });
    },
    release(): void {
      if (released) return;
      released = true;
      if (socket && !socket.destroyed) socket.end('G', () => socket?.destroy());
    },
    dispose(): void {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
