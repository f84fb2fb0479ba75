/**
 * The collector's store: timestamped profiles of processes in one SQLite
 * file (better-sqlite3) in a data directory, in WAL mode so that a reader
 * (`mixprof serve`) and the writer work at once and a collector killed
 * mid-write loses only the profile in flight.
 *
 * Frames and stacks are stored once and referred to by id; a profile's
 * counts are one blob of (thread, stack, count) ids (sample-blob.ts).
 */
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { MixprofError } from '../errors.js';
import type { StackCount } from '../profile/profile.js';
import type { Frame, FrameKind } from '../symbolize/frame.js';
import { addStackCounts, decodeSamples, encodeSamples, type SampleEntry } from './sample-blob.js';

export const STORE_FILE = 'profiles.db';

/**
 * better-sqlite3, loaded when a store is opened: an optional dependency, whose
 * install fetches a prebuilt binary or compiles one. Where neither could be
 * done, sampling works and only collect and serve say what is missing.
 */
function sqlite(): typeof Database {
  try {
    return createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  } catch (error) {
    throw new MixprofError(
      'ADDON_MISSING',
      `the profile store needs better-sqlite3, which could not be loaded: ${(error as Error).message.split('\n')[0]}`,
      'install it beside mixprof: `npm install better-sqlite3` in the mixprof package (it fetches a prebuilt binary, or builds one with g++ and make)',
      { cause: error },
    );
  }
}
const SCHEMA_VERSION = 2;
/** Roll-ups add up each process's profiles per hour, so that a day reads 24 rows per process. */
export const ROLLUP_MS = 3_600_000;
/** Prepared statements kept: several times the texts the store uses. */
const MAX_STATEMENTS = 64;

export interface StoredProcess {
  readonly host: string;
  readonly pid: number;
  /** The process's name (comm). */
  readonly name: string;
  readonly cmdline: string;
  /** "3.11.7", or null for a process without Python. */
  readonly python: string | null;
}

export interface StoredStack {
  /** "name (tid)" of the thread, or null when threads are not told apart. */
  readonly thread: string | null;
  /** Root first. */
  readonly frames: readonly Frame[];
  readonly count: number;
}

export interface ProfileRecord {
  readonly process: StoredProcess;
  /** Sampling start and end, ms since the epoch. */
  readonly startMs: number;
  readonly endMs: number;
  readonly hz: number;
  readonly mode: 'cpu' | 'wall';
  readonly lostEvents: number;
  readonly stacks: readonly StoredStack[];
}

export interface ProfileFilter {
  /** ms since the epoch: profiles that started in [from, until). */
  readonly from: number;
  readonly until: number;
  readonly pids?: readonly number[];
  /** Process names (comm). */
  readonly names?: readonly string[];
  readonly hosts?: readonly string[];
  /** Thread labels as stored ("name (tid)"). */
  readonly threads?: readonly string[];
  /** Frame kinds kept (markers always are); all when absent. */
  readonly kinds?: readonly FrameKind[];
  /** Put each thread's label at the root of its stacks. */
  readonly threadRoots?: boolean;
}

export interface QueryResult {
  /** Root first, with counts; a stack left without frames by `kinds` becomes FILTERED_FRAME. */
  readonly stacks: StackCount[];
  readonly samples: number;
  readonly profiles: number;
  /** The sampling rate (the highest, when profiles differ). */
  readonly hz: number;
  readonly mode: 'cpu' | 'wall';
  /** First start and last end of the profiles read; null when there were none. */
  readonly startMs: number | null;
  readonly endMs: number | null;
}

export interface ProcessSummary extends StoredProcess {
  readonly profiles: number;
  readonly samples: number;
  readonly firstMs: number;
  readonly lastMs: number;
}

export interface Timeline {
  readonly from: number;
  readonly stepMs: number;
  /** Samples of profiles starting in each step. */
  readonly counts: number[];
}

export const FILTERED_FRAME: Frame = { kind: 'marker', name: '[other frames]' };

