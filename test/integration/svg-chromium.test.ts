/**
 * The SVG flame graph in a real browser (Debian's Chromium, headless, driven
 * by playwright-core): it renders with boxes sized by samples, and its script
 * zooms, resets, searches and shows details as a user would drive it, by mouse
 * and keyboard. Screenshots go to test-artifacts/ for a human to look at.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { formatSvg } from '../../src/output/svg.js';
import { readFolded } from '../../src/output/folded-reader.js';
import { FIXTURES, REPO } from '../helpers/paths.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const MATCH = 'rgb(230,0,230)';

// Total 2000: main is half, serve 30%, compute 30%, socket_recv 25%; the
// frames matching "read" are nested (read_input > read > ... > vfs_read): 15%.
const FOLDED = readFileSync(path.join(FIXTURES, 'flamegraph.folded'), 'utf8');

interface Box {
  readonly name: string;
  readonly cls: string;
  readonly fill: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
  readonly label: string;
  readonly labelWidth: number;
}

/** Runs in the page: every frame's box as laid out and its label as rendered. */
function snapshot(): Box[] {
  interface El {
    readonly textContent: string | null;
    getAttribute(name: string): string | null;
    querySelector(selector: string): El;
    getBoundingClientRect(): { x: number; y: number; width: number; height: number };
    getComputedTextLength(): number;
  }
  const doc = (globalThis as unknown as { document: { querySelectorAll(selector: string): ArrayLike<El> } }).document;
  return Array.from(doc.querySelectorAll('#frames > g')).map((g) => {
    const first = (g.querySelector('title').textContent ?? '').split('\n')[0]!;
    const rect = g.querySelector('rect');
    const text = g.querySelector('text');
    const r = rect.getBoundingClientRect();
    return {
      name: first.replace(/ \([0-9,]+ samples?, [0-9.]+%\)$/, ''),
      cls: g.getAttribute('class') ?? '',
      fill: rect.getAttribute('fill') ?? '',
      x: r.x,
      y: r.y,
      width: r.width,
      height: r.height,
      label: text.textContent ?? '',
      labelWidth: text.getComputedTextLength(),
    };
  });
}

async function boxes(page: Page): Promise<Map<string, Box>> {
  return new Map((await page.evaluate(snapshot)).map((b) => [b.name, b]));
}

function box(all: Map<string, Box>, name: string): Box {
  const b = all.get(name);
  assert.ok(b, `frame ${name} in the page`);
  return b;
}

function near(actual: number, expected: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= 1.5, `${what}: ${actual.toFixed(2)}, expected about ${expected.toFixed(2)}`);
}

async function mockPrompt(page: Page, answer: string): Promise<void> {
  await page.evaluate((a) => {
    (globalThis as unknown as { prompt: () => string }).prompt = () => a;
  }, answer);
}

async function clickFrame(page: Page, name: string): Promise<void> {
  const b = box(await boxes(page), name);
  await page.mouse.click(b.x + b.width / 2, b.y + b.height / 2);
}

