/**
 * The terminal for a full-screen view: the alternate screen (so the shell's
 * screen comes back as it was), no cursor, raw keys. Whatever ends the view
 * (a key, a signal, an error, the process exiting) restores it: `restore` is
 * idempotent and also runs on process exit.
 */
import ansiEscapes from 'ansi-escapes';
import { emitKeypressEvents } from 'node:readline';
import type { ReadStream, WriteStream } from 'node:tty';

export interface Key {
  /** readline's name: "up", "return", "space", "q", "[" ... */
  readonly name: string;
  readonly ctrl: boolean;
}

export interface Terminal {
  readonly width: number;
  readonly height: number;
  draw(lines: readonly string[]): void;
  onKey(handler: (key: Key) => void): void;
  onResize(handler: () => void): void;
  restore(): void;
}

const CLEAR_TO_END_OF_LINE = '\u001b[K';

export function openTerminal(input: ReadStream, output: WriteStream): Terminal {
  let restored = false;
  const keyHandlers: ((key: Key) => void)[] = [];
  const onKeypress = (text: string | undefined, key: { name?: string; ctrl?: boolean; sequence?: string } | undefined): void => {
    const name = key?.name ?? text ?? key?.sequence ?? '';
    for (const handler of keyHandlers) handler({ name, ctrl: key?.ctrl ?? false });
  };
  const restore = (): void => {
    if (restored) return;
    restored = true;
    input.off('keypress', onKeypress);
    if (input.isTTY) input.setRawMode(false);
    input.pause();
    output.write(ansiEscapes.cursorShow + ansiEscapes.exitAlternativeScreen);
  };
  // A crash or exit() still gives the shell its screen back.
  process.once('exit', restore);
  // A terminal that went away (ssh hung up) fails writes: there is no screen left to draw or restore.
  output.on('error', () => undefined);
  emitKeypressEvents(input);
  input.setRawMode(true);
  input.resume();
  input.on('keypress', onKeypress);
  output.write(ansiEscapes.enterAlternativeScreen + ansiEscapes.cursorHide + ansiEscapes.clearScreen);
  return {
    get width() {
      return output.columns || 80;
    },
    get height() {
      return output.rows || 24;
    },
    draw(lines) {
      if (restored) return;
      // Home, each line over the last frame's, then clear what is left: no flicker.
      output.write(ansiEscapes.cursorTo(0, 0) + lines.join(CLEAR_TO_END_OF_LINE + '\r\n') + CLEAR_TO_END_OF_LINE + ansiEscapes.eraseDown);
    },
    onKey(handler) {
      keyHandlers.push(handler);
    },
    onResize(handler) {
      output.on('resize', handler);
    },
    restore,
  };
}
