// `npm run pictures`: the README's pictures, from the demo's profile
// (run `npm run demo` first): docs/demo-flamegraph.svg (the interactive
// flame graph itself) and PNG screenshots of it in headless Chromium,
// whole and zoomed into the request handler with a search highlighted.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const svg = path.join(root, 'out', 'demo.svg');
if (!existsSync(svg)) {
  console.error('pictures: out/demo.svg is missing; run `npm run demo` first');
  process.exit(1);
}
const docs = path.join(root, 'docs');
mkdirSync(docs, { recursive: true });
copyFileSync(svg, path.join(docs, 'demo-flamegraph.svg'));

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 560 } });
  await page.goto(pathToFileURL(svg).href);
  await page.screenshot({ path: path.join(docs, 'demo-flamegraph.png') });
  // Zoomed into handle_request, with the Python parser function searched for.
  await page.goto(`${pathToFileURL(svg).href}?s=parse_record`);
  await page.locator('g.f', { hasText: /^handle_request \(/ }).first().click();
  await page.screenshot({ path: path.join(docs, 'demo-flamegraph-zoomed.png') });
} finally {
  await browser.close();
}
console.log('pictures: wrote docs/demo-flamegraph.svg, docs/demo-flamegraph.png, docs/demo-flamegraph-zoomed.png');
