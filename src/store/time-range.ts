/**
 * Durations and times as users write them: "7d", "90s", "15minutes" for
 * durations; for times, "now", a duration before now ("-15minutes", as in
 * the seeds' stackcollector), an ISO date ("2026-11-22T10:00:00Z") or
 * seconds since the epoch.
 */

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

const DURATION = /^(\d+(?:\.\d+)?)\s*([a-z]+)?$/i;

/** Milliseconds in "7d", "12h", "15minutes", "90" (seconds); null when it is none. */
export function parseDuration(text: string): number | null {
  const m = DURATION.exec(text.trim());
  if (!m) return null;
  const unit = (m[2] ?? 's').toLowerCase();
  const scale = UNITS[unit];
  if (scale === undefined) return null;
  const ms = Math.round(Number(m[1]) * scale);
  return Number.isFinite(ms) ? ms : null;
}

/** The times a Date can hold (±100,000,000 days from the epoch): past them a time cannot be shown or compared. */
const MAX_TIME_MS = 8.64e15;

function representable(ms: number | null): number | null {
  return ms !== null && Number.isFinite(ms) && Math.abs(ms) <= MAX_TIME_MS ? ms : null;
}

/** ms since the epoch for "now", "-15minutes", an ISO date or epoch seconds; null when it is none. */
export function parseTime(text: string, now: number): number | null {
  return representable(parseAnyTime(text, now));
}

function parseAnyTime(text: string, now: number): number | null {
  const t = text.trim();
  if (t === 'now' || t === '') return now;
  if (t.startsWith('-')) {
    const ago = parseDuration(t.slice(1));
    return ago === null ? null : now - ago;
  }
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    // Seconds, as date +%s gives; milliseconds from 13 digits on.
    return n >= 1e12 ? Math.round(n) : Math.round(n * 1000);
  }
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? null : ms;
}

export interface TimeRange {
  readonly from: number;
  readonly until: number;
}

/** from/until as given (defaults: the last 15 minutes up to now); a message when they are wrong. */
export function parseRange(from: string | undefined, until: string | undefined, now: number): TimeRange | string {
  const start = parseTime(from ?? '-15minutes', now);
  if (start === null) return `from=${from}: not a time (use now, -15minutes, an ISO date or epoch seconds)`;
  const end = parseTime(until ?? 'now', now);
  if (end === null) return `until=${until}: not a time (use now, -15minutes, an ISO date or epoch seconds)`;
  if (end <= start) return `until (${new Date(end).toISOString()}) is not after from (${new Date(start).toISOString()})`;
  return { from: start, until: end };
}
