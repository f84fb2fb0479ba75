/**
 * `mixprof serve` over a store written here: the API's answers for ranges,
 * filters, formats and diffs; GET /profile sampling a real process; the
 * listener's rules (loopback by default, a token elsewhere, no DNS
 * rebinding, no on-demand profile for another site's page).
 */
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { mkdtemp, rm } from 'node:fs/promises';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { Profile as PprofProfile } from 'pprof-format';
import { ProfileStore } from '../../src/store/profile-store.js';
import { parseFolded } from '../helpers/folded.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, cpuSecondsOf, startWorkload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { getWithHost, py, serve, type Serving } from '../helpers/serve.js';

const HOUR = 3_600_000;

describe('mixprof serve', () => {
  let dir: string;
  let dataDir: string;
  let server: Serving;
  const now = Date.now();
  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-serve-'));
    dataDir = path.join(dir, 'store');
    const store = ProfileStore.open(dataDir);
    // Two hours of one-minute profiles: the first hour in `handle`, the second mostly in `render`.
    for (let m = 0; m < 120; m++) {
      // Half a minute off the hour marks, so that ranges relative to the server's clock cut between profiles.
      const start = now - 2 * HOUR + m * 60_000 + 30_000;
      const late = m >= 60;
      store.add({
        process: { host: 'h1', pid: 100, name: 'web', cmdline: 'python3 web.py', python: '3.12.1' },
        startMs: start,
        endMs: start + 10_000,
        hz: 99,
        mode: 'cpu',
        lostEvents: 0,
        stacks: [
          { thread: 'web (100)', frames: [py('main'), py('handle'), { kind: 'native', name: 'memcpy' }], count: late ? 10 : 80 },
          { thread: 'web (101)', frames: [py('main'), py('render'), { kind: 'kernel', name: 'tcp_sendmsg' }], count: late ? 80 : 10 },
        ],
      });
      store.add({ process: { host: 'h1', pid: 200, name: 'worker', cmdline: 'python3 worker.py', python: '3.11.7' }, startMs: start, endMs: start + 10_000, hz: 99, mode: 'cpu', lostEvents: 0, stacks: [{ thread: null, frames: [py('crunch')], count: 5 }] });
    }
    store.close();
    server = await serve(['--data-dir', dataDir]);
  });
  after(async () => {
    server?.child.kill('SIGTERM');
    if (server) assert.equal((await server.child).exitCode, 0, server.stderr());
    await rm(dir, { recursive: true, force: true });
    assert.equal(await bpftraceCount(), 0);
  });

  const get = async (pathAndQuery: string, init: RequestInit = {}): Promise<Response> => fetch(`${server.base}${pathAndQuery}`, init);

  test('listens on 127.0.0.1 by default; /health', async () => {
    assert.match(server.stderr(), /serving .*profiles\.db on http:\/\/127\.0\.0\.1:\d+\//);
    const r = await get('/health');
    assert.equal(r.status, 200);
    assert.equal(((await r.json()) as { status: string }).status, 'ok');
  });

  test('GET /api/profile: a range as folded text, with filters', async () => {
    const lastHour = parseFolded(await (await get('/api/profile?from=-1h&until=now&format=folded')).text());
    const count = (stacks: typeof lastHour, leaf: string): number => stacks.filter((s) => s.frames.at(-1)!.startsWith(leaf)).reduce((n, s) => n + s.count, 0);
    assert.equal(count(lastHour, 'tcp_sendmsg'), 60 * 80);
    assert.equal(count(lastHour, 'memcpy'), 60 * 10);
    assert.equal(count(lastHour, 'crunch'), 60 * 5);
    const firstHour = parseFolded(await (await get(`/api/profile?from=-2h&until=-1h&process=web`)).text());
    assert.equal(count(firstHour, 'memcpy'), 60 * 80);
    assert.equal(count(firstHour, 'crunch'), 0);
    const absolute = new URLSearchParams({ from: new Date(now - 2 * HOUR).toISOString(), until: String(Math.floor(now / 1000) + 1), pid: '200' });
    assert.equal(count(parseFolded(await (await get(`/api/profile?${absolute}`)).text()), 'crunch'), 120 * 5);
    const oneThread = parseFolded(await (await get(`/api/profile?from=-3h&thread=${encodeURIComponent('web (101)')}&threads=1`)).text());
    assert.ok(oneThread.length === 1 && oneThread[0]!.frames[0] === 'web (101)', JSON.stringify(oneThread));
    const pythonOnly = parseFolded(await (await get('/api/profile?from=-3h&kinds=python&pid=100')).text());
    assert.deepEqual(pythonOnly.map((s) => s.frames.join(';')).sort(), ['main (app.py:1);handle (app.py:1)', 'main (app.py:1);render (app.py:1)']);
  });

  test('GET /api/profile in every format: svg, speedscope, pprof, cpuprofile, json', async () => {
    const svg = await get('/api/profile?from=-3h&format=svg');
    assert.equal(svg.headers.get('content-type'), 'image/svg+xml; charset=utf-8');
    assert.match(await svg.text(), /render \(app\.py:1\)/);
    const speedscope = (await (await get('/api/profile?from=-3h&format=speedscope')).json()) as { shared: { frames: { name: string }[] } };
    assert.ok(speedscope.shared.frames.some((f) => f.name.startsWith('crunch')));
    const pprof = PprofProfile.decode(gunzipSync(Buffer.from(await (await get('/api/profile?from=-3h&format=pprof')).arrayBuffer())));
    assert.ok(pprof.sample.length >= 3);
    const cpuprofile = (await (await get('/api/profile?from=-3h&format=cpuprofile')).json()) as { nodes: unknown[] };
    assert.ok(cpuprofile.nodes.length > 3);
    const json = (await (await get('/api/profile?from=-3h&format=json')).json()) as { samples: number; profiles: number };
    assert.deepEqual([json.samples, json.profiles], [120 * 95, 240]);
  });

  test('GET /api/diff: which stacks grew from one range to the other', async () => {
    const text = await (await get('/api/diff?base_from=-2h&base_until=-1h&from=-1h&until=now&process=web')).text();
    const lines = text.trim().split('\n');
    // "stack base comparison", the stack that grew most first.
    assert.equal(lines[0], 'main (app.py:1);render (app.py:1);tcp_sendmsg_[k] 600 4800');
    assert.equal(lines.at(-1), 'main (app.py:1);handle (app.py:1);memcpy 4800 600');
    const json = (await (await get('/api/diff?base_from=-2h&base_until=-1h&from=-1h&format=json&process=web')).json()) as { key: string; delta: number }[];
    assert.ok(Math.abs(json[0]!.delta - (80 - 10) / 90) < 1e-9);
    // The differential flame graph: render's share grew (red), handle's shrank (blue).
    const svgResponse = await get('/api/diff?base_from=-2h&base_until=-1h&from=-1h&format=svg&process=web');
    assert.match(svgResponse.headers.get('content-type') ?? '', /^image\/svg\+xml/);
    const svg = await svgResponse.text();
    assert.match(svg, /<text id="title"[^>]*>Differential flame graph: /);
    const fillOf = (name: string): [number, number, number] => {
      const m = new RegExp(`<title>${name} \\([^<]*</title><rect [^>]*fill="rgb\\((\\d+),(\\d+),(\\d+)\\)"`).exec(svg);
      assert.ok(m, `${name} drawn`);
      return [Number(m[1]), Number(m[2]), Number(m[3])];
    };
    const [rr, , rb] = fillOf('render');
    const [hr, , hb] = fillOf('handle');
    assert.ok(rr > rb && hb > hr, `render rgb(${fillOf('render').join()}), handle rgb(${fillOf('handle').join()})`);
    assert.equal((await get('/api/diff?base_from=-2h&base_until=-1h&format=pprof')).status, 400);
  });

  test('GET /api/timeline, /api/processes, /api/threads', async () => {
    const t = (await (await get('/api/timeline?from=-2h&until=now&steps=12')).json()) as { stepMs: number; counts: number[] };
    assert.equal(t.stepMs, 600_000);
    assert.equal(t.counts.length, 12);
    assert.ok(t.counts.every((c) => c === 10 * 95), JSON.stringify(t.counts));
    const processes = (await (await get('/api/processes?from=-3h')).json()) as { name: string; python: string; profiles: number }[];
    assert.deepEqual(processes.map((p) => [p.name, p.python, p.profiles]), [['web', '3.12.1', 120], ['worker', '3.11.7', 120]]);
    const threads = (await (await get('/api/threads?from=-3h&pid=100')).json()) as { label: string }[];
    assert.deepEqual(threads.map((x) => x.label).sort(), ['web (100)', 'web (101)']);
  });

  test('bad requests get a 400 that says what is wrong', async () => {
    for (const [query, message] of [
      ['/api/profile?from=yesterday', /from=yesterday: not a time/],
      ['/api/profile?from=-1h&until=-2h', /is not after from/],
      ['/api/profile?format=png', /format=png: use one of folded, svg/],
      ['/api/profile?kinds=java', /kinds=java: use python, native and kernel/],
      ['/api/profile?pid=abc', /pid=abc: not a PID/],
      ['/profile?pid=0', /pid=0: give the PID/],
      ['/profile?pid=1&seconds=600', /seconds=600: give a number of seconds/],
    ] as const) {
      const r = await get(query);
      assert.equal(r.status, 400, query);
      assert.match(await r.text(), message);
    }
    assert.equal((await get('/nothing')).status, 404);
    assert.equal((await get('/api/profile', { method: 'POST' })).status, 405);
  });

  test('GET /profile?pid=N&seconds=S samples a running process now and answers folded stacks', async () => {
    const w = await startWorkload(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      const cpuAtStart = await cpuSecondsOf(w.pid);
      const r = await get(`/profile?pid=${w.pid}&seconds=2`);
      assert.equal(r.status, 200);
      const stacks = parseFolded(await r.text());
      // As many samples as a busy machine let it run, at 99 Hz: some, and never more than its CPU time brings.
      const samples = stacks.reduce((n, s) => n + s.count, 0);
      const cpu = (await cpuSecondsOf(w.pid)) - cpuAtStart;
      assert.ok(samples > 0 && samples <= 1.1 * cpu * 99 + 5, `${samples} samples for ${cpu.toFixed(2)} s of CPU`);
      assert.ok(stacks.some((s) => s.frames.some((f) => /^<module> \(.*short-lived\.py:\d+\)$/.test(f))), JSON.stringify(stacks.slice(0, 3)));
      const gone = await get('/profile?pid=999999999&seconds=1');
      assert.equal(gone.status, 404);
      assert.match(await gone.text(), /no process with PID 999999999/);
      // Another site's page may not make mixprof profile anything.
      const cross = await getWithHost(server.port, `/profile?pid=${w.pid}&seconds=1`, `127.0.0.1:${server.port}`, { 'Sec-Fetch-Site': 'cross-site' });
      assert.equal(cross.status, 403);
    } finally {
      await w.stop();
    }
  });

  test('[S07] a request naming another host (DNS rebinding) is refused', async () => {
    assert.equal((await getWithHost(server.port, '/health', `localhost:${server.port}`)).status, 200);
    const rebound = await getWithHost(server.port, '/api/profile?from=-1h', `evil.example:${server.port}`);
    assert.equal(rebound.status, 403);
    assert.match(rebound.body, /Host evil\.example:\d+ is not this server's name/);
  });

  test('[S08] listening on another address needs a token, and then every request carries it', async () => {
    const refused = await execa(MIXPROF, ['serve', '--host', '0.0.0.0', '--port', '0', '--data-dir', dataDir], { reject: false, timeout: 30_000 });
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr.trim(), /^mixprof: error: --host 0\.0\.0\.0 would let anyone who reaches it read the profiles and start profiling \(pass --token-file FILE/);
    assert.equal(refused.stderr.trim().split('\n').length, 1);

    const address = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal)?.address ?? '127.0.0.1';
    const open = await serve(['--host', '0.0.0.0', '--data-dir', dataDir], { MIXPROF_TOKEN: 'correct-horse-battery' });
    try {
      const base = `http://${address}:${open.port}`;
      assert.equal((await fetch(`${base}/api/profile?from=-1h`)).status, 401);
      assert.equal((await fetch(`${base}/api/profile?from=-1h`, { headers: { Authorization: 'Bearer wrong-horse-battery' } })).status, 401);
      const ok = await fetch(`${base}/api/profile?from=-1h`, { headers: { Authorization: 'Bearer correct-horse-battery' } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /render/);
      // In a browser: the token once, then a cookie; the page's own URLs never hold it.
      assert.equal((await fetch(`${base}/?token=wrong-horse-battery`, { redirect: 'manual' })).status, 401);
      const login = await fetch(`${base}/?token=correct-horse-battery&from=-1h`, { redirect: 'manual' });
      assert.equal(login.status, 303);
      assert.equal(login.headers.get('location'), '/?from=-1h');
      const cookie = login.headers.get('set-cookie') ?? '';
      assert.match(cookie, /^mixprof_session=[0-9a-f]{64}; HttpOnly; SameSite=Strict; Path=\/$/);
      assert.ok(!cookie.includes('correct-horse-battery'));
      const session = cookie.split(';')[0]!;
      assert.equal((await fetch(`${base}/`, { headers: { Cookie: session } })).status, 200);
      assert.equal((await fetch(`${base}/api/profile?from=-1h`, { headers: { Cookie: session } })).status, 200);
      assert.equal((await fetch(`${base}/api/profile?from=-1h`, { headers: { Cookie: 'mixprof_session=' + '0'.repeat(64) } })).status, 401);
      // The token in an API URL is no longer taken: it would end up in logs.
      assert.equal((await fetch(`${base}/api/profile?from=-1h&token=correct-horse-battery`)).status, 401);
    } finally {
      open.child.kill('SIGINT');
      assert.equal((await open.child).exitCode, 0);
    }
  });
});
