/**
 * `mixprof top`: a view of the hottest functions, of a running process live
 * or of a saved profile (top-source.ts). A session samples all along (with
 * a root per thread, for the thread filter); every second the counts since
 * the last second are drained from it into the window (sample-window.ts),
 * and the rows (function-view.ts) drawn (screen.ts) on the terminal
 * (terminal.ts). Keys change the view at once. Pausing freezes the view,
 * not the sampling.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { injectedFault } from '../fault-injection.js';
import { formatFolded } from '../output/folded.js';
import type { StackCount } from '../profile/profile.js';
import type { Frame } from '../symbolize/frame.js';
import type { TopSource } from './top-source.js';
import { SORT_COLUMNS, viewRows, type Row, type SortColumn } from './function-view.js';
import { SampleWindow } from './sample-window.js';
import { renderFrame, scrollFor, type Header } from './screen.js';
import type { Key, Terminal } from './terminal.js';

export interface TopOptions {
  readonly source: TopSource;
  readonly terminal: Terminal;
  /** null: cumulative counts. */
  readonly windowMs: number | null;
  /** Where `w` writes its folded files. */
  readonly writeDir: string;
  /** The first refresh happens at once; then every refreshMs. */
  readonly refreshMs?: number;
}

/** What the view shows: a thread's stacks, without the root naming the thread. */
function stacksOfThread(stacks: readonly StackCount[], thread: string | null): StackCount[] {
  const out: StackCount[] = [];
  for (const s of stacks) {
    const [root, ...rest] = s.frames;
    const rooted = root !== undefined && root.kind === 'marker';
    if (thread !== null && !(rooted && root.name === thread)) continue;
    out.push({ frames: rooted ? rest : s.frames, count: s.count });
  }
  return out;
}

/** The threads of the stacks, busiest first. */
function threadsOf(stacks: readonly StackCount[]): string[] {
  const counts = new Map<string, number>();
  for (const s of stacks) {
    const root: Frame | undefined = s.frames[0];
    if (root?.kind === 'marker') counts.set(root.name, (counts.get(root.name) ?? 0) + s.count);
  }
  return [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([name]) => name);
}

function stamp(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:]/g, '').replace('T', '-').replace(/\..*$/, '');
}

/** Runs the view until the user quits (or `stop` is called); resolves with the session's end. */
export class TopView {
  private readonly window: SampleWindow;
  private stacks: StackCount[] = [];
  private rows: Row[] = [];
  private sort: SortColumn = 'own%';
  private readonly toggled = new Set<string>();
  private cursor = 0;
  private cursorId: string | null = null;
  private scroll = 0;
  private thread: string | null = null;
  private paused = false;
  private ended: string | null = null;
  private message = '';
  private lost = 0;
  private timer: NodeJS.Timeout | null = null;
  private quit: () => void = () => undefined;
  /** An error in a callback ends the view, to be reported once the terminal is back. */
  private failure: unknown = null;
  private draws = 0;
  private readonly drawFault = injectedFault('top-draw');

  constructor(private readonly options: TopOptions) {
    this.window = new SampleWindow(options.windowMs, Date.now());
  }

  /** Until q (or stop()); the source is stopped. */
  async run(): Promise<void> {
    const { source, terminal } = this.options;
    const quitting = new Promise<void>((resolve) => {
      this.quit = resolve;
    });
    terminal.onKey((key) => this.guard(() => this.key(key)));
    terminal.onResize(() => this.guard(() => this.draw()));
    let ended = false;
    source.done.then(
      (last) =>
        this.guard(() => {
          ended = true;
          this.ended = last.ended;
          this.stopTimer();
          // The last counts: those since the last drain.
          this.take(last.stacks, last.lost);
          this.draw();
        }),
      (error: unknown) => this.guard(() => {
        throw error;
      }),
    );
    this.guard(() => this.refresh());
    this.timer = setInterval(() => this.guard(() => this.refresh()), this.options.refreshMs ?? 1000);
    await quitting;
    this.stopTimer();
    if (this.failure) throw this.failure;
    if (!ended) source.stop();
    await source.done;
  }

  /** Ends the view as q does (a signal). */
  stop(): void {
    this.quit();
  }

  private guard(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.failure ??= error;
      this.quit();
    }
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private refresh(): void {
    if (this.ended) return;
    const { stacks, lost } = this.options.source.drain();
    this.take(stacks, lost);
    if (!this.paused) this.draw();
  }

  private take(stacks: readonly StackCount[], lost: number): void {
    this.window.add(stacks, Date.now());
    this.lost += lost;
    if (!this.paused) this.stacks = this.window.current();
  }

