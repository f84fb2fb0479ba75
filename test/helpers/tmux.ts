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
   * Starts `command` in a new window that stays when it exits; a shell
   * around it prints its status (its arguments passed as "$@", never as text).
   */
  async start(session: string, cwd: string, command: readonly string[]): Promise<void> {
    await this.tmux('new-session', '-d', '-s', session, '-x', String(WIDTH), '-y', String(HEIGHT), '-c', cwd);
    await this.tmux('set-option', '-t', session, 'remain-on-exit', 'on');
    await this.tmux('respawn-pane', '-k', '-t', session, '-c', cwd, 'sh', '-c', '"$@"; echo "exited with $?"', 'sh', ...command);
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
