/**
 * An interactive flame graph as one standalone SVG file, for people used to
 * Brendan Gregg's flamegraph.pl: the root at the bottom, one box per frame
 * merged along its path from the root, siblings sorted by name, widths
 * proportional to samples. Frames narrower than 0.1% of all samples are not
 * drawn (their samples still count in their parents).
 *
 * Unlike flamegraph.pl, the kind of each frame decides its colour family
 * (Python green, native red/orange, kernel blue, markers grey) with a legend,
 * and each box carries its exact sample range (data-s, data-n, data-d), so
 * zoom and search work in samples, not in rounded pixels.
 *
 * The file has no external resources. Its embedded script (one static string
 * below, identical in every file) gives: click to zoom (ancestors stay, dimmed;
 * "Reset Zoom"), hover details at the bottom, "Search" or Ctrl-F for a regular
 * expression (matches in magenta, "Matched: X%" of all samples), "ic" for
 * case-insensitive search, Escape to clear both, and `?s=REGEX` (and `x=`/`y=`
 * for a zoomed frame's start sample and depth) in the URL.
 */
import type { Frame, FrameKind } from '../symbolize/frame.js';
import type { StackCount } from '../profile/profile.js';
import type { OutputProfile } from './output-profile.js';

export interface SvgOptions {
  /** Width of the image in pixels (default 1200, at least 300). */
  readonly width?: number;
  /**
   * A differential flame graph, as flamegraph.pl draws difffolded.pl's
   * output: widths are the profile's, and each frame is coloured by how its
   * share of all samples changed since this baseline (red grew, blue shrank;
   * shares, so ranges of different lengths compare).
   */
  readonly base?: readonly StackCount[];
}

const DEFAULT_WIDTH = 1200;
const MIN_IMAGE_WIDTH = 300;
const X_PAD = 10;
const FRAME_HEIGHT = 16;
const FONT_SIZE = 12;
/** Average glyph width of the label font, as flamegraph.pl estimates it; the script measures when it relabels. */
const CHAR_WIDTH = FONT_SIZE * 0.59;
/** Title, subtitle and the row of controls and legend. */
const TOP = 72;
/** The details line and "Matched:". */
const BOTTOM = 32;
/** Frames under this share of all samples are left out: too narrow to see, and they would bloat the file. */
const MIN_FRACTION = 0.001;
const ROOT_NAME = 'all';

type NodeKind = FrameKind | 'root';

interface Node {
  readonly name: string;
  readonly kind: NodeKind;
  /** The first frame merged here: its func/file pick the colour. */
  readonly frame: Frame | null;
  /** The file (Python source or native module) when every merged frame agrees; null when they differ. */
  file: string | null | undefined;
  count: number;
  /** The baseline's samples here (differential graphs). */
  base: number;
  children: Map<string, Node> | null;
  /** Children whose name is already taken by a child of another kind (a native and a kernel "memcpy"). */
  otherKinds: Map<string, Node> | null;
}

const KIND_LABEL: Record<NodeKind, string> = { python: 'Python', native: 'native', kernel: 'kernel', marker: 'marker', root: 'root' };
const LEGEND_ORDER: readonly FrameKind[] = ['python', 'native', 'kernel', 'marker'];

function newNode(name: string, kind: NodeKind, frame: Frame | null): Node {
  return { name, kind, frame, file: frame?.file, count: 0, base: 0, children: null, otherKinds: null };
}

function childFor(parent: Node, frame: Frame, kinds: Set<FrameKind>): Node {
  // Keyed by name alone: building the key string for each of millions of
  // frames costs more than the rare second lookup when kinds differ.
  if (parent.children === null) parent.children = new Map();
  let child = parent.children.get(frame.name);
  if (child === undefined) {
    child = newNode(frame.name, frame.kind, frame);
    parent.children.set(frame.name, child);
    kinds.add(frame.kind);
  } else if (child.kind !== frame.kind) {
    if (parent.otherKinds === null) parent.otherKinds = new Map();
    const key = frame.kind + '\0' + frame.name;
    let other = parent.otherKinds.get(key);
    if (other === undefined) {
      other = newNode(frame.name, frame.kind, frame);
      parent.otherKinds.set(key, other);
      kinds.add(frame.kind);
    }
    child = other;
  }
  if (child.frame !== frame && child.file !== null && child.file !== frame.file) child.file = null;
  return child;
}