describe('SVG flame graph in headless Chromium', () => {
  let dir: string;
  let file: string;
  let browser: Browser | undefined;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'mixprof-svg-'));
    file = path.join(dir, 'flamegraph.svg');
    const profile = { stacks: readFolded(FOLDED, 'fixture'), hz: 99, startTime: null, durationSeconds: 20.2, title: 'python3 app.py (1234)' };
    await writeFile(file, formatSvg(profile));
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    try {
      await browser?.close();
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  });

  /**
   * A fresh page (own context) per test, always closed; script errors fail
   * the test. One browser for all tests, launched by the first (so that each
   * test fails on its own, saying why, when Chromium is missing) and closed
   * after the last.
   */
  async function withPage(query: string, body: (page: Page) => Promise<void>): Promise<void> {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} not found: the SVG viewer tests need Debian's chromium package (apt-get install chromium)`);
    browser ??= await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    const context = await browser.newContext({ viewport: { width: 1200, height: 216 } });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      await page.goto(pathToFileURL(file).href + query);
      await body(page);
      assert.deepEqual(errors, [], 'no script errors');
    } finally {
      await context.close();
    }
  }

  test('renders as an SVG document with boxes as wide as their share of samples', async () => {
    await withPage('', async (page) => {
      const doc = await page.evaluate(() => {
        const d = (globalThis as unknown as { document: { documentElement: { localName: string; namespaceURI: string }; getElementsByTagName(n: string): { length: number } } }).document;
        return { root: d.documentElement.localName, ns: d.documentElement.namespaceURI, parseErrors: d.getElementsByTagName('parsererror').length };
      });
      assert.deepEqual(doc, { root: 'svg', ns: 'http://www.w3.org/2000/svg', parseErrors: 0 });
      const all = await boxes(page);
      const root = box(all, 'all');
      near(root.width, 1180, 'root width');
      near(box(all, 'main (app.py:10)').width, root.width * 0.5, 'main, 50% of samples');
      near(box(all, 'serve (app.py:40)').width, root.width * 0.3, 'serve, 30%');
      near(box(all, '<module> (app.py:1)').width, root.width * 0.8, '<module>, 80%');
      near(box(all, 'vfs_read').width, root.width * 0.15, 'kernel vfs_read, 15%');
      assert.ok(!all.has('tiny_fn'), 'a frame under 0.1% is not drawn');
      // Flame, not icicle: each child sits right on top of its parent.
      near(box(all, 'main (app.py:10)').y, box(all, '<module> (app.py:1)').y - 16, 'main above <module>');
      near(box(all, '<module> (app.py:1)').y, root.y - 16, '<module> above the root');
      assert.equal(box(all, '<module> (app.py:1)').label, '<module> (app.py:1)');
      for (const b of all.values()) assert.ok(b.labelWidth <= b.width - 3, `label "${b.label}" inside ${b.name}'s box`);
      assert.equal(await page.textContent('#subtitle'), '2,000 samples · 99 Hz · 20.2 s');
      assert.equal(await page.getAttribute('#unzoom', 'class'), 'ctl hide', 'Reset Zoom hidden until zoomed');
      await page.screenshot({ path: path.join(ARTIFACTS, 'flamegraph.png') });
    });
  });

  test('clicking a frame zooms it to the full width, dims its ancestors, hides the rest; Reset Zoom and Escape undo it', async () => {
    await withPage('', async (page) => {
      const before = box(await boxes(page), '<listcomp> (app.py:12)').label;
      await clickFrame(page, 'main (app.py:10)');
      let all = await boxes(page);
      const full = box(all, 'all').width;
      near(full, 1180, 'the root, an ancestor, still spans the width');
      near(box(all, 'main (app.py:10)').width, full, 'zoomed main');
      near(box(all, 'main (app.py:10)').x, box(all, 'all').x, 'zoomed main starts at the left');
      near(box(all, 'compute (app.py:20)').width, full * 0.6, 'compute, 60% of main');
      near(box(all, 'read_input (app.py:30)').width, full * 0.3, 'read_input, 30% of main');
      assert.match(box(all, '<module> (app.py:1)').cls, /\bparent\b/, 'ancestor dimmed');
      near(box(all, '<module> (app.py:1)').width, full, 'ancestor stretched');
      for (const hidden of ['serve (app.py:40)', 'socket_recv', '[idle]']) {
        assert.match(box(all, hidden).cls, /\bhide\b/, `${hidden} hidden`);
        assert.equal(box(all, hidden).width, 0, `${hidden} not laid out`);
      }
      // Relabelled for the new widths: <listcomp>, twice as wide, shows more of its name.
      const after = box(all, '<listcomp> (app.py:12)').label;
      assert.ok(after.endsWith('..') && after.length > before.length && after.startsWith(before.slice(0, -2)), `"${before}" became "${after}"`);
      for (const b of all.values()) {
        if (!b.cls.includes('hide')) assert.ok(b.labelWidth <= b.width - 3, `label "${b.label}" inside ${b.name}'s box`);
      }
      assert.equal(await page.getAttribute('#unzoom', 'class'), 'ctl');
      await page.screenshot({ path: path.join(ARTIFACTS, 'flamegraph-zoomed.png') });

      const reset = await page.locator('#unzoom').boundingBox();
      assert.ok(reset, 'Reset Zoom shown');
      await page.mouse.click(reset.x + reset.width / 2, reset.y + reset.height / 2);
      all = await boxes(page);
      near(box(all, 'main (app.py:10)').width, 590, 'main back to half');
      assert.equal(box(all, 'serve (app.py:40)').cls, 'f', 'serve shown again');
      assert.equal(box(all, '<module> (app.py:1)').cls, 'f', 'no longer dimmed');
      assert.equal(await page.getAttribute('#unzoom', 'class'), 'ctl hide');

      await clickFrame(page, 'socket_recv');
      near(box(await boxes(page), 'socket_recv').width, 1180, 'zoomed socket_recv');
      await page.keyboard.press('Escape');
      all = await boxes(page);
      near(box(all, 'socket_recv').width, 1180 * 0.25, 'Escape unzooms');
      assert.ok([...all.values()].every((b) => b.cls === 'f'));
    });
  });

  test('Ctrl-F searches: matches turn magenta and "Matched:" gives their share, nested matches counted once', async () => {
    await withPage('', async (page) => {
      await mockPrompt(page, 'read');
      await page.keyboard.press('Control+f');
      assert.equal(await page.textContent('#matched'), 'Matched: 15.0%');
      let all = await boxes(page);
      for (const name of ['read_input (app.py:30)', 'read', 'vfs_read']) assert.equal(box(all, name).fill, MATCH, `${name} matched`);
      for (const name of ['main (app.py:10)', 'entry_SYSCALL_64', 'socket_recv', 'all']) assert.notEqual(box(all, name).fill, MATCH, `${name} not matched`);
      assert.equal(await page.textContent('#search'), 'Reset Search');
      await page.screenshot({ path: path.join(ARTIFACTS, 'flamegraph-search.png') });

      await page.keyboard.press('Escape');
      assert.equal(await page.textContent('#matched'), '');
      assert.ok([...(await boxes(page)).values()].every((b) => b.fill !== MATCH), 'Escape clears the highlights');

      // The Search control prompts too; disjoint matches add up.
      await mockPrompt(page, '^(read|socket_recv)$');
      await page.locator('#search').click();
      assert.equal(await page.textContent('#matched'), 'Matched: 40.0%');
      all = await boxes(page);
      assert.equal(box(all, 'socket_recv').fill, MATCH);
      assert.notEqual(box(all, 'read_input (app.py:30)').fill, MATCH);

      // The search stays while zooming; the share is still of all samples.
      await clickFrame(page, 'serve (app.py:40)');
      assert.equal(box(await boxes(page), 'socket_recv').fill, MATCH);
      assert.equal(await page.textContent('#matched'), 'Matched: 40.0%');

      // "ic" makes the search case-insensitive.
      await page.keyboard.press('Escape');
      await mockPrompt(page, 'SERVE');
      await page.keyboard.press('Control+f');
      assert.equal(await page.textContent('#matched'), 'Matched: 0.0%');
      await page.locator('#ignorecase').click();
      assert.equal(await page.textContent('#matched'), 'Matched: 30.0%');
    });
  });

  test('a ?s= URL parameter searches on load, with names like <module>', async () => {
    await withPage('?s=' + encodeURIComponent('^<module>'), async (page) => {
      assert.equal(await page.textContent('#matched'), 'Matched: 80.0%');
      assert.equal(box(await boxes(page), '<module> (app.py:1)').fill, MATCH);
    });
    await withPage('?s=socket', async (page) => {
      assert.equal(await page.textContent('#matched'), 'Matched: 25.0%');
    });
  });

  test('hovering a frame shows its name, samples and share in the details line', async () => {
    await withPage('', async (page) => {
      assert.equal(await page.textContent('#details'), '');
      const all = await boxes(page);
      const main = box(all, 'main (app.py:10)');
      await page.mouse.move(main.x + 20, main.y + main.height / 2);
      assert.equal(await page.textContent('#details'), 'Function: main (app.py:10) (1,000 samples, 50.00%)');
      const mod = box(all, '<module> (app.py:1)');
      await page.mouse.move(mod.x + 20, mod.y + mod.height / 2);
      assert.equal(await page.textContent('#details'), 'Function: <module> (app.py:1) (1,600 samples, 80.00%)');
      await page.mouse.move(5, 5);
      assert.equal(await page.textContent('#details'), '', 'cleared when the mouse leaves the frames');
    });
  });
});