  private draw(): void {
    if (++this.draws === this.drawFault) throw new Error('injected fault: top-draw');
    const { rows, samples } = viewRows(stacksOfThread(this.stacks, this.thread), { sort: this.sort, toggled: this.toggled });
    this.rows = rows;
    // The cursor stays on its row when rows move.
    const at = this.cursorId === null ? -1 : rows.findIndex((r) => r.id === this.cursorId);
    this.cursor = at >= 0 ? at : Math.min(this.cursor, Math.max(0, rows.length - 1));
    this.cursorId = rows[this.cursor]?.id ?? null;
    const { terminal, source } = this.options;
    this.scroll = scrollFor(this.cursor, this.scroll, rows.length, terminal.height);
    const header: Header = {
      shown: source.shown,
      threads: threadsOf(this.stacks).length,
      lost: this.lost,
      samples,
      coveredMs: this.window.coveredMs(),
      windowMs: this.options.windowMs,
      sort: this.sort,
      thread: this.thread,
      paused: this.paused,
      ended: this.ended,
    };
    terminal.draw(renderFrame({ header, rows, cursor: this.cursor, scroll: this.scroll, message: this.message }, terminal.width, terminal.height));
  }

  private move(to: number): void {
    this.cursor = Math.max(0, Math.min(this.rows.length - 1, to));
    this.cursorId = this.rows[this.cursor]?.id ?? null;
  }

  private setOpen(row: Row | undefined, open: boolean): void {
    if (!row?.openable || row.open === open) return;
    if (this.toggled.has(row.id)) this.toggled.delete(row.id);
    else this.toggled.add(row.id);
  }

  private key(key: Key): void {
    this.message = '';
    const row = this.rows[this.cursor];
    const page = Math.max(1, this.options.terminal.height - 5);
    switch (key.name) {
      case 'q':
        return this.quit();
      case 'c':
        if (key.ctrl) return this.quit();
        break;
      case 'space':
        this.paused = !this.paused;
        // Unpaused: show the counts of now at once.
        if (!this.paused) this.stacks = this.window.current();
        break;
      case 'up':
        this.move(this.cursor - 1);
        break;
      case 'down':
        this.move(this.cursor + 1);
        break;
      case 'pageup':
        this.move(this.cursor - page);
        break;
      case 'pagedown':
        this.move(this.cursor + page);
        break;
      case 'home':
        this.move(0);
        break;
      case 'end':
        this.move(this.rows.length - 1);
        break;
      case 'return':
      case 'enter':
        this.setOpen(row, !row?.open);
        break;
      case 'right':
        this.setOpen(row, true);
        break;
      case 'left':
        if (row?.open) this.setOpen(row, false);
        else if (row && row.depth > 0) this.move(this.rows.slice(0, this.cursor).findLastIndex((r) => r.depth < row.depth));
        break;
      case 's':
      case ']':
        this.sort = SORT_COLUMNS[(SORT_COLUMNS.indexOf(this.sort) + 1) % SORT_COLUMNS.length]!;
        break;
      case '[':
        this.sort = SORT_COLUMNS[(SORT_COLUMNS.indexOf(this.sort) + SORT_COLUMNS.length - 1) % SORT_COLUMNS.length]!;
        break;
      case 't': {
        const threads = threadsOf(this.stacks);
        const next = this.thread === null ? 0 : threads.indexOf(this.thread) + 1;
        this.thread = next < threads.length ? threads[next]! : null;
        this.message = `thread: ${this.thread ?? 'all'} (t: next of ${threads.length})`;
        break;
      }
      case 'r':
        if (this.options.source.shown.kind === 'file') {
          this.message = 'a saved profile: nothing to reset';
          break;
        }
        this.window.reset();
        this.stacks = this.window.current();
        this.message = 'counts reset';
        break;
      case 'w':
        this.message = this.write();
        break;
      default:
        return;
    }
    this.draw();
  }

  /** The stacks shown, as a folded file in the working directory. */
  private write(): string {
    const file = path.join(this.options.writeDir, `mixprof-top-${this.options.source.stem}-${stamp(Date.now())}.folded`);
    const stacks = stacksOfThread(this.stacks, this.thread);
    try {
      writeFileSync(file, formatFolded(stacks, { markPython: false }), { flag: 'wx', mode: 0o644 });
    } catch (error) {
      return `cannot write ${file}: ${(error as Error).message}`;
    }
    return `wrote ${stacks.length} stacks (${stacks.reduce((n, s) => n + s.count, 0)} samples) to ${file}`;
  }
}