/**
 * One pass over the stacks: their counts added along their paths in the
 * merged tree, every count (drawn or not), to `count` (the profile) or to
 * `base` (a differential graph's baseline, whose new nodes have no width).
 */
function addStacks(root: Node, stacks: readonly StackCount[], kinds: Set<FrameKind>, field: 'count' | 'base'): void {
  for (const stack of stacks) {
    const count = stack.count;
    if (!(count > 0)) continue;
    root[field] += count;
    let node = root;
    for (const frame of stack.frames) {
      node = childFor(node, frame, kinds);
      node[field] += count;
    }
  }
}

/** Grey when unchanged, to red (grew) or blue (shrank) as the change nears the largest one. */
function diffColour(delta: number, largest: number): string {
  const v = largest > 0 ? Math.min(1, Math.abs(delta) / largest) : 0;
  const [r, g, b] = delta >= 0 ? [235 - 15 * v, 235 - 195 * v, 235 - 195 * v] : [235 - 195 * v, 235 - 155 * v, 235 - 5 * v];
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

function signedPoints(delta: number): string {
  return `${delta >= 0 ? '+' : '\u2212'}${Math.abs(100 * delta).toFixed(2)} points`;
}

function sortedChildren(node: Node): Node[] {
  const list: Node[] = [];
  if (node.children !== null) for (const c of node.children.values()) list.push(c);
  if (node.otherKinds !== null) for (const c of node.otherKinds.values()) list.push(c);
  // Code-unit order, as flamegraph.pl's sort of the folded lines: the same on every machine.
  return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}

/** FNV-1a with a final mix: a stable shade per function, whatever the profile. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function tint(kind: NodeKind, v1: number, v2: number, v3: number): string {
  let r: number;
  let g: number;
  let b: number;
  switch (kind) {
    case 'python': // greens, green always dominant
      r = 60 + 70 * v2;
      g = 170 + 70 * v1;
      b = 50 + 60 * v3;
      break;
    case 'native': // flamegraph.pl's "hot", kept out of the yellows
      r = 205 + 50 * v3;
      g = 160 * v1;
      b = 55 * v2;
      break;
    case 'kernel': // steel blues
      r = 80 + 60 * v1;
      g = 90 + 60 * v1;
      b = 190 + 55 * v2;
      break;
    case 'marker': {
      const v = 165 + 50 * v1;
      r = g = b = v;
      break;
    }
    case 'root':
      r = g = b = 204;
      break;
  }
  return `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
}

function colour(node: Node): string {
  const f = node.frame;
  // A Python function keeps its colour whatever line it is on.
  const key = f !== null && f.func !== undefined ? `${f.func}\0${f.file ?? ''}` : node.name;
  const h = hash(key);
  return tint(node.kind, (h & 0xff) / 255, ((h >>> 8) & 0xff) / 255, ((h >>> 16) & 0xff) / 255);
}

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

function xml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

// Characters XML 1.0 forbids (most C0 controls, U+FFFE/U+FFFF, lone surrogates) would make the file unreadable.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const NOT_XML = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** A name as shown: on one line (the script reads it back from the title's first line), only characters XML allows. */
function displayName(name: string): string {
  return name.replace(/[\t\n\r]/g, ' ').replace(NOT_XML, '\ufffd');
}

/** The label fitting `width` pixels: the whole name, or its start and "..", or nothing. */
function fitLabel(name: string, width: number): string {
  const max = Math.floor((width - 6) / CHAR_WIDTH);
  if (max < 3) return '';
  if (name.length <= max) return name;
  let keep = max - 2;
  const last = name.charCodeAt(keep - 1);
  if (last >= 0xd800 && last <= 0xdbff) keep--; // never split a surrogate pair
  return name.slice(0, keep) + '..';
}

function thousands(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

function percent(n: number, total: number): string {
  return ((100 * n) / total).toFixed(2);
}

function px(v: number): string {
  return String(Math.round(v * 100) / 100);
}

function subtitle(profile: OutputProfile, total: number): string {
  const parts = [`${thousands(total)} ${total === 1 ? 'sample' : 'samples'}`];
  if (Number.isFinite(profile.hz) && profile.hz > 0) parts.push(`${profile.hz} Hz`);
  if (profile.time === 'wall') parts.push('wall clock: every thread, on or off CPU');
  if (profile.durationSeconds !== null && Number.isFinite(profile.durationSeconds)) {
    parts.push(`${profile.durationSeconds < 10 ? profile.durationSeconds.toFixed(2) : profile.durationSeconds.toFixed(1)} s`);
  }
  if (profile.startTime !== null && Number.isFinite(profile.startTime)) {
    parts.push('started ' + new Date(profile.startTime).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'));
  }
  return parts.join(' \u00b7 ');
}

function legend(items: readonly { label: string; fill: string }[], width: number, y: number): string {
  const itemWidth = (label: string): number => 14 + label.length * CHAR_WIDTH + 16;
  let x = (width - items.reduce((sum, i) => sum + itemWidth(i.label), 0)) / 2;
  const out: string[] = ['<g id="legend">'];
  for (const { label, fill } of items) {
    out.push(
      `<rect x="${px(x)}" y="${y - 10}" width="10" height="10" rx="2" fill="${fill}"/>`,
      `<text x="${px(x + 14)}" y="${y}">${label}</text>`,
    );
    x += itemWidth(label);
  }
  out.push('</g>');
  return out.join('');
}

export function formatSvg(profile: OutputProfile, options?: SvgOptions): string {
  const requested = options?.width;
  const width = requested !== undefined && Number.isFinite(requested) ? Math.max(MIN_IMAGE_WIDTH, Math.round(requested)) : DEFAULT_WIDTH;
  const graphWidth = width - 2 * X_PAD;
  const kinds = new Set<FrameKind>();
  const root = newNode(ROOT_NAME, 'root', null);
  addStacks(root, profile.stacks, kinds, 'count');
  const total = root.count;
  const base = options?.base;
  // The baseline's own kinds are not drawn: they stay out of the legend.
  if (base) addStacks(root, base, new Set(), 'base');
  const baseTotal = root.base;
  const deltaOf = (node: Node): number => (total > 0 ? node.count / total : 0) - (baseTotal > 0 ? node.base / baseTotal : 0);
  const minCount = total * MIN_FRACTION;

  // Lay out first (start sample and depth of each frame drawn): the root sits
  // at the bottom, so y depends on the deepest frame drawn.
  const nodes: Node[] = [];
  const starts: number[] = [];
  const depths: number[] = [];
  let maxDepth = 0;
  if (total > 0) {
    const pending: Array<{ node: Node; start: number; depth: number }> = [{ node: root, start: 0, depth: 0 }];
    for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
      const { node, start, depth } = item;
      nodes.push(node);
      starts.push(start);
      depths.push(depth);
      if (depth > maxDepth) maxDepth = depth;
      if (node.children === null) continue;
      const drawn: Array<{ node: Node; start: number; depth: number }> = [];
      let offset = start;
      for (const child of sortedChildren(node)) {
        if (child.count >= minCount) drawn.push({ node: child, start: offset, depth: depth + 1 });
        offset += child.count;
      }
      // Reversed onto the stack so that siblings come out in name order.
      for (let i = drawn.length - 1; i >= 0; i--) pending.push(drawn[i]!);
    }
  }

  const largest = base ? nodes.reduce((m, n) => Math.max(m, Math.abs(deltaOf(n))), 0) : 0;
  const legendItems = base
    ? [
        { label: 'grew', fill: diffColour(1, 1) },
        { label: 'unchanged', fill: diffColour(0, 1) },
        { label: 'shrank', fill: diffColour(-1, 1) },
      ]
    : LEGEND_ORDER.filter((k) => kinds.has(k)).map((k) => ({ label: KIND_LABEL[k], fill: tint(k, 0.5, 0.5, 0.5) }));
  const height = TOP + (maxDepth + 1) * FRAME_HEIGHT + BOTTOM;
  const scale = total > 0 ? graphWidth / total : 0;
  const out: string[] = [];
  out.push(
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n',
    `<svg version="1.1" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">\n`,
    '<defs><linearGradient id="background" x1="0" y1="0" x2="0" y2="1"><stop stop-color="#eeeeee" offset="5%"/><stop stop-color="#eeeeb0" offset="95%"/></linearGradient></defs>\n',
    `<style>${STYLE}</style>\n`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="url(#background)"/>\n`,
    `<text id="title" x="${width / 2}" y="24">${xml(displayName(profile.title))}</text>\n`,
    `<text id="subtitle" x="${width / 2}" y="44">${xml(subtitle(profile, total) + (base ? ` \u00b7 colour: change in share since the baseline (${thousands(baseTotal)} samples), largest ${signedPoints(largest).slice(1)}` : ''))}</text>\n`,
    `<text id="unzoom" class="ctl hide" x="${X_PAD}" y="62">Reset Zoom</text>\n`,
    `<text id="search" class="ctl" x="${width - X_PAD - 24}" y="62">Search</text>\n`,
    `<text id="ignorecase" class="ctl" x="${width - X_PAD}" y="62">ic</text>\n`,
    legend(legendItems, width, 62),
    '\n',
    `<text id="details" x="${X_PAD}" y="${height - 12}"></text>\n`,
    `<text id="matched" x="${width - X_PAD}" y="${height - 12}"></text>\n`,
  );
  if (total === 0) out.push(`<text id="empty" x="${width / 2}" y="${TOP + 12}">No samples</text>\n`);
  out.push(
    `<g id="frames" data-x="${X_PAD}" data-w="${graphWidth}" data-total="${total}" data-charw="${CHAR_WIDTH}">\n`,
  );
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i]!;
    const start = starts[i]!;
    const depth = depths[i]!;
    const name = displayName(node.name);
    const x = X_PAD + start * scale;
    const w = node.count * scale;
    const y = TOP + (maxDepth - depth) * FRAME_HEIGHT;
    const samples = `${thousands(node.count)} ${node.count === 1 ? 'sample' : 'samples'}`;
    let about = node.kind === 'root' ? 'all samples' : KIND_LABEL[node.kind] + (typeof node.file === 'string' ? ' \u00b7 ' + displayName(node.file) : '');
    if (base) about = `baseline ${percent(node.base, baseTotal || 1)}%, ${signedPoints(deltaOf(node))} \u00b7 ${about}`;
    out.push(
      `<g class="f" data-s="${start}" data-n="${node.count}" data-d="${depth}">`,
      `<title>${xml(name)} (${samples}, ${percent(node.count, total)}%)\n${xml(about)}</title>`,
      `<rect x="${px(x)}" y="${y}" width="${px(w)}" height="${FRAME_HEIGHT - 1}" rx="2" fill="${base ? diffColour(deltaOf(node), largest) : colour(node)}"/>`,
      `<text x="${px(x + 3)}" y="${y + 11.5}">${xml(fitLabel(name, w))}</text></g>\n`,
    );
  }
  out.push('</g>\n', `<script><![CDATA[${SCRIPT}]]></script>\n`, '</svg>\n');
  return out.join('');
}

const STYLE = `
text { font-family: Verdana, "DejaVu Sans", sans-serif; font-size: ${FONT_SIZE}px; fill: #000; }
#title { font-size: 17px; text-anchor: middle; }
#subtitle { text-anchor: middle; fill: #555; }
#matched, #ignorecase, #search { text-anchor: end; }
#legend text { fill: #333; }
.ctl { cursor: pointer; fill: #555; }
.ctl:hover, .ctl.active { fill: #000; text-decoration: underline; }
#empty { text-anchor: middle; fill: #777; }
#frames g { cursor: pointer; }
#frames text { pointer-events: none; }
#frames g:hover rect { stroke: #000; stroke-width: 0.5; }
.hide { display: none; }
.parent { opacity: 0.5; }
`;

/**
 * The viewer, the same in every file: everything it needs is in the frames'
 * attributes (data-s, data-n, data-d) and titles ("name (N samples, P%)").
 * No backticks or "${" in here (it is a template literal), and never "]]>".
 */
const SCRIPT = String.raw`
(function () {
  'use strict';
  var MATCH = 'rgb(230,0,230)';
  var framesEl = document.getElementById('frames');
  var details = document.getElementById('details');
  var matchedEl = document.getElementById('matched');
  var unzoomBtn = document.getElementById('unzoom');
  var searchBtn = document.getElementById('search');
  var icBtn = document.getElementById('ignorecase');
  var X0 = +framesEl.getAttribute('data-x');
  var GW = +framesEl.getAttribute('data-w');
  var TOTAL = +framesEl.getAttribute('data-total');
  var CHARW = +framesEl.getAttribute('data-charw');
  var frames = [];
  var byG = new Map();
  var zoomed = null;
  var searching = null;
  var ignoreCase = false;

  for (var el = framesEl.firstElementChild; el; el = el.nextElementSibling) {
    var title = el.firstElementChild, rect = title.nextElementSibling, text = rect.nextElementSibling;
    var info = title.textContent.split('\n')[0];
    var m = /^([\s\S]*) \([0-9,]+ samples?, [0-9.]+%\)$/.exec(info);
    var f = {
      g: el, rect: rect, text: text, info: info, name: m ? m[1] : info,
      s: +el.getAttribute('data-s'), n: +el.getAttribute('data-n'), d: +el.getAttribute('data-d'),
      fill: rect.getAttribute('fill'), x: rect.getAttribute('x'), w: rect.getAttribute('width'),
      tx: text.getAttribute('x'), label: text.textContent
    };
    frames.push(f);
    byG.set(el, f);
  }

  function frameOf(target) {
    var g = target && target.closest ? target.closest('#frames > g') : null;
    return g ? byG.get(g) || null : null;
  }

  // Labels for the frames just placed: first the estimate from the average
  // glyph width, then shortened where the real font is wider. All labels are
  // written before any is measured, so the browser lays out once per round
  // rather than once per frame.
  function relabel(list) {
    var todo = [];
    for (var i = 0; i < list.length; i++) {
      var f = list[i], avail = f.avail, max = Math.floor(avail / CHARW);
      if (max < 3) { f.text.textContent = ''; continue; }
      f.keep = f.name.length <= max ? f.name.length : max - 2;
      setLabel(f);
      todo.push(f);
    }
    while (todo.length > 0) {
      var over = [];
      for (var j = 0; j < todo.length; j++) {
        var len = todo[j].text.getComputedTextLength();
        if (len > todo[j].avail) over.push([todo[j], len]);
      }
      todo = [];
      for (var k = 0; k < over.length; k++) {
        var g = over[k][0], excess = over[k][1] - g.avail;
        g.keep = Math.min(g.keep, g.name.length) - Math.max(1, Math.ceil(excess / CHARW));
        if (g.keep < 1) { g.text.textContent = ''; continue; }
        setLabel(g);
        todo.push(g);
      }
    }
  }

  function setLabel(f) {
    f.text.textContent = f.keep >= f.name.length ? f.name : f.name.slice(0, f.keep) + '..';
  }

  function place(f, x, w, cls, placed) {
    f.g.setAttribute('class', cls ? 'f ' + cls : 'f');
    f.rect.setAttribute('x', x.toFixed(2));
    f.rect.setAttribute('width', w.toFixed(2));
    f.text.setAttribute('x', (x + 3).toFixed(2));
    f.avail = w - 6;
    placed.push(f);
  }

  function syncUrl() {
    try {
      var p = new URLSearchParams(location.search);
      if (zoomed) { p.set('x', String(zoomed.s)); p.set('y', String(zoomed.d)); } else { p.delete('x'); p.delete('y'); }
      if (searching !== null) p.set('s', searching); else p.delete('s');
      var q = p.toString();
      history.replaceState(null, '', location.pathname + (q ? '?' + q : '') + location.hash);
    } catch (e) {
      // Some viewers refuse to change the URL: the state just stays in the page.
    }
  }

  function zoom(z) {
    if (z.d === 0) { unzoom(); return; }
    zoomed = z;
    unzoomBtn.setAttribute('class', 'ctl');
    var placed = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (f.d < z.d && f.s <= z.s && f.s + f.n >= z.s + z.n) {
        place(f, X0, GW, 'parent', placed);
      } else if (f.d >= z.d && f.s >= z.s && f.s + f.n <= z.s + z.n) {
        place(f, X0 + (f.s - z.s) / z.n * GW, f.n / z.n * GW, '', placed);
      } else {
        f.g.setAttribute('class', 'f hide');
      }
    }
    relabel(placed);
    syncUrl();
  }

  function unzoom() {
    zoomed = null;
    unzoomBtn.setAttribute('class', 'ctl hide');
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      f.g.setAttribute('class', 'f');
      f.rect.setAttribute('x', f.x);
      f.rect.setAttribute('width', f.w);
      f.text.setAttribute('x', f.tx);
      f.text.textContent = f.label;
    }
    syncUrl();
  }

  function search(term) {
    var re;
    try {
      re = new RegExp(term, ignoreCase ? 'i' : '');
    } catch (e) {
      details.textContent = 'Not a regular expression: ' + term;
      return;
    }
    searching = term;
    var ranges = [];
    for (var i = 0; i < frames.length; i++) {
      var f = frames[i];
      if (f.d > 0 && re.test(f.name)) {
        f.rect.setAttribute('fill', MATCH);
        ranges.push([f.s, f.s + f.n]);
      } else {
        f.rect.setAttribute('fill', f.fill);
      }
    }
    // A match inside another match is counted once.
    ranges.sort(function (a, b) { return a[0] - b[0] || b[1] - a[1]; });
    var sum = 0, end = -Infinity;
    for (var j = 0; j < ranges.length; j++) {
      var r = ranges[j];
      if (r[1] <= end) continue;
      sum += r[1] - Math.max(r[0], end);
      end = r[1];
    }
    matchedEl.textContent = 'Matched: ' + (TOTAL > 0 ? 100 * sum / TOTAL : 0).toFixed(1) + '%';
    searchBtn.textContent = 'Reset Search';
    searchBtn.setAttribute('class', 'ctl active');
    syncUrl();
  }

  function resetSearch() {
    searching = null;
    for (var i = 0; i < frames.length; i++) frames[i].rect.setAttribute('fill', frames[i].fill);
    matchedEl.textContent = '';
    searchBtn.textContent = 'Search';
    searchBtn.setAttribute('class', 'ctl');
    syncUrl();
  }

  function promptSearch() {
    var term = window.prompt('Search for (regular expression):', searching === null ? '' : searching);
    if (term === null) return;
    if (term === '') resetSearch(); else search(term);
  }

  framesEl.addEventListener('click', function (e) {
    var f = frameOf(e.target);
    if (f) zoom(f);
  });
  framesEl.addEventListener('mouseover', function (e) {
    var f = frameOf(e.target);
    if (f) details.textContent = 'Function: ' + f.info;
  });
  framesEl.addEventListener('mouseout', function (e) {
    if (frameOf(e.target)) details.textContent = '';
  });
  unzoomBtn.addEventListener('click', unzoom);
  searchBtn.addEventListener('click', function () {
    if (searching !== null) resetSearch(); else promptSearch();
  });
  icBtn.addEventListener('click', function () {
    ignoreCase = !ignoreCase;
    icBtn.setAttribute('class', ignoreCase ? 'ctl active' : 'ctl');
    if (searching !== null) search(searching);
  });
  window.addEventListener('keydown', function (e) {
    if (e.key === 'F3' || ((e.ctrlKey || e.metaKey) && (e.key === 'f' || e.key === 'F'))) {
      e.preventDefault();
      promptSearch();
    } else if (e.key === 'Escape') {
      if (searching !== null) resetSearch();
      if (zoomed) unzoom();
    }
  });

  var params = null;
  try { params = new URLSearchParams(location.search); } catch (e) { params = null; }
  if (params) {
    var zx = params.get('x'), zy = params.get('y');
    if (zx !== null && zy !== null) {
      for (var k = 0; k < frames.length; k++) {
        if (frames[k].s === +zx && frames[k].d === +zy) { zoom(frames[k]); break; }
      }
    }
    var s = params.get('s');
    if (s) search(s);
  }
})();
`;
