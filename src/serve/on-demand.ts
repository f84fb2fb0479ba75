/**
 * GET /profile?pid=N&seconds=S, the seeds' stacksampler idea for any
 * process: sample it now for S seconds and answer folded stacks.
 */
import { formatFolded } from '../output/folded.js';
import { startProcessSession } from '../session/session.js';
import { sessionOptions } from '../session/session-options.js';

export async function profileNow(pid: number, seconds: number, hz = 99): Promise<string> {
  // As `mixprof sample -x PID -t SECONDS -F HZ -q` samples.
  const options = sessionOptions({ mode: 'cpu', unwind: 'auto' }, hz, { durationSeconds: seconds, extraFiles: [], hidePlumbing: true, threadRoots: false, quiet: true });
  const session = await startProcessSession(pid, options, () => undefined);
  const run = await session.done;
  return formatFolded(run.profile.stacks, { markPython: false });
}
