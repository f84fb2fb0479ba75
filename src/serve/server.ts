/**
 * `mixprof serve`: the store's profiles over HTTP, for the web page and for
 * scripts.
 *
 *   GET /api/profile?from=-15minutes&until=now&format=folded   stacks of a range
 *       (format: folded, svg, speedscope, pprof, cpuprofile, json)
 *   GET /api/diff?from=..&until=..&base_from=..&base_until=..  two ranges compared
 *       (format: folded = "stack base comparison", as difffolded.pl writes; json)
 *   GET /api/timeline?from=..&until=..&steps=200               samples per step
 *   GET /api/processes, /api/threads                            what the range holds
 *   GET /profile?pid=N&seconds=S                                sample now, folded
 *   GET /health
 * Filters on every query: pid, process (name), host, thread (label),
 * kinds (python,native,kernel), threads=1 (a root per thread).
 *
 * Profiles show what processes run and where: they are for the callers
 * allowed to see them. Without a token serve listens on loopback only and
 * answers only root and the user it runs as (the uid owning the client's
 * socket, from the kernel's socket table); with one, every request carries it
 * (Authorization: Bearer TOKEN, or the cookie a visit to /?token=TOKEN sets,
 * so that the page's URLs never hold it). Requests naming another host (DNS
 * rebinding) are refused, and so is an on-demand profile asked for by
 * another site's page. A few on-demand profiles run at once; every answer is
 * built within a bound (--max-stacks distinct stacks; a cpuprofile's
 * entries are capped too).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { isMixprofError } from '../errors.js';
import { renderProfile } from '../output/formats.js';
import { formatSvg } from '../output/svg.js';
import { stackText } from '../output/folded.js';
import { AGGREGATE_FORMATS, type AggregateFormat } from '../output/output-profile.js';
import type { FrameKind } from '../symbolize/frame.js';
import type { ProfileFilter, ProfileStore } from '../store/profile-store.js';
import { parseRange } from '../store/time-range.js';
import { diffStacks } from './diff.js';
import { pageHtml } from './page.js';

/** What serve does as it starts: every stack read once, and its folded text made (most queries ask for it). */
export function warmStore(store: ProfileStore): void {
  store.warm((frames) => stackText(frames, { markPython: false }));
}

export interface ServeOptions {
  readonly store: ProfileStore;
  readonly host: string;
  readonly port: number;
  /** Required on every request when set. */
  readonly token: string | null;
  /** Profiles a process now (GET /profile); folded text. */
  readonly profileNow: (pid: number, seconds: number) => Promise<string>;
  /** The uid owning the client's end of a loopback connection; null when it cannot be told. */
  readonly socketOwner: (socket: Socket) => number | null;
  /** Distinct stacks an answer is built from at most (MAX_STACKS). */
  readonly maxStacks: number;
  readonly log: (line: string) => void;
}

/** On-demand profiles at once: each is a bpftrace and the symbolization of a process. */
export const MAX_ON_DEMAND = 2;
/** Distinct stacks an answer is built from at most, by default: beyond, the range or filter must be narrowed. */
export const MAX_STACKS = 500_000;
const SESSION_COOKIE = 'mixprof_session';

