/**
 * GET /profile?pid=N&seconds=S, the seeds' stacksampler idea for any
 * process: sample it now for S seconds and answer folded stacks.
 */
import { formatFolded } from '../output/folded.js';
import { MAX_PYTHON_DEPTH, startProcessSession } from '../sample/session.js';

export async function profileNow(pid: number, seconds: number, hz = 99): Promise<string> {
  const session = await startProcessSession(
    pid,
    { durationSeconds: seconds, hz, extraFiles: [], hidePlumbing: true, threadRoots: false, fullPaths: false, maxDepth: MAX_PYTHON_DEPTH, nativeOnly: false, quiet: true },
    () => undefined,
  );
  const run = await session.done;
  return formatFolded(run.profile.stacks, { markPython: false });
}
