/** A tmux server of its own for tests of full-screen views (`mixprof top`). */
import { execa } from 'execa';

/** The size of the terminal each session has. */
const WIDTH = 160;
const HEIGHT = 50;

/** A tmux server of its own, so that nothing of the user's is touched. */
export class Tmux {
  private readonly socket = `mixprof-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  async tmux(...args: string[]): Promise<string> {
    const { stdout } = await execa('tmux', ['-L', this.socket, '-f', '/dev/null', ...args]);
    return stdout;
  }

  /**
   * Starts `command` in a new window; a shell around it prints its status
   * (its arguments passed as "$@", never as text) and then stays. A pane
   * left to die (remain-on-exit) may be marked dead before tmux has read the
   * last output, which lost the status line and the terminal's restore once.
   */
  async start(session: string, cwd: string, command: readonly string[]): Promise<void> {
    await this.tmux('new-session', '-d', '-s', session, '-x', String(WIDTH), '-y', String(HEIGHT), '-c', cwd);
    await this.tmux('respawn-pane', '-k', '-t', session, '-c', cwd, 'sh', '-c', '"$@"; echo "exited with $?"; exec sleep infinity', 'sh', ...command);
  }

  /** The command's exit status, once the shell has printed it; null when it is not printed within `ms`. */
  async exitStatus(session: string, ms = 30_000): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const status = exitedWith(await this.capture(session, true));
      if (status !== null || Date.now() > deadline) return status;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** The screen, with escape sequences (to see the cursor's reverse video); with `history`, what scrolled off too. */
  capture(session: string, history = false): Promise<string> {
    return this.tmux('capture-pane', '-p', '-e', ...(history ? ['-S', '-'] : []), '-t', session);
  }

  async keys(session: string, ...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', session, ...keys);
  }

  async pane(session: string, format: string): Promise<string> {
    return (await this.tmux('display-message', '-p', '-t', session, format)).trim();
  }

  async kill(): Promise<void> {
    await execa('tmux', ['-L', this.socket, 'kill-server'], { reject: false });
  }
}

/** Colour and attribute escapes, as capture-pane -e writes them. */
const SGR = new RegExp(String.raw`\u001b\[[0-9;]*m`, 'g');

/** The status the shell of `start` printed on a screen, or null. */
export function exitedWith(screen: string): string | null {
  return /^exited with (\d+)$/m.exec(screen.replace(SGR, ''))?.[1] ?? null;
}
