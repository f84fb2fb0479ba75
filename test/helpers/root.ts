/** Integration tests load BPF programs: without root they fail, never skip. */
import assert from 'node:assert/strict';

export function assertRoot(): void {
  assert.equal(process.getuid?.(), 0, 'integration tests need root (they run bpftrace); run `sudo npm test`');
}
