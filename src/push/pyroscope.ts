/**
 * Sends a period's profile to Grafana Pyroscope's ingest API (also served
 * by Grafana Alloy's pyroscope.receive_http): POST /ingest with the
 * metadata as query parameters (name with labels, from, until, sampleRate,
 * spyName, units, aggregationType, format=folded) and folded stacks as the
 * body, "frame;frame;frame count" per line.
 */
import { formatFolded } from '../output/folded.js';
import type { StackCount } from '../profile/profile.js';

export interface PushTarget {
  /** The server's base URL, e.g. http://pyroscope:4040; user:password in it become basic auth. */
  readonly url: URL;
  /** Application name; default: the process name. */
  readonly appName: string | null;
  /** X-Scope-OrgID, for a multi-tenant Pyroscope. */
  readonly tenant: string | null;
}

export interface PushedProfile {
  readonly processName: string;
  /** Labels besides the name: host, pid, python... */
  readonly labels: Readonly<Record<string, string>>;
  readonly startMs: number;
  readonly endMs: number;
  readonly hz: number;
  readonly mode: 'cpu' | 'wall';
  readonly stacks: readonly StackCount[];
}

export interface IngestRequest {
  readonly url: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Label keys and values as Pyroscope's name syntax takes them: no braces, commas, equals or spaces. */
const labelSafe = (text: string): string => text.replace(/[^A-Za-z0-9_.:/-]/g, '_');

export function ingestRequest(target: PushTarget, profile: PushedProfile): IngestRequest {
  const app = labelSafe(target.appName ?? profile.processName);
  const labels = Object.entries(profile.labels)
    .map(([k, v]) => `${labelSafe(k)}=${labelSafe(v)}`)
    .join(',');
  const url = new URL('ingest', target.url.href.endsWith('/') ? target.url : new URL(target.url.href + '/'));
  url.username = '';
  url.password = '';
  const params = url.searchParams;
  params.set('name', `${app}.${profile.mode === 'wall' ? 'wall' : 'cpu'}{${labels}}`);
  params.set('from', String(Math.floor(profile.startMs / 1000)));
  params.set('until', String(Math.max(Math.ceil(profile.endMs / 1000), Math.floor(profile.startMs / 1000) + 1)));
  params.set('format', 'folded');
  params.set('sampleRate', String(profile.hz));
  params.set('spyName', 'mixprof');
  params.set('units', 'samples');
  params.set('aggregationType', 'sum');
  const headers: Record<string, string> = { 'Content-Type': 'text/plain' };
  if (target.url.username) {
    const credentials = `${decodeURIComponent(target.url.username)}:${decodeURIComponent(target.url.password)}`;
    headers['Authorization'] = `Basic ${Buffer.from(credentials).toString('base64')}`;
  }
  if (target.tenant) headers['X-Scope-OrgID'] = target.tenant;
  return { url: url.href, headers, body: formatFolded(profile.stacks, { markPython: false }) };
}

/** Sends it; a message saying what went wrong, or null. */
export async function pushProfile(target: PushTarget, profile: PushedProfile, timeoutMs = 10_000): Promise<string | null> {
  const request = ingestRequest(target, profile);
  try {
    const response = await fetch(request.url, { method: 'POST', headers: request.headers, body: request.body, signal: AbortSignal.timeout(timeoutMs) });
    if (response.ok) return null;
    const text = (await response.text()).trim().split('\n')[0]?.slice(0, 200) ?? '';
    return `${target.url.origin} answered ${response.status}${text ? `: ${text}` : ''}`;
  } catch (error) {
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return `cannot reach ${target.url.origin}: ${cause ?? (error as Error).message}`;
  }
}