const KINDS: readonly FrameKind[] = ['python', 'native', 'kernel'];
const MAX_ON_DEMAND_SECONDS = 60;
const CONTENT_TYPE: Record<AggregateFormat | 'json', string> = {
  folded: 'text/plain; charset=utf-8',
  svg: 'image/svg+xml; charset=utf-8',
  speedscope: 'application/json',
  pprof: 'application/octet-stream',
  cpuprofile: 'application/json',
  json: 'application/json',
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** What a server keeps between requests. */
interface ServerState {
  readonly options: ServeOptions;
  /** The cookie a caller gets for the token: random, not the token, so that the token is never stored by a browser. */
  readonly session: string | null;
  readonly owners: WeakMap<Socket, number | null>;
  /** PIDs being profiled on demand. */
  readonly onDemand: Set<number>;
}

export function startServer(options: ServeOptions): Promise<Server> {
  const state: ServerState = {
    options,
    session: options.token === null ? null : randomBytes(32).toString('hex'),
    owners: new WeakMap(),
    onDemand: new Set(),
  };
  const server = createServer((req, res) => {
    handle(state, req, res).catch((error: unknown) => {
      const status = error instanceof HttpError ? error.status : 500;
      const message = error instanceof HttpError || isMixprofError(error) ? error.message : `internal error: ${(error as Error).message}`;
      if (status === 500) options.log(`mixprof: ${req.method} ${req.url}: ${message}`);
      if (!res.headersSent) res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...(error instanceof HttpError ? error.headers : {}) });
      res.end(message + '\n');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}

async function handle(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { options } = state;
  const url = new URL(req.url ?? '/', 'http://localhost');
  checkHost(options, req);
  if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, `${req.method} is not supported: only GET`);
  // Says only that it runs: for monitors, who need no access to the profiles.
  if (url.pathname === '/health') return send(res, 200, CONTENT_TYPE.json, JSON.stringify({ status: 'ok' }));
  if (url.pathname === '/' && state.session !== null && url.searchParams.has('token')) return logIn(state, url, res);
  checkAccess(state, req);
  const q = url.searchParams;
  switch (url.pathname) {
    case '/':
      return send(res, 200, 'text/html; charset=utf-8', pageHtml());
    case '/api/profile': {
      const filter = filterOf(q);
      const format = formatOf(q, 'folded');
      const result = bounded(options.store.query(filter), options.maxStacks);
      if (format === 'json') return send(res, 200, CONTENT_TYPE.json, JSON.stringify({ samples: result.samples, profiles: result.profiles, hz: result.hz, stacks: result.stacks }));
      const body = renderProfile(
        { stacks: result.stacks, hz: result.hz, startTime: result.startMs, durationSeconds: result.startMs === null ? null : (result.endMs! - result.startMs) / 1000, title: titleOf(filter), time: result.mode },
        format,
        { markPython: false },
      );
      return send(res, 200, CONTENT_TYPE[format], body, format === 'pprof' ? 'profile.pb.gz' : null);
    }
    case '/api/diff': {
      const filter = filterOf(q);
      const base = parseRange(q.get('base_from') ?? undefined, q.get('base_until') ?? undefined, Date.now());
      if (typeof base === 'string') throw new HttpError(400, base.replace(/^from=/, 'base_from=').replace(/^until=/, 'base_until='));
      const format = q.get('format') ?? 'folded';
      if (format !== 'folded' && format !== 'json' && format !== 'svg') throw new HttpError(400, `format=${format}: the diff is given as folded, json or svg`);
      const baseline = bounded(options.store.query({ ...filter, ...base }), options.maxStacks);
      const result = bounded(options.store.query(filter), options.maxStacks);
      if (format === 'svg') {
        const profile = { stacks: result.stacks, hz: result.hz, startTime: result.startMs, durationSeconds: result.startMs === null ? null : (result.endMs! - result.startMs) / 1000, title: `Differential flame graph: ${titleOf(filter)}`, time: result.mode };
        return send(res, 200, CONTENT_TYPE.svg, formatSvg(profile, { base: baseline.stacks }), null);
      }
      const diff = diffStacks(baseline.stacks, result.stacks);
      if (format === 'json') return send(res, 200, CONTENT_TYPE.json, JSON.stringify(diff));
      return send(res, 200, CONTENT_TYPE.folded, diff.map((d) => `${d.key} ${d.base} ${d.comparison}\n`).join(''));
    }
    case '/api/timeline': {
      const filter = filterOf(q);
      const steps = Math.min(2000, Math.max(1, Number(q.get('steps') ?? 200) || 200));
      return send(res, 200, CONTENT_TYPE.json, JSON.stringify(options.store.timeline(filter, steps)));
    }
    case '/api/processes':
      return send(res, 200, CONTENT_TYPE.json, JSON.stringify(options.store.processes(filterOf(q))));
    case '/api/threads':
      return send(res, 200, CONTENT_TYPE.json, JSON.stringify(options.store.threads(filterOf(q))));
    case '/profile': {
      // Makes a root process sample another: never for another site's page.
      if (req.headers['sec-fetch-site'] === 'cross-site') throw new HttpError(403, 'on-demand profiles are not served to other sites');
      const pid = Number(q.get('pid'));
      const seconds = Number(q.get('seconds') ?? 10);
      if (!Number.isSafeInteger(pid) || pid < 1) throw new HttpError(400, `pid=${q.get('pid')}: give the PID of a running process`);
      if (!(seconds > 0 && seconds <= MAX_ON_DEMAND_SECONDS)) throw new HttpError(400, `seconds=${q.get('seconds')}: give a number of seconds from 0 to ${MAX_ON_DEMAND_SECONDS}`);
      if (state.onDemand.has(pid)) throw new HttpError(429, `process ${pid} is being profiled already: try again when that profile is done`, { 'Retry-After': String(Math.ceil(seconds)) });
      if (state.onDemand.size >= MAX_ON_DEMAND) throw new HttpError(429, `${MAX_ON_DEMAND} on-demand profiles are running, as many as serve runs at once: try again when one is done`, { 'Retry-After': String(Math.ceil(seconds)) });
      state.onDemand.add(pid);
      // Who had which process profiled: the server's log keeps it.
      options.log(`mixprof: profiling process ${pid} for ${seconds} s on demand`);
      try {
        return send(res, 200, CONTENT_TYPE.folded, await options.profileNow(pid, seconds));
      } catch (error) {
        if (isMixprofError(error)) throw new HttpError(error.code === 'NO_SUCH_PROCESS' ? 404 : 422, error.message);
        throw error;
      } finally {
        state.onDemand.delete(pid);
      }
    }
    default:
      throw new HttpError(404, `${url.pathname}: not found (see /api/profile, /api/timeline, /api/diff, /profile, /health)`);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string | Uint8Array, attachment: string | null = null): void {
  const headers: Record<string, string> = {
    'Content-Type': type,
    'Cache-Control': 'no-store',
    // Frame names come from the profiled processes: nothing in a page may run but the page's own script.
    'Content-Security-Policy': "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'",
    'X-Content-Type-Options': 'nosniff',
  };
  if (attachment) headers['Content-Disposition'] = `attachment; filename="${attachment}"`;
  res.writeHead(status, headers);
  res.end(body);
}

/** A request must name this server (by a loopback name, or the host it was bound to): DNS rebinding is refused. */
function checkHost(options: ServeOptions, req: IncomingMessage): void {
  const header = req.headers.host ?? '';
  const host = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.split(':')[0]!;
  if (isLoopback(host) || host === options.host || (options.token !== null && !isLoopback(options.host))) return;
  throw new HttpError(403, `Host ${header} is not this server's name`);
}

/**
 * With a token, a request carries it (header) or the session cookie; without
 * one, the client's socket must be root's or serve's own user's (a loopback
 * connection: serve listens on nothing else without a token).
 */
function checkAccess(state: ServerState, req: IncomingMessage): void {
  const { options } = state;
  if (options.token !== null) {
    const auth = req.headers.authorization ?? '';
    if (auth.startsWith('Bearer ') && sameSecret(auth.slice(7), options.token)) return;
    const cookie = cookieOf(req, SESSION_COOKIE);
    if (cookie !== null && sameSecret(cookie, state.session!)) return;
    throw new HttpError(401, 'a token is required: send Authorization: Bearer TOKEN, or open /?token=TOKEN once in the browser');
  }
  const socket = req.socket;
  let owner = state.owners.get(socket);
  if (owner === undefined) {
    owner = options.socketOwner(socket);
    // A connection is one client's for its life: asked once per connection, not per request.
    state.owners.set(socket, owner);
  }
  const self = process.geteuid?.() ?? 0;
  if (owner === 0 || owner === self) return;
  const who = owner === null ? 'a client this server cannot identify' : `uid ${owner}`;
  throw new HttpError(403, `${who} may not read profiles here: without a token, serve answers only root and the user it runs as (uid ${self}); to let others in, start serve with a token (MIXPROF_TOKEN or --token-file) and give it to them`);
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

function cookieOf(req: IncomingMessage, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return null;
}

/** `/?token=TOKEN`: the token, checked, becomes a session cookie, and the page is opened without it in its URL. */
function logIn(state: ServerState, url: URL, res: ServerResponse): void {
  if (!sameSecret(url.searchParams.get('token') ?? '', state.options.token!)) throw new HttpError(401, 'wrong token: open /?token=TOKEN with the token serve was started with');
  url.searchParams.delete('token');
  const rest = url.searchParams.toString();
  res.writeHead(303, {
    Location: `/${rest ? `?${rest}` : ''}`,
    // HttpOnly: no script reads it; SameSite=Strict: another site's page cannot send it.
    'Set-Cookie': `${SESSION_COOKIE}=${state.session!}; HttpOnly; SameSite=Strict; Path=/`,
    'Cache-Control': 'no-store',
  });
  res.end();
}

/** A query's stacks, when few enough to build an answer from within a bound. */
function bounded<T extends { readonly stacks: readonly unknown[] }>(result: T, max: number): T {
  if (result.stacks.length <= max) return result;
  throw new HttpError(422, `the range holds ${result.stacks.length} distinct stacks, more than the ${max} an answer is built from (serve --max-stacks): narrow it (from, until, pid, process, thread, kinds) or leave out threads=1`);
}

function filterOf(q: URLSearchParams): ProfileFilter {
  const range = parseRange(q.get('from') ?? undefined, q.get('until') ?? undefined, Date.now());
  if (typeof range === 'string') throw new HttpError(400, range);
  const list = (name: string): string[] =>
    q
      .getAll(name)
      .flatMap((v) => v.split(','))
      .map((v) => v.trim())
      .filter((v) => v !== '');
  const pids = list('pid').map((p) => {
    if (!/^\d+$/.test(p)) throw new HttpError(400, `pid=${p}: not a PID`);
    return Number(p);
  });
  const kinds = list('kinds').map((k) => {
    if (!(KINDS as readonly string[]).includes(k)) throw new HttpError(400, `kinds=${k}: use python, native and kernel`);
    return k as FrameKind;
  });
  return {
    ...range,
    pids,
    names: list('process'),
    hosts: list('host'),
    threads: q.getAll('thread').filter((t) => t !== ''),
    kinds,
    threadRoots: q.get('threads') === '1',
  };
}

function formatOf(q: URLSearchParams, fallback: AggregateFormat): AggregateFormat | 'json' {
  const format = q.get('format') ?? fallback;
  if (format === 'json' || (AGGREGATE_FORMATS as readonly string[]).includes(format)) return format as AggregateFormat | 'json';
  throw new HttpError(400, `format=${format}: use one of ${[...AGGREGATE_FORMATS, 'json'].join(', ')}`);
}

function titleOf(filter: ProfileFilter): string {
  const what = [...(filter.names ?? []), ...(filter.pids ?? []).map((p) => `PID ${p}`)].join(', ') || 'all processes';
  const time = (ms: number): string => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
  return `${what}, ${time(filter.from)} to ${time(filter.until)} UTC`;
}