interface ProfileRow {
  /** 0 for a roll-up. */
  id: number;
  start_ms: number;
  end_ms: number;
  hz: number;
  mode: 'cpu' | 'wall';
  samples: number;
  lost: number;
  process_id: number;
  /** The profiles the row adds up: 1, or a roll-up's. */
  profiles: number;
  data: Buffer;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processes (
  id INTEGER PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, name TEXT NOT NULL,
  cmdline TEXT NOT NULL, python TEXT, UNIQUE (host, pid, name, cmdline, python));
CREATE TABLE IF NOT EXISTS frames (
  id INTEGER PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, func TEXT, file TEXT, line INTEGER,
  key TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS stacks (id INTEGER PRIMARY KEY, frames TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS threads (id INTEGER PRIMARY KEY, label TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS profiles (
  id INTEGER PRIMARY KEY, process_id INTEGER NOT NULL REFERENCES processes (id),
  start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, hz INTEGER NOT NULL, mode TEXT NOT NULL,
  samples INTEGER NOT NULL, lost INTEGER NOT NULL,
  -- 0: as collected; otherwise the span (ms) of the profiles compacted into this one
  compacted_ms INTEGER NOT NULL DEFAULT 0,
  data BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS profiles_by_start ON profiles (start_ms);
-- Schema 2: the profiles of a process that started in one hour, added up; exactly
-- those (adding or removing one of them removes the roll-up), so a query may read it instead.
CREATE TABLE IF NOT EXISTS rollups (
  process_id INTEGER NOT NULL REFERENCES processes (id), hour_ms INTEGER NOT NULL,
  start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL, hz INTEGER NOT NULL, mode TEXT NOT NULL,
  samples INTEGER NOT NULL, lost INTEGER NOT NULL, profiles INTEGER NOT NULL, data BLOB NOT NULL,
  PRIMARY KEY (process_id, hour_ms));
CREATE INDEX IF NOT EXISTS rollups_by_hour ON rollups (hour_ms);
`;

const frameKey = (f: Frame): string => `${f.kind}\u0000${f.name}\u0000${f.func ?? ''}\u0000${f.file ?? ''}\u0000${f.line ?? ''}`;

export class ProfileStore {
  private readonly frameIds = new Map<string, number>();
  /** The same Frame objects recur in a profile's stacks: their ids without building a key. */
  private frameObjectIds = new WeakMap<Frame, number>();
  private readonly stackIds = new Map<string, number>();
  private readonly threadIds = new Map<string, number>();
  private readonly processIds = new Map<string, number>();
  /** Frames, stacks and thread labels read so far, by id; read in bulk, then only the new ones. */
  // Arrays indexed by id (ids are dense): faster than maps over a day's millions of look-ups.
  private readonly frameCache: Frame[] = [];
  private readonly stackCache: number[][] = [];
  private readonly stackFrameCache: (readonly Frame[])[] = [];
  private readonly threadLabels = new Map<number, string>();
  private readonly kindsViews = new Map<string, KindsView>();
  private loaded = { frame: 0, stack: 0, thread: 0 };
  private readonly statements = new Map<string, Database.Statement>();

  private constructor(
    private readonly db: Database.Database,
    readonly file: string,
    private readonly hasRollups: boolean,
  ) {}

  /**
   * Compiled once: preparing is a good part of a small statement's cost. The
   * texts are a fixed set; the cache is bounded all the same (least recently
   * used dropped), as a server's memory must not grow with its requests.
   */
  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (statement) {
      this.statements.delete(text);
    } else {
      statement = this.db.prepare(text);
      if (this.statements.size >= MAX_STATEMENTS) this.statements.delete(this.statements.keys().next().value!);
    }
    this.statements.set(text, statement);
    return statement;
  }

  /** How many prepared statements are kept (bounded by MAX_STATEMENTS). */
  get preparedStatements(): number {
    return this.statements.size;
  }

  /** Opens (creating on first use) the store in `dataDir`. */
  static open(dataDir: string, options: { readonly?: boolean } = {}): ProfileStore {
    const file = path.join(dataDir, STORE_FILE);
    const Sqlite = sqlite();
    let db: Database.Database;
    try {
      if (!options.readonly) mkdirSync(dataDir, { recursive: true, mode: 0o750 });
      db = new Sqlite(file, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    } catch (error) {
      throw new MixprofError('BAD_OPTION', `cannot open the profile store ${file}: ${(error as Error).message}`, options.readonly ? 'run `mixprof collect --data-dir DIR` first, or pass the --data-dir it uses' : 'pass a writable --data-dir');
    }
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      // A commit survives a crash of mixprof; only a power loss may undo the last ones.
      db.pragma('synchronous = NORMAL');
      db.exec(SCHEMA);
      const version = db.prepare('SELECT value FROM meta WHERE key = ?').get('schema') as { value: string } | undefined;
      // Schema 1 lacked only the roll-ups, which the SCHEMA above has just added.
      if (!version || Number(version.value) === 1) db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('schema', String(SCHEMA_VERSION));
      else if (Number(version.value) !== SCHEMA_VERSION) {
        db.close();
        throw new MixprofError('BAD_OPTION', `the profile store ${file} has schema ${version.value}; this mixprof reads ${SCHEMA_VERSION}`, 'use another --data-dir, or the mixprof that wrote it');
      }
    }
    db.pragma('busy_timeout = 5000');
    let schema = SCHEMA_VERSION;
    if (options.readonly) {
      const row = db.prepare("SELECT value FROM meta WHERE key = 'schema'").get() as { value: string } | undefined;
      schema = Number(row?.value ?? 0);
      if (schema !== 1 && schema !== SCHEMA_VERSION) {
        db.close();
        throw new MixprofError('BAD_OPTION', `the profile store ${file} has schema ${row?.value ?? 'none'}; this mixprof reads ${SCHEMA_VERSION}`, 'use another --data-dir, or the mixprof that wrote it');
      }
    }
    // A store of schema 1, not yet opened by this collector, has no roll-ups.
    return new ProfileStore(db, file, schema >= 2);
  }

  close(): void {
    this.db.close();
  }

  /** Stores one profile in one transaction; returns its id. */
  add(record: ProfileRecord): number {
    const write = this.db.transaction((r: ProfileRecord): number => {
      const processId = this.processId(r.process);
      const counts = new Map<string, SampleEntry>();
      let samples = 0;
      for (const s of r.stacks) {
        const thread = s.thread === null ? 0 : this.threadId(s.thread);
        const stack = this.stackId(s.frames);
        const key = `${thread}:${stack}`;
        const entry = counts.get(key);
        counts.set(key, { thread, stack, count: (entry?.count ?? 0) + s.count });
        samples += s.count;
      }
      const startMs = Math.round(r.startMs);
      const info = this.sql('INSERT INTO profiles (process_id, start_ms, end_ms, hz, mode, samples, lost, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
        .run(processId, startMs, Math.round(r.endMs), r.hz, r.mode, samples, r.lostEvents, encodeSamples([...counts.values()]));
      // The hour's roll-up, if made already, no longer adds up its profiles.
      this.sql('DELETE FROM rollups WHERE process_id = ? AND hour_ms = ?').run(processId, hourOf(startMs));
      return Number(info.lastInsertRowid);
    });
    return write(record);
  }

  /** The stacks of the profiles matching the filter, added up. */
  query(filter: ProfileFilter): QueryResult {
    const rows = this.dataRows(filter);
    // After the rows: every stack and thread they name is read.
    this.loadNew();
    const view = filter.kinds?.length ? this.kindsView(filter.kinds) : null;
    const counts = filter.threadRoots === true ? this.countsByThread(rows, filter.threads) : this.countsByStack(rows, filter.threads);
    // With kinds, stacks that differ only in frames filtered out are one.
    const merged = new Map<number, number>();
    for (const [key, count] of counts.entries) {
      const stack = key % 2 ** 32;
      const id = (view ? view.idOf(stack) : stack) + (key - stack);
      merged.set(id, (merged.get(id) ?? 0) + count);
    }
    const stacks: StackCount[] = [];
    for (const [key, count] of merged) {
      const id = key % 2 ** 32;
      const thread = (key - id) / 2 ** 32;
      let frames = view ? view.frames[id]! : this.stackFrames(id);
      if (thread !== 0) frames = [{ kind: 'marker', name: this.threadLabel(thread) }, ...frames];
      stacks.push({ frames, count });
    }
    const rowsSummary = summarize(rows);
    return {
      stacks,
      samples: counts.samples,
      profiles: rowsSummary.profiles,
      hz: rowsSummary.hz || 99,
      mode: rowsSummary.mode,
      startMs: rows.length ? rowsSummary.startMs : null,
      endMs: rows.length ? rowsSummary.endMs : null,
    };
  }

  /** Counts by stack id over the rows, of the wanted threads (all when none are named). */
  private countsByStack(rows: readonly ProfileRow[], threads: readonly string[] | undefined): StackCounts {
    const byStack = new Float64Array(this.loaded.stack + 1);
    const wanted = threads?.length ? this.threadMask(threads) : null;
    let samples = 0;
    for (const row of rows) samples += addStackCounts(row.data, byStack, wanted);
    const entries: [number, number][] = [];
    byStack.forEach((count, stack) => {
      if (count > 0) entries.push([stack, count]);
    });
    return { entries, samples };
  }

  /** Counts keyed by thread id * 2^32 + stack id, for a root per thread. */
  private countsByThread(rows: readonly ProfileRow[], threads: readonly string[] | undefined): StackCounts {
    const wanted = threads?.length ? this.threadMask(threads) : null;
    const counts = new Map<number, number>();
    let samples = 0;
    for (const row of rows) {
      decodeSamples(row.data, (thread, stack, count) => {
        if (wanted && wanted[thread] !== 1) return;
        samples += count;
        const key = thread * 2 ** 32 + stack;
        counts.set(key, (counts.get(key) ?? 0) + count);
      });
    }
    return { entries: [...counts], samples };
  }

  /** 1 at the ids of the threads labelled so; 0 (no threads told apart) never matches. */
  private threadMask(labels: readonly string[]): Uint8Array {
    const names = new Set(labels);
    const mask = new Uint8Array(this.loaded.thread + 1);
    for (const [id, label] of this.threadLabels) if (names.has(label)) mask[id] = 1;
    return mask;
  }

  /**
   * Reads every frame and stack once, so that the first query costs no more
   * than the next; `each` sees every stack's frames (the same array queries
   * give), for caches of its own.
   */
  warm(each?: (frames: readonly Frame[]) => void): void {
    this.loadNew();
    for (let id = 1; id <= this.loaded.stack; id++) {
      if (this.stackCache[id] === undefined) continue;
      const frames = this.stackFrames(id);
      each?.(frames);
    }
  }

  /** Samples per step over [from, until), for a timeline. */
  timeline(filter: ProfileFilter, steps: number): Timeline {
    const stepMs = Math.max(1000, Math.ceil((filter.until - filter.from) / Math.max(1, steps)));
    const counts = new Array<number>(Math.ceil((filter.until - filter.from) / stepMs)).fill(0);
    for (const row of this.profileRows(filter, false)) {
      const i = Math.floor((row.start_ms - filter.from) / stepMs);
      if (i >= 0 && i < counts.length) counts[i]! += row.samples;
    }
    return { from: filter.from, stepMs, counts };
  }

  /** The processes with profiles in the range. */
  processes(filter: ProfileFilter): ProcessSummary[] {
    const { where, params } = this.where(filter);
    return this.sql(
        `SELECT p.host, p.pid, p.name, p.cmdline, p.python, COUNT(*) AS profiles, SUM(f.samples) AS samples, MIN(f.start_ms) AS firstMs, MAX(f.end_ms) AS lastMs
         FROM profiles f JOIN processes p ON p.id = f.process_id ${where} GROUP BY p.id ORDER BY samples DESC`,
      )
      .all(...params) as ProcessSummary[];
  }

  /** Thread labels seen in the range, with their samples. */
  threads(filter: ProfileFilter): { label: string; samples: number }[] {
    const totals = new Map<string, number>();
    this.loadNew();
    for (const row of this.dataRows(filter)) {
      decodeSamples(row.data, (thread, _stack, count) => {
        if (thread === 0) return;
        const label = this.threadLabel(thread);
        totals.set(label, (totals.get(label) ?? 0) + count);
      });
    }
    return [...totals].map(([label, samples]) => ({ label, samples })).sort((a, b) => b.samples - a.samples);
  }

  /** Deletes profiles that ended before `ms`; returns how many. */
  deleteBefore(ms: number): number {
    return this.db.transaction(() => {
      // Any hour that began before `ms` may lose profiles.
      this.sql('DELETE FROM rollups WHERE hour_ms < ?').run(ms);
      return this.sql('DELETE FROM profiles WHERE end_ms < ?').run(ms).changes;
    })();
  }

  /**
   * Adds up each process's profiles per hour, for the hours that ended
   * before `before` and have more than one profile and no roll-up yet;
   * returns the roll-ups made. The collector calls it as hours end.
   */
  rollUp(before: number): number {
    const last = Math.floor(before / ROLLUP_MS) * ROLLUP_MS;
    const hours = this.sql(
      `SELECT f.process_id AS processId, f.start_ms - f.start_ms % ${ROLLUP_MS} AS hour FROM profiles f
       WHERE f.start_ms < ? GROUP BY f.process_id, hour
       HAVING COUNT(*) > 1 AND NOT EXISTS (SELECT 1 FROM rollups r WHERE r.process_id = f.process_id AND r.hour_ms = hour)`,
    ).all(last) as { processId: number; hour: number }[];
    const make = this.db.transaction((processId: number, hour: number) => {
      const rows = this.sql('SELECT id, process_id, start_ms, end_ms, hz, mode, samples, lost, 1 AS profiles, data FROM profiles WHERE process_id = ? AND start_ms >= ? AND start_ms < ?').all(processId, hour, hour + ROLLUP_MS) as ProfileRow[];
      const sum = addRows(rows);
      this.sql('INSERT OR REPLACE INTO rollups (process_id, hour_ms, start_ms, end_ms, hz, mode, samples, lost, profiles, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
        .run(processId, hour, sum.startMs, sum.endMs, sum.hz, sum.mode, sum.samples, sum.lost, rows.length, sum.data);
    });
    for (const { processId, hour } of hours) make(processId, hour);
    return hours.length;
  }

  /**
   * Merges the profiles of each process that started before `before` into
   * one per `spanMs` (aligned to the epoch), so that old history costs less
   * to keep and to read. Returns the profiles removed.
   */
  compact(before: number, spanMs: number): number {
    const rows = this.sql('SELECT id, process_id, start_ms, end_ms, hz, mode, samples, lost, 1 AS profiles, data FROM profiles WHERE start_ms < ? AND compacted_ms < ? ORDER BY start_ms').all(before, spanMs) as ProfileRow[];
    const groups = new Map<string, ProfileRow[]>();
    for (const row of rows) {
      const key = `${row.process_id}:${Math.floor(row.start_ms / spanMs)}:${row.hz}:${row.mode}`;
      const group = groups.get(key);
      if (group) group.push(row);
      else groups.set(key, [row]);
    }
    let removed = 0;
    const merge = this.db.transaction((group: ProfileRow[]) => {
      const sum = addRows(group);
      const first = group[0]!;
      this.sql('INSERT INTO profiles (process_id, start_ms, end_ms, hz, mode, samples, lost, compacted_ms, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(first.process_id, sum.startMs, sum.endMs, first.hz, first.mode, sum.samples, sum.lost, spanMs, sum.data);
      const remove = this.sql('DELETE FROM profiles WHERE id = ?');
      for (const row of group) remove.run(row.id);
      // The compacted profile stands for the hours it covers: their roll-ups go.
      this.sql('DELETE FROM rollups WHERE process_id = ? AND hour_ms >= ? AND hour_ms <= ?').run(first.process_id, hourOf(sum.startMs), hourOf(Math.max(...group.map((r) => r.start_ms))));
      removed += group.length;
    });
    for (const group of groups.values()) if (group.length > 1) merge(group);
    return removed;
  }

  /**
   * Deletes the stacks, frames and thread labels that no profile or roll-up
   * refers to any more (retention and compaction leave them behind), all
   * but the newest of each table: SQLite gives a new row the largest id
   * plus one, so ids are never reused, and a reader's cache of them stays
   * true. Returns how many of each went.
   */
  collectGarbage(): { stacks: number; frames: number; threads: number } {
    const result = this.db.transaction(() => {
      const stacksUsed = new Set<number>();
      const threadsUsed = new Set<number>();
      for (const table of ['profiles', 'rollups']) {
        for (const row of this.sql(`SELECT data FROM ${table}`).iterate() as IterableIterator<{ data: Buffer }>) {
          decodeSamples(row.data, (thread, stack) => {
            stacksUsed.add(stack);
            threadsUsed.add(thread);
          });
        }
      }
      const newest = (table: string): number => (this.sql(`SELECT COALESCE(MAX(id), 0) AS id FROM ${table}`).get() as { id: number }).id;
      const framesUsed = new Set<number>();
      const lastStack = newest('stacks');
      const deadStacks: number[] = [];
      for (const row of this.sql('SELECT id, frames FROM stacks').iterate() as IterableIterator<{ id: number; frames: string }>) {
        if (stacksUsed.has(row.id) || row.id === lastStack) {
          if (row.frames !== '') for (const f of row.frames.split(',')) framesUsed.add(Number(f));
        } else deadStacks.push(row.id);
      }
      const lastFrame = newest('frames');
      const deadFrames = (this.sql('SELECT id FROM frames').all() as { id: number }[]).map((r) => r.id).filter((id) => !framesUsed.has(id) && id !== lastFrame);
      const lastThread = newest('threads');
      const deadThreads = (this.sql('SELECT id FROM threads').all() as { id: number }[]).map((r) => r.id).filter((id) => !threadsUsed.has(id) && id !== lastThread);
      for (const [table, ids] of [['stacks', deadStacks], ['frames', deadFrames], ['threads', deadThreads]] as const) {
        const remove = this.sql(`DELETE FROM ${table} WHERE id = ?`);
        for (const id of ids) remove.run(id);
      }
      return { stacks: deadStacks.length, frames: deadFrames.length, threads: deadThreads.length };
    })();
    // The writer's memory of ids may name rows just deleted: it is rebuilt as profiles come.
    this.frameIds.clear();
    this.frameObjectIds = new WeakMap();
    this.stackIds.clear();
    this.threadIds.clear();
    return result;
  }

  /** SQLite's own check of the file: "ok" when sound. */
  integrity(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  private profileRows(filter: ProfileFilter, withData: boolean): ProfileRow[] {
    const { where, params } = this.where(filter);
    return this.sql(`SELECT f.id, f.start_ms, f.end_ms, f.hz, f.mode, f.samples, f.lost, f.process_id, 1 AS profiles${withData ? ', f.data' : ''} FROM profiles f JOIN processes p ON p.id = f.process_id ${where} ORDER BY f.start_ms`)
      .all(...params) as ProfileRow[];
  }

  /**
   * The rows whose counts a query adds up: for the whole hours in the range,
   * a process's roll-up where it has one, and its profiles otherwise. One
   * statement, so that both parts see the same state of the store.
   */
  private dataRows(filter: ProfileFilter): ProfileRow[] {
    const firstHour = Math.ceil(filter.from / ROLLUP_MS) * ROLLUP_MS;
    const endHour = Math.floor(filter.until / ROLLUP_MS) * ROLLUP_MS;
    if (endHour <= firstHour || !this.hasRollups) return this.profileRows(filter, true);
    const { where, params } = this.where(filter);
    const processes = this.processWhere(filter);
    return this.sql(
      `SELECT f.id, f.start_ms, f.end_ms, f.hz, f.mode, f.samples, f.lost, f.process_id, 1 AS profiles, f.data
       FROM profiles f JOIN processes p ON p.id = f.process_id ${where}
         AND NOT (f.start_ms >= ? AND f.start_ms < ? AND EXISTS (SELECT 1 FROM rollups r WHERE r.process_id = f.process_id AND r.hour_ms = f.start_ms - f.start_ms % ${ROLLUP_MS}))
       UNION ALL
       SELECT 0, f.start_ms, f.end_ms, f.hz, f.mode, f.samples, f.lost, f.process_id, f.profiles, f.data
       FROM rollups f JOIN processes p ON p.id = f.process_id WHERE f.hour_ms >= ? AND f.hour_ms < ?${processes.clauses.map((c) => ` AND ${c}`).join('')}`,
    ).all(...params, firstHour, endHour, firstHour, endHour, ...processes.params) as ProfileRow[];
  }

  private where(filter: ProfileFilter): { where: string; params: (string | number)[] } {
    const processes = this.processWhere(filter);
    return { where: `WHERE ${['f.start_ms >= ?', 'f.start_ms < ?', ...processes.clauses].join(' AND ')}`, params: [Math.floor(filter.from), Math.ceil(filter.until), ...processes.params] };
  }

  /** The filter's conditions on the process (table alias p). */
  private processWhere(filter: ProfileFilter): { clauses: string[]; params: (string | number)[] } {
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    // One parameter (a JSON array) whatever the number of values: the statement's text, and so the prepared statements kept, do not grow with them.
    const oneOf = (column: string, values: readonly (string | number)[] | undefined): void => {
      if (!values?.length) return;
      clauses.push(`${column} IN (SELECT value FROM json_each(?))`);
      params.push(JSON.stringify(values));
    };
    oneOf('p.pid', filter.pids);
    oneOf('p.name', filter.names);
    oneOf('p.host', filter.hosts);
    return { clauses, params };
  }

  private processId(p: StoredProcess): number {
    const key = JSON.stringify([p.host, p.pid, p.name, p.cmdline, p.python]);
    const known = this.processIds.get(key);
    if (known !== undefined) return known;
    this.sql('INSERT OR IGNORE INTO processes (host, pid, name, cmdline, python) VALUES (?, ?, ?, ?, ?)').run(p.host, p.pid, p.name, p.cmdline, p.python);
    // NULL never equals NULL in UNIQUE, so python is matched with IS.
    const row = this.sql('SELECT id FROM processes WHERE host = ? AND pid = ? AND name = ? AND cmdline = ? AND python IS ? ORDER BY id LIMIT 1').get(p.host, p.pid, p.name, p.cmdline, p.python) as { id: number };
    this.processIds.set(key, row.id);
    return row.id;
  }

  private frameId(frame: Frame): number {
    const byObject = this.frameObjectIds.get(frame);
    if (byObject !== undefined) return byObject;
    const key = frameKey(frame);
    const id = this.intern(this.frameIds, key, 'frames', 'key', () =>
      this.sql('INSERT OR IGNORE INTO frames (kind, name, func, file, line, key) VALUES (?, ?, ?, ?, ?, ?)').run(frame.kind, frame.name, frame.func ?? null, frame.file ?? null, frame.line ?? null, key),
    );
    this.frameObjectIds.set(frame, id);
    return id;
  }

  private stackId(frames: readonly Frame[]): number {
    const key = frames.map((f) => this.frameId(f)).join(',');
    return this.intern(this.stackIds, key, 'stacks', 'frames', () => this.sql('INSERT OR IGNORE INTO stacks (frames) VALUES (?)').run(key));
  }

  private threadId(label: string): number {
    return this.intern(this.threadIds, label, 'threads', 'label', () => this.sql('INSERT OR IGNORE INTO threads (label) VALUES (?)').run(label));
  }

  /** The id of a dictionary row (frames, stacks, threads) by its unique column, inserted when new; remembered. */
  private intern(known: Map<string, number>, key: string, table: 'frames' | 'stacks' | 'threads', column: 'key' | 'frames' | 'label', insert: () => unknown): number {
    const cached = known.get(key);
    if (cached !== undefined) return cached;
    insert();
    const id = (this.sql(`SELECT id FROM ${table} WHERE ${column} = ?`).get(key) as { id: number }).id;
    known.set(key, id);
    return id;
  }

  /** Reads the frames, stacks and thread labels added since the last read: in bulk, a few statements in all. */
  private loadNew(): void {
    for (const row of this.sql('SELECT id, kind, name, func, file, line FROM frames WHERE id > ? ORDER BY id').iterate(this.loaded.frame) as IterableIterator<FrameRow>) {
      this.frameCache[row.id] = frameOf(row);
      this.loaded.frame = row.id;
    }
    for (const row of this.sql('SELECT id, frames FROM stacks WHERE id > ? ORDER BY id').iterate(this.loaded.stack) as IterableIterator<{ id: number; frames: string }>) {
      this.stackCache[row.id] = row.frames === '' ? [] : row.frames.split(',').map(Number);
      this.loaded.stack = row.id;
    }
    for (const row of this.sql('SELECT id, label FROM threads WHERE id > ? ORDER BY id').iterate(this.loaded.thread) as IterableIterator<{ id: number; label: string }>) {
      this.threadLabels.set(row.id, row.label);
      this.loaded.thread = row.id;
    }
  }

  /**
   * The stacks as seen with only some frame kinds (markers always kept),
   * made once per set of kinds: stacks left equal share one id, and a stack
   * left with no frames but markers ends in FILTERED_FRAME.
   */
  private kindsView(kinds: readonly FrameKind[]): KindsView {
    const wanted = new Set<FrameKind>([...kinds, 'marker']);
    const name = [...wanted].sort().join(',');
    let view = this.kindsViews.get(name);
    if (!view) {
      const ids = new Map<number, number>();
      const byFrames = new Map<string, number>();
      const frames: (readonly Frame[])[] = [];
      view = {
        frames,
        idOf: (stack: number): number => {
          let id = ids.get(stack);
          if (id === undefined) {
            const kept = (this.stackCache[stack] ?? []).filter((f) => wanted.has(this.frameCache[f]?.kind ?? 'marker'));
            const key = kept.join(',');
            id = byFrames.get(key);
            if (id === undefined) {
              id = frames.length;
              const made = kept.map((f) => this.frameOfId(f));
              frames.push(made.some((f) => f.kind !== 'marker') ? made : [...made, FILTERED_FRAME]);
              byFrames.set(key, id);
            }
            ids.set(stack, id);
          }
          return id;
        },
      };
      this.kindsViews.set(name, view);
    }
    return view;
  }

  private frameOfId(id: number): Frame {
    return this.frameCache[id] ?? { kind: 'marker', name: `[frame ${id}]` };
  }

  private threadLabel(id: number): string {
    return this.threadLabels.get(id) ?? `thread ${id}`;
  }

  /** A stack's frames, made once: queries over a day meet the same stacks thousands of times. */
  private stackFrames(id: number): readonly Frame[] {
    let frames = this.stackFrameCache[id];
    if (!frames) {
      frames = (this.stackCache[id] ?? []).map((f) => this.frameOfId(f));
      this.stackFrameCache[id] = frames;
    }
    return frames;
  }
}

interface StackCounts {
  /** [key, count]: the key is a stack id, plus a thread id * 2^32 for a root per thread. */
  readonly entries: readonly (readonly [number, number])[];
  readonly samples: number;
}

interface KindsView {
  /** The view's id of a stack. */
  readonly idOf: (stack: number) => number;
  /** Frames by the view's ids. */
  readonly frames: (readonly Frame[])[];
}

interface FrameRow {
  id: number;
  kind: FrameKind;
  name: string;
  func: string | null;
  file: string | null;
  line: number | null;
}

/** The kinds as literals: SQLite hands out a new string per row, slower to compare. */
const KINDS: Record<string, FrameKind> = { python: 'python', native: 'native', kernel: 'kernel', marker: 'marker' };

function frameOf(row: FrameRow): Frame {
  return { kind: KINDS[row.kind] ?? 'marker', name: row.name, ...(row.func !== null ? { func: row.func } : {}), ...(row.file !== null ? { file: row.file } : {}), ...(row.line !== null ? { line: row.line } : {}) };
}

function hourOf(ms: number): number {
  return ms - (ms % ROLLUP_MS);
}

interface RowsSummary {
  startMs: number;
  endMs: number;
  /** The highest rate; wall when any row is. */
  hz: number;
  mode: 'cpu' | 'wall';
  samples: number;
  lost: number;
  profiles: number;
}

/** What rows add up to, but their counts; one loop (a week's rows are too many to spread into Math.min). */
function summarize(rows: readonly ProfileRow[]): RowsSummary {
  const sum: RowsSummary = { startMs: Number.POSITIVE_INFINITY, endMs: Number.NEGATIVE_INFINITY, hz: 0, mode: 'cpu', samples: 0, lost: 0, profiles: 0 };
  for (const r of rows) {
    sum.startMs = Math.min(sum.startMs, r.start_ms);
    sum.endMs = Math.max(sum.endMs, r.end_ms);
    sum.hz = Math.max(sum.hz, r.hz);
    if (r.mode === 'wall') sum.mode = 'wall';
    sum.samples += r.samples;
    sum.lost += r.lost;
    sum.profiles += r.profiles;
  }
  return sum;
}

/** Profile rows added up into one, as compaction and roll-ups keep them. */
function addRows(rows: readonly ProfileRow[]): RowsSummary & { data: Buffer } {
  const counts = new Map<number, SampleEntry>();
  for (const row of rows) {
    decodeSamples(row.data, (thread, stack, count) => {
      const key = thread * 2 ** 32 + stack;
      counts.set(key, { thread, stack, count: (counts.get(key)?.count ?? 0) + count });
    });
  }
  return { ...summarize(rows), data: encodeSamples([...counts.values()]) };
}
