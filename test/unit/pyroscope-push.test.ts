/**
 * --push sends what Pyroscope's ingest API documents (POST /ingest: name with
 * labels, from and until in Unix seconds, format, sampleRate, spyName, units,
 * aggregationType as query parameters; folded stacks as the body), checked
 * on a local HTTP server that takes the request apart.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { ingestRequest, pushProfile, type PushedProfile } from '../../src/push/pyroscope.js';

const profile: PushedProfile = {
  processName: 'python3',
  labels: { host: 'web-1', pid: '4242', python: '3.11.7' },
  startMs: Date.parse('2026-11-22T10:00:00.400Z'),
  endMs: Date.parse('2026-11-22T10:00:10.300Z'),
  hz: 99,
  mode: 'cpu',
  stacks: [
    { frames: [{ kind: 'python', name: 'main (app.py:3)' }, { kind: 'python', name: 'handle (app.py:9)' }, { kind: 'kernel', name: 'tcp_sendmsg' }], count: 7 },
    { frames: [{ kind: 'python', name: 'main (app.py:3)' }, { kind: 'native', name: 'memcpy;weird' }], count: 3 },
  ],
};

interface Received {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

async function withServer(status: number, run: (base: string, received: Received[]) => Promise<void>): Promise<void> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const url = new URL(req.url!, 'http://x');
      received.push({ method: req.method!, path: url.pathname, query: url.searchParams, headers: req.headers, body });
      res.writeHead(status, { 'Content-Type': 'text/plain' }).end(status === 200 ? '' : 'ingestion failed: bad profile\nmore');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await run(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, received);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('pushing to Pyroscope', () => {
  test('the request is the documented /ingest call, with labels, times in seconds and folded stacks', async () => {
    await withServer(200, async (base, received) => {
      const failure = await pushProfile({ url: new URL(`${base}/prefix`), appName: null, tenant: 'team-a' }, profile);
      assert.equal(failure, null);
      assert.equal(received.length, 1);
      const r = received[0]!;
      assert.equal(r.method, 'POST');
      assert.equal(r.path, '/prefix/ingest');
      assert.equal(r.query.get('name'), 'python3.cpu{host=web-1,pid=4242,python=3.11.7}');
      assert.equal(r.query.get('from'), String(Date.parse('2026-11-22T10:00:00Z') / 1000));
      assert.equal(r.query.get('until'), String(Date.parse('2026-11-22T10:00:11Z') / 1000));
      assert.equal(r.query.get('format'), 'folded');
      assert.equal(r.query.get('sampleRate'), '99');
      assert.equal(r.query.get('spyName'), 'mixprof');
      assert.equal(r.query.get('units'), 'samples');
      assert.equal(r.query.get('aggregationType'), 'sum');
      assert.equal(r.headers['x-scope-orgid'], 'team-a');
      assert.equal(r.headers['authorization'], undefined);
      // One "frames count" line per stack; a ';' inside a name cannot split it.
      assert.equal(r.body, 'main (app.py:3);handle (app.py:9);tcp_sendmsg_[k] 7\nmain (app.py:3);memcpy%3Bweird 3\n');
    });
  });

  test('an application name, wall-clock mode, and credentials in the URL as basic auth (not in the request line)', () => {
    const r = ingestRequest({ url: new URL('https://user:p%40ss@pyro.example:4040'), appName: 'shop api', tenant: null }, { ...profile, mode: 'wall', labels: { 'odd key': 'a,b{c}' } });
    const url = new URL(r.url);
    assert.equal(url.username, '');
    assert.equal(url.pathname, '/ingest');
    assert.equal(url.searchParams.get('name'), 'shop_api.wall{odd_key=a_b_c_}');
    assert.equal(r.headers['Authorization'], `Basic ${Buffer.from('user:p@ss').toString('base64')}`);
  });

  test('a refusal or an unreachable server is a message, not a throw', async () => {
    await withServer(500, async (base) => {
      assert.match((await pushProfile({ url: new URL(base), appName: null, tenant: null }, profile))!, /answered 500: ingestion failed: bad profile$/);
    });
    assert.match((await pushProfile({ url: new URL('http://127.0.0.1:9'), appName: null, tenant: null }, profile, 2000))!, /^cannot reach http:\/\/127\.0\.0\.1:9: /);
  });
});
