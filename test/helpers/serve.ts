/** A real `mixprof serve` child for tests, and requests made as another user or with a chosen Host header. */
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { execa, type ResultPromise } from 'execa';
import type { Frame } from '../../src/symbolize/frame.js';
import { MIXPROF } from './paths.js';

/** A Python frame of app.py, for stores made by tests. */
export const py = (name: string): Frame => ({ kind: 'python', name: `${name} (app.py:1)`, func: name, file: '/srv/app.py', line: 1 });

export interface Serving {
  readonly child: ResultPromise;
  readonly base: string;
  readonly port: number;
  stderr(): string;
}

/** Starts serve on a free port; resolves when it says where it listens. */
export async function serve(args: string[], env: Record<string, string> = {}): Promise<Serving> {
  const child = execa(MIXPROF, ['serve', '--port', '0', ...args], { reject: false, timeout: 600_000, stdin: 'ignore', env });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on('data', () => {
      const m = /on http:\/\/[^ ]*:(\d+)\//.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    void child.then(() => reject(new Error(`serve exited: ${stderr}`)));
  });
  return { child, base: `http://127.0.0.1:${port}`, port, stderr: () => stderr };
}

/** A GET with a Host header of our choosing (fetch does not allow setting it). */
export function getWithHost(port: number, pathAndQuery: string, host: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: pathAndQuery, headers: { Host: host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The uid and gid of `nobody`, a real second user. */
export const NOBODY = 65534;

/** A GET made by a Node process running as `uid` (its own socket, owned by that user). */
export async function getAs(uid: number, url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const script = `fetch(process.argv[1], { headers: JSON.parse(process.argv[2]), redirect: 'manual' }).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })), (e) => { console.error(String(e)); process.exit(2); });`;
  const r = await execa(process.execPath, ['-e', script, url, JSON.stringify(headers)], { uid, gid: uid, cwd: '/', reject: false, timeout: 120_000 });
  if (r.exitCode !== 0) throw new Error(`request as uid ${uid} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

/** Resident memory of a process in bytes. */
export async function residentBytes(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}
