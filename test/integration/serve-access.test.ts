/**
 * Who `mixprof serve` answers, and within what bounds: profiles only for
 * root and serve's own user on loopback without a token (a real second
 * user, `nobody`, is refused) and for token holders; a few on-demand
 * profiles at once; memory that does not grow with requests; answers built
 * within a bound whatever the store holds; the token never on a command line.
 */
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { MAX_ENTRIES } from '../../src/output/cpuprofile.js';
import { ProfileStore } from '../../src/store/profile-store.js';
import { MIXPROF, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';
import { getAs, NOBODY, py, residentBytes, serve, type Serving } from '../helpers/serve.js';

const MINUTE = 60_000;

describe('mixprof serve: access and bounds', () => {
  let dir: string;
  let dataDir: string;
  let server: Serving;
  const now = Date.now();

  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-serve-access-'));
    // nobody runs the requests' processes from here.
    await chmod(dir, 0o755);
    dataDir = path.join(dir, 'store');
    const store = ProfileStore.open(dataDir);
    // Ten processes on three hosts, a profile a minute for an hour; one profile of a hundred million samples.
    for (let m = 0; m < 60; m++) {
      for (let p = 0; p < 10; p++) {
        const start = now - 60 * MINUTE + m * MINUTE;
        store.add({
          process: { host: `h${p % 3}`, pid: 100 + p, name: `app${p}`, cmdline: `python3 app${p}.py`, python: '3.12.1' },
          startMs: start,
          endMs: start + 10_000,
          hz: 99,
          mode: 'cpu',
          lostEvents: 0,
          stacks: [
            { thread: `app${p} (${100 + p})`, frames: [py('main'), py(`work${m % 7}`), { kind: 'native', name: 'memcpy' }], count: 10 },
            { thread: `app${p} (${1000 + p})`, frames: [py('main'), py('io'), { kind: 'kernel', name: 'tcp_sendmsg' }], count: 5 },
          ],
        });
      }
    }
    store.add({
      process: { host: 'h0', pid: 999, name: 'huge', cmdline: 'python3 huge.py', python: '3.12.1' },
      startMs: now - 30 * MINUTE,
      endMs: now - 29 * MINUTE,
      hz: 99,
      mode: 'cpu',
      lostEvents: 0,
      stacks: [
        { thread: null, frames: [py('main'), py('spin')], count: 60_000_000 },
        { thread: null, frames: [py('main'), py('wait')], count: 40_000_000 },
      ],
    });
    store.close();
    server = await serve(['--data-dir', dataDir]);
  });

  after(async () => {
    server?.child.kill('SIGTERM');
    if (server) assert.equal((await server.child).exitCode, 0, server.stderr());
    await rm(dir, { recursive: true, force: true });
    assert.equal(await bpftraceCount(), 0);
  });

  test('[S14] without a token, only root and serve\'s own user get profiles: another local user is refused stored and on-demand profiles', async () => {
    const w = await startWorkload<{ pid: number }>(pyenvPython('3.11.7').executable, [path.join(WORKLOADS, 'short-lived.py'), '120']);
    try {
      for (const what of ['/api/profile?from=-2h', '/api/processes?from=-2h', '/api/threads?from=-2h', '/api/timeline?from=-2h', '/api/diff?from=-1h&base_from=-2h&base_until=-1h', `/profile?pid=${w.pid}&seconds=1`, '/']) {
        const refused = await getAs(NOBODY, `${server.base}${what}`);
        assert.equal(refused.status, 403, what);
        assert.match(refused.body, /^uid 65534 may not read profiles here: without a token, serve answers only root and the user it runs as \(uid 0\)/, what);
        assert.doesNotMatch(refused.body, /main|app\d|short-lived/);
      }
      // Monitors may still ask whether it runs; nothing of the store is told.
      const health = await getAs(NOBODY, `${server.base}/health`);
      assert.deepEqual([health.status, JSON.parse(health.body)], [200, { status: 'ok' }]);
      // Root, serve's own user, gets them.
      const own = await fetch(`${server.base}/api/profile?from=-2h&pid=100`);
      assert.equal(own.status, 200);
      assert.match(await own.text(), /main \(app\.py:1\);work\d \(app\.py:1\);memcpy \d+/);
    } finally {
      await w.stop();
    }
    // With a token, whoever holds it is let in, and nobody else.
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'correct-horse-battery\n', { mode: 0o600 });
    const withToken = await serve(['--data-dir', dataDir, '--token-file', tokenFile]);
    try {
      assert.equal((await getAs(NOBODY, `${withToken.base}/api/processes?from=-2h`)).status, 401);
      const holder = await getAs(NOBODY, `${withToken.base}/api/processes?from=-2h`, { Authorization: 'Bearer correct-horse-battery' });
      assert.equal(holder.status, 200);
      assert.equal((JSON.parse(holder.body) as unknown[]).length, 11);
    } finally {
      withToken.child.kill('SIGINT');
      assert.equal((await withToken.child).exitCode, 0);
    }
  });

  test('[S15] on-demand profiles are capped: past two at once (or a second of one process) the answer is 429, and /health is served meanwhile', async () => {
    const python = pyenvPython('3.11.7').executable;
    const workloads: Workload<{ pid: number }>[] = [];
    try {
      for (let i = 0; i < 4; i++) workloads.push(await startWorkload<{ pid: number }>(python, [path.join(WORKLOADS, 'short-lived.py'), '120']));
      const pids = workloads.map((w) => w.pid);
      const running = [fetch(`${server.base}/profile?pid=${pids[0]}&seconds=8`), fetch(`${server.base}/profile?pid=${pids[1]}&seconds=8`)];
      // serve logs each on-demand profile as it takes it on.
      const deadline = Date.now() + 60_000;
      while (!pids.slice(0, 2).every((pid) => server.stderr().includes(`profiling process ${pid} for 8 s on demand`))) {
        assert.ok(Date.now() < deadline, `two on-demand profiles started: ${server.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const more = await Promise.all([...pids.slice(2), pids[0]!, ...pids.slice(2)].map((pid) => fetch(`${server.base}/profile?pid=${pid}&seconds=8`)));
      for (const r of more) {
        assert.equal(r.status, 429);
        assert.ok(Number(r.headers.get('retry-after')) > 0);
        assert.match(await r.text(), /2 on-demand profiles are running|is being profiled already/);
      }
      const health = await fetch(`${server.base}/health`, { signal: AbortSignal.timeout(30_000) });
      assert.equal(health.status, 200);
      for (const r of await Promise.all(running)) {
        assert.equal(r.status, 200);
        assert.match(await r.text(), /short-lived\.py/);
      }
      // Done: the next one is taken.
      assert.equal((await fetch(`${server.base}/profile?pid=${pids[2]}&seconds=1`)).status, 200);
    } finally {
      for (const w of workloads) await w.stop();
    }
  });

  test("[S16] 10,000 varied API requests leave serve's memory within 50 MB of where it started", async (t) => {
    const formats = ['folded', 'json', 'svg', 'speedscope', 'pprof', 'cpuprofile'];
    // Every list length is new SQL text to a store that builds "IN (?, ?, ...)" per request.
    const urlOf = (i: number): string => {
      const n = 1 + (i % 1000);
      const pids = Array.from({ length: n }, (_, k) => 100 + ((i + k) % 4000)).join(',');
      const names = Array.from({ length: 1 + ((i * 7) % 500) }, (_, k) => `app${(i + k) % 50}`).join(',');
      const hosts = Array.from({ length: 1 + ((i * 13) % 200) }, (_, k) => `h${k}`).join(',');
      const from = `-${30 + (i % 90)}minutes`;
      switch (i % 6) {
        case 0:
          return `/api/profile?from=${from}&pid=${pids}&format=${formats[i % formats.length]}`;
        case 1:
          return `/api/profile?from=${from}&process=${names}&host=${hosts}&kinds=python,kernel`;
        case 2:
          return `/api/timeline?from=${from}&steps=${1 + (i % 500)}&pid=${pids}`;
        case 3:
          return `/api/processes?from=${from}&host=${hosts}&process=${names}`;
        case 4:
          return `/api/threads?from=${from}&pid=${pids}&host=${hosts}`;
        default:
          return `/api/diff?from=-30m&base_from=-1h&base_until=-30m&process=${names}&pid=${pids}`;
      }
    };
    const run = async (first: number, count: number): Promise<void> => {
      let next = first;
      const worker = async (): Promise<void> => {
        while (next < first + count) {
          const i = next++;
          const r = await fetch(`${server.base}${urlOf(i)}`);
          assert.equal(r.status, 200, `${urlOf(i).slice(0, 80)}: ${r.status}`);
          await r.arrayBuffer();
        }
      };
      await Promise.all(Array.from({ length: 4 }, worker));
    };
    const pid = server.child.pid!;
    // Where it started: once its heap has grown to what serving takes (a few thousand requests).
    await run(0, 2_500);
    const before = await residentBytes(pid);
    await run(2_500, 10_000);
    const grown = (await residentBytes(pid)) - before;
    t.diagnostic(`serve: ${(before / 2 ** 20).toFixed(0)} MiB after 2,500 requests, ${(grown / 2 ** 20).toFixed(1)} MiB more after 10,000 more`);
    assert.ok(grown < 50 * 2 ** 20, `serve grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
  });

  test('[S17] a cpuprofile of a hundred million stored samples is built within a bound: at most a million entries, the time still the samples\'', async () => {
    const r = await fetch(`${server.base}/api/profile?from=-2h&pid=999&format=cpuprofile`, { signal: AbortSignal.timeout(120_000) });
    assert.equal(r.status, 200);
    const cpu = (await r.json()) as { samples: number[]; timeDeltas: number[]; nodes: { hitCount: number; callFrame: { functionName: string } }[] };
    assert.ok(cpu.samples.length <= MAX_ENTRIES && cpu.samples.length > MAX_ENTRIES / 2, `${cpu.samples.length} entries`);
    const seconds = cpu.timeDeltas.reduce((a, b) => a + b, 0) / 1e6;
    assert.ok(Math.abs(seconds - 100_000_000 / 99) < 1, `${seconds} s`);
    const hits = (name: string): number => cpu.nodes.filter((n) => n.callFrame.functionName === name).reduce((a, n) => a + n.hitCount, 0);
    assert.ok(Math.abs(hits('spin') / (hits('spin') + hits('wait')) - 0.6) < 1e-4);
  });

  test('[S19] a range holding more distinct stacks than serve builds answers from is refused with a 422 that says what to do', async () => {
    const small = await serve(['--data-dir', dataDir, '--max-stacks', '10']);
    try {
      const r = await fetch(`${small.base}/api/profile?from=-2h&threads=1&format=svg`);
      assert.equal(r.status, 422);
      assert.match(await r.text(), /^the range holds \d+ distinct stacks, more than the 10 an answer is built from \(serve --max-stacks\): narrow it/);
      assert.equal((await fetch(`${small.base}/api/diff?from=-1h&base_from=-2h&base_until=-1h&threads=1`)).status, 422);
      assert.equal((await fetch(`${small.base}/api/profile?from=-2h&pid=100`)).status, 200);
    } finally {
      small.child.kill('SIGINT');
      assert.equal((await small.child).exitCode, 0);
    }
  });

  test('[S26] times no date can hold are a 400, not a 500', async () => {
    for (const [query, message] of [
      [`/api/profile?from=${'9'.repeat(400)}`, /^from=9+: not a time/],
      ['/api/profile?from=-99999999999999d', /^from=-99999999999999d: not a time/],
      ['/api/timeline?until=1e400', /^until=1e400: not a time/],
      ['/api/diff?base_from=99999999999999999&base_until=now', /^base_from=9+: not a time/],
    ] as const) {
      const r = await fetch(`${server.base}${query}`);
      assert.equal(r.status, 400, query);
      assert.match(await r.text(), message);
    }
  });

  test('[S27] the token is taken from a file only its owner reads, or from the environment: never from the command line', async () => {
    const onCommandLine = await execa(MIXPROF, ['serve', '--port', '0', '--data-dir', dataDir, '--token', 'correct-horse-battery'], { reject: false, timeout: 30_000 });
    assert.equal(onCommandLine.exitCode, 1);
    assert.equal(onCommandLine.stderr.trim(), 'mixprof: error: --token would show the token to every local user (in /proc/PID/cmdline) (put it in a file only you can read and pass --token-file FILE, or set MIXPROF_TOKEN)');
    const shared = path.join(dir, 'shared-token');
    await writeFile(shared, 'correct-horse-battery\n', { mode: 0o644 });
    await chmod(shared, 0o644);
    const readable = await execa(MIXPROF, ['serve', '--port', '0', '--data-dir', dataDir, '--token-file', shared], { reject: false, timeout: 30_000 });
    assert.equal(readable.exitCode, 1);
    assert.match(readable.stderr.trim(), /^mixprof: error: --token-file .*shared-token: other users can read it \(chmod 600 /);
    const fromEnv = await serve(['--data-dir', dataDir], { MIXPROF_TOKEN: 'correct-horse-battery' });
    try {
      assert.equal((await fetch(`${fromEnv.base}/api/processes`)).status, 401);
      assert.equal((await fetch(`${fromEnv.base}/api/processes`, { headers: { Authorization: 'Bearer correct-horse-battery' } })).status, 200);
    } finally {
      fromEnv.child.kill('SIGINT');
      assert.equal((await fromEnv.child).exitCode, 0);
    }
  });

  test("[S28] the page's URLs never hold the token: it is exchanged once for a cookie, and the page asks the API without it", async () => {
    const withToken = await serve(['--data-dir', dataDir], { MIXPROF_TOKEN: 'correct-horse-battery' });
    try {
      const login = await fetch(`${withToken.base}/?from=-1h&token=correct-horse-battery`, { redirect: 'manual' });
      assert.equal(login.status, 303);
      assert.equal(login.headers.get('location'), '/?from=-1h');
      const session = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
      const page = await fetch(`${withToken.base}/`, { headers: { Cookie: session } });
      assert.equal(page.status, 200);
      assert.doesNotMatch(await page.text(), /token/i);
      assert.equal((await fetch(`${withToken.base}/api/timeline?from=-1h`, { headers: { Cookie: session } })).status, 200);
    } finally {
      withToken.child.kill('SIGINT');
      assert.equal((await withToken.child).exitCode, 0);
    }
  });
});
