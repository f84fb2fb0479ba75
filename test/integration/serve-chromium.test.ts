/**
 * The whole continuous-profiling loop as a user sees it: real workloads,
 * `mixprof collect` for a few periods, `mixprof serve`, and its page in
 * headless Chromium (Debian's, driven by playwright-core): a range brushed
 * on the timeline shows the workloads' functions in the flame graph, and the
 * diff of an early and a late range shows what grew. Screenshots go to
 * test-artifacts/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { chromium, type Browser, type Page } from 'playwright-core';
import { MIXPROF, REPO, WORKLOADS } from '../helpers/paths.js';
import { bpftraceCount, startWorkload, type Workload } from '../helpers/processes.js';
import { pyenvPython } from '../helpers/pythons.js';
import { assertRoot } from '../helpers/root.js';

const CHROMIUM = '/usr/bin/chromium';
/** The page's globals, for functions run in it (the tests are compiled without DOM types). */
type PageGlobals = { document: { getElementById(id: string): { src?: string; textContent: string | null } | null } };
const ARTIFACTS = path.join(REPO, 'test-artifacts');

describe('the web page of mixprof serve, in Chromium', () => {
  let dir: string;
  let browser: Browser | undefined;
  let page: Page;
  let serve: ReturnType<typeof execa> | undefined;
  let base = '';
  let collectedFrom = 0;
  let collectedUntil = 0;
  const workloads: Workload<unknown>[] = [];

  before(async () => {
    assertRoot();
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-ui-'));
    const dataDir = path.join(dir, 'store');
    const python = pyenvPython('3.11.7').executable;
    // Spinning all along; a second process, started halfway, is what grows.
    workloads.push(await startWorkload(python, [path.join(WORKLOADS, 'spinners.py')]));
    collectedFrom = Date.now();
    const collect = execa(MIXPROF, ['collect', '-x', String(workloads[0]!.pid), '--match', 'short-lived\\.py 300', '--interval', '2', '--duration', '1', '--count', '6', '--data-dir', dataDir], { reject: false, timeout: 120_000, stdin: 'ignore' });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`collect stored no 3 periods: ${stderr}`)), 60_000);
      collect.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if ((stderr.match(/stored \d+ profiles? /g) ?? []).length >= 3) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    workloads.push(await startWorkload(python, [path.join(WORKLOADS, 'short-lived.py'), '300']));
    const done = await collect;
    assert.equal(done.exitCode, 0, stderr + done.stderr);
    collectedUntil = Date.now();

    serve = execa(MIXPROF, ['serve', '--port', '0', '--data-dir', dataDir], { reject: false, timeout: 300_000, stdin: 'ignore' });
    let serveErr = '';
    base = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`serve did not start: ${serveErr}`)), 30_000);
      serve!.stderr!.on('data', (chunk: Buffer) => {
        serveErr += chunk.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)\//.exec(serveErr);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
    });
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${base}/`);
    // The range the collector ran in, with some room on both sides.
    await page.fill('#from', new Date(collectedFrom - 4000).toISOString());
    await page.fill('#until', new Date(collectedUntil + 4000).toISOString());
    await page.click('#apply');
    // The status of this range, not of the one the page opened with (whose answers may come later on a busy machine).
    await page.waitForFunction(
      (from) => {
        const status = (globalThis as unknown as PageGlobals).document.getElementById('status')?.textContent ?? '';
        return /samples in \d+ profiles/.test(status) && status.includes(new Date(from).toLocaleString());
      },
      collectedFrom - 4000,
      { timeout: 30_000 },
    );
    assert.deepEqual(errors, []);
  });

  after(async () => {
    await browser?.close();
    serve?.kill('SIGTERM');
    await serve;
    for (const w of workloads) await w.stop();
    await rm(dir, { recursive: true, force: true });
    assert.equal(await bpftraceCount(), 0);
  });

  /** Drags across the timeline from one share of its width to another. */
  async function drag(fromShare: number, toShare: number, shift = false): Promise<void> {
    const box = (await page.locator('#timeline').boundingBox())!;
    const y = box.y + box.height / 2;
    if (shift) await page.keyboard.down('Shift');
    await page.mouse.move(box.x + box.width * fromShare, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * toShare, y, { steps: 5 });
    await page.mouse.up();
    if (shift) await page.keyboard.up('Shift');
  }

  /** The flame graph's SVG text once the iframe has loaded the range asked for. */
  async function flameText(): Promise<string> {
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.getElementById('flame')?.src ?? '').includes('format=svg'));
    const frame = page.frameLocator('#flame');
    await frame.locator('#frames').waitFor({ timeout: 30_000 });
    return (await frame.locator('svg').first().innerHTML()) as string;
  }

  test('a range brushed on the timeline shows the workloads in the flame graph', async () => {
    const bars = await page.locator('#timeline rect.bar').count();
    assert.ok(bars >= 6, `${bars} bars on the timeline`);
    await drag(0.02, 0.98);
    await page.waitForSelector('#timeline rect.brush');
    const svg = await flameText();
    assert.match(svg, /spin \(/);
    assert.match(svg, /short-lived\.py/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'serve-flame.png') });
  });

  test('a process filter narrows the flame graph to it', async () => {
    await page.selectOption('#process', { index: 1 });
    const chosen = await page.locator('#process').inputValue();
    assert.ok(chosen !== '', 'no process to choose');
    await page.waitForFunction((name) => ((globalThis as unknown as PageGlobals).document.getElementById('flame')?.src ?? '').includes(`process=${encodeURIComponent(name)}`), chosen);
    await flameText();
    await page.selectOption('#process', '');
  });

  test('the diff of an early range (baseline) and a late one shows the process started halfway as grown', async () => {
    await drag(0.02, 0.35, true);
    await drag(0.65, 0.98);
    await page.click('#view-diff');
    await page.waitForSelector('#diff table tr.grew', { timeout: 30_000 });
    const grew = await page.locator('#diff tr.grew td.stack').allTextContents();
    assert.ok(grew.some((s) => /short-lived\.py/.test(s)), grew.slice(0, 5).join('\n'));
    const firstChange = await page.locator('#diff tr.grew td').first().textContent();
    assert.match(firstChange ?? '', /^\+\d+\.\d%$/);
    // Above the table, the differential flame graph: the late process's frames in red.
    await page.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.getElementById('flame')?.src ?? '').includes('api/diff?'));
    const frame = page.frameLocator('#flame');
    await frame.locator('#frames').waitFor({ timeout: 30_000 });
    const drawn = await frame.locator('#frames g').evaluateAll((gs) => gs.map((g) => `${g.querySelector('rect')?.getAttribute('fill')} ${g.querySelector('title')?.textContent}`));
    const late = drawn.filter((d) => / <module> \(\S*short-lived\.py:\d+\)/.test(d));
    assert.ok(late.length > 0, drawn.join('\n'));
    const redness = (d: string): number => {
      const [r = 0, , b = 0] = /^rgb\((\d+),(\d+),(\d+)\)/.exec(d)?.slice(1).map(Number) ?? [];
      return r - b;
    };
    // Red, the more so the more samples: all of them new.
    assert.ok(late.every((d) => redness(d) > 0), late.join('\n'));
    assert.ok(Math.max(...late.map(redness)) > 50, late.join('\n'));
    await page.screenshot({ path: path.join(ARTIFACTS, 'serve-diff.png') });
  });

  test('the URL keeps the view: a link opens the same range, selection, baseline and filters; zoom to the selection', async () => {
    // The diff view of the last test, with a thread and a kinds filter.
    await page.uncheck('#kind-kernel');
    await page.waitForFunction(() => /kinds=python%2Cnative/.test(String((globalThis as unknown as { location: { hash: string } }).location.hash)));
    const link = page.url();
    const hash = new URLSearchParams(new URL(link).hash.slice(1));
    assert.equal(hash.get('view'), 'diff');
    assert.match(hash.get('sel') ?? '', /^\d+_\d+$/);
    assert.match(hash.get('base') ?? '', /^\d+_\d+$/);
    const flameSrc = async (p: Page): Promise<string> => (await p.locator('#flame').getAttribute('src')) ?? '';
    const before = await flameSrc(page);

    const other = await page.context().newPage();
    try {
      const errors: string[] = [];
      other.on('pageerror', (e) => errors.push(e.message));
      await other.goto(link);
      await other.waitForFunction(() => ((globalThis as unknown as PageGlobals).document.getElementById('flame')?.src ?? '').includes('api/diff?'), undefined, { timeout: 30_000 }).catch(async (e: unknown) => {
        throw new Error(`${String(e)}; link ${link}; now ${other.url()}; errors ${errors.join('; ')}; status ${await other.locator('#status').textContent()}`);
      });
      assert.equal(await flameSrc(other), before);
      assert.equal(await other.isChecked('#kind-kernel'), false);
      await other.waitForSelector('#diff table tr.grew', { timeout: 30_000 });

      // Zoom to the selection: the range becomes the selection's, the flame graph the same range.
      const [selFrom, selUntil] = hash.get('sel')!.split('_').map(Number) as [number, number];
      await other.click('#view-flame');
      await other.click('#zoom-in');
      await other.waitForFunction((iso) => (globalThis as unknown as { document: { getElementById(id: string): { value: string } } }).document.getElementById('from').value === iso, new Date(selFrom).toISOString());
      assert.equal(await other.inputValue('#until'), new Date(selUntil).toISOString());
      await other.waitForFunction((q) => ((globalThis as unknown as PageGlobals).document.getElementById('flame')?.src ?? '').includes(q), `from=${selFrom}&until=${selUntil}`);
    } finally {
      await other.close();
    }
  });
});
