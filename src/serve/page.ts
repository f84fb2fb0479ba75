/**
 * The web page of `mixprof serve`: a timeline of samples to brush a range
 * on, the flame graph of that range (the SVG mixprof writes, with its zoom
 * and search), filters, and a diff view of two ranges. One self-contained
 * page, no build step; it only calls the API. Names from the profiled
 * processes are set as text, never as markup.
 */

const STYLE = `
body { font: 14px system-ui, sans-serif; margin: 0; color: #222; }
header { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center; padding: 8px 12px; background: #f4f4f4; border-bottom: 1px solid #ddd; }
header h1 { font-size: 16px; margin: 0 8px 0 0; }
label { display: inline-flex; gap: 4px; align-items: center; }
input[type=text] { width: 11em; }
#timeline { display: block; width: 100%; height: 90px; background: #fff; border-bottom: 1px solid #ddd; cursor: crosshair; user-select: none; }
#timeline .bar { fill: #6a8fc8; }
#timeline .brush { fill: rgba(255, 170, 0, 0.25); stroke: #e08a00; }
#timeline .base { fill: rgba(60, 160, 60, 0.2); stroke: #3a3; }
#status { padding: 4px 12px; color: #555; }
#flame { width: 100%; height: calc(100vh - 190px); border: 0; }
#diff { display: none; padding: 8px 12px; }
#diff table { border-collapse: collapse; font: 12px ui-monospace, monospace; }
#diff td, #diff th { padding: 2px 8px; border-bottom: 1px solid #eee; text-align: right; }
#diff td.stack { text-align: left; max-width: 70vw; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.grew { color: #b22; } .shrank { color: #22b; }
`;

const SCRIPT = `
const $ = (id) => document.getElementById(id);
const state = { from: Date.now() - 3600e3, until: Date.now(), brush: null, base: null, diff: false };

function params(extra) {
  const p = new URLSearchParams();
  const [from, until] = state.brush ?? [state.from, state.until];
  p.set('from', String(Math.floor(from))); p.set('until', String(Math.ceil(until)));
  if ($('process').value) p.set('process', $('process').value);
  if ($('pid').value) p.set('pid', $('pid').value);
  if ($('thread').value) p.set('thread', $('thread').value);
  const kinds = ['python', 'native', 'kernel'].filter((k) => $('kind-' + k).checked);
  if (kinds.length < 3) p.set('kinds', kinds.join(','));
  if ($('threads').checked) p.set('threads', '1');
  for (const [k, v] of Object.entries(extra ?? {})) p.set(k, v);
  return p;
}

/** The range typed in, not the selection within it. */
const wholeRange = () => ({ from: String(Math.floor(state.from)), until: String(Math.ceil(state.until)) });

async function getJson(path, extra) {
  const r = await fetch(path + '?' + params(extra));
  if (!r.ok) throw new Error(await r.text());
  return r.json();
}

function rangeFromInputs() {
  const now = Date.now();
  const parse = (text) => {
    text = text.trim();
    if (text === 'now' || text === '') return now;
    const m = /^-(\\d+(?:\\.\\d+)?)\\s*(s|m|min|minutes?|h|hours?|d|days?)$/.exec(text);
    if (m) return now - Number(m[1]) * ({ s: 1e3, m: 6e4, min: 6e4, minute: 6e4, minutes: 6e4, h: 36e5, hour: 36e5, hours: 36e5, d: 864e5, day: 864e5, days: 864e5 })[m[2]];
    const t = Date.parse(text);
    return Number.isNaN(t) ? null : t;
  };
  const from = parse($('from').value), until = parse($('until').value);
  if (from === null || until === null || until <= from) { $('status').textContent = 'from and until: now, -15m, -2h, -1d or a date'; return false; }
  state.from = from; state.until = until; state.brush = null; state.base = null;
  return true;
}

// Refreshes overlap (the first one at load, a click while it runs): only the
// latest one draws, so a slow earlier answer never replaces a newer view.
let latestRefresh = 0;
const superseded = (refresh) => refresh !== latestRefresh;

async function drawTimeline(refresh) {
  const svg = $('timeline');
  const width = svg.clientWidth || 800, height = 90;
  const steps = Math.max(10, Math.min(400, Math.floor(width / 4)));
  const t = await getJson('api/timeline', { steps: String(steps), ...wholeRange() });
  if (superseded(refresh)) return;
  const max = Math.max(1, ...t.counts);
  const w = width / t.counts.length;
  svg.replaceChildren();
  svg.setAttribute('viewBox', '0 0 ' + width + ' ' + height);
  t.counts.forEach((c, i) => {
    if (!c) return;
    const h = (c / max) * (height - 14);
    const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    r.setAttribute('class', 'bar'); r.setAttribute('x', String(i * w)); r.setAttribute('width', String(Math.max(1, w - 1)));
    r.setAttribute('y', String(height - h)); r.setAttribute('height', String(h));
    const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
    title.textContent = new Date(t.from + i * t.stepMs).toLocaleString() + ': ' + c + ' samples';
    r.appendChild(title); svg.appendChild(r);
  });
  const label = document.createElementNS('http://www.w3.org/2000/svg', 'text');
  label.setAttribute('x', '4'); label.setAttribute('y', '12'); label.setAttribute('font-size', '11');
  label.textContent = new Date(state.from).toLocaleString() + ' - ' + new Date(state.until).toLocaleString() + ' (drag to select; shift-drag: baseline for the diff)';
  svg.appendChild(label);
  for (const [range, cls] of [[state.base, 'base'], [state.brush, 'brush']]) {
    if (!range) continue;
    const x0 = ((range[0] - state.from) / (state.until - state.from)) * width, x1 = ((range[1] - state.from) / (state.until - state.from)) * width;
    const r = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
    r.setAttribute('class', cls); r.setAttribute('x', String(x0)); r.setAttribute('width', String(Math.max(1, x1 - x0)));
    r.setAttribute('y', '0'); r.setAttribute('height', String(height)); r.setAttribute('data-range', cls);
    svg.appendChild(r);
  }
}

function brushing() {
  const svg = $('timeline');
  let start = null, shift = false;
  const time = (ev) => { const b = svg.getBoundingClientRect(); return state.from + ((ev.clientX - b.left) / b.width) * (state.until - state.from); };
  svg.addEventListener('mousedown', (ev) => { start = time(ev); shift = ev.shiftKey; });
  window.addEventListener('mouseup', (ev) => {
    if (start === null) return;
    const end = time(ev);
    const range = [Math.min(start, end), Math.max(start, end)];
    start = null;
    if (range[1] - range[0] < (state.until - state.from) / 500) return;
    if (shift) state.base = range; else state.brush = range;
    refresh(false);
  });
}

async function loadFilters(refresh) {
  const procs = await getJson('api/processes', wholeRange());
  if (superseded(refresh)) return;
  const select = $('process'), keep = select.value;
  select.replaceChildren(new Option('all processes', ''));
  for (const name of [...new Set(procs.map((p) => p.name))]) select.appendChild(new Option(name, name));
  select.value = keep;
  const threads = await getJson('api/threads', wholeRange());
  if (superseded(refresh)) return;
  const tsel = $('thread'), tkeep = tsel.value;
  tsel.replaceChildren(new Option('all threads', ''));
  for (const t of threads.slice(0, 500)) tsel.appendChild(new Option(t.label + ' (' + t.samples + ')', t.label));
  tsel.value = tkeep;
}

async function showFlame(refresh) {
  $('flame').style.display = ''; $('diff').style.display = 'none';
  const p = params({ format: 'svg' });
  $('flame').src = 'api/profile?' + p;
  const info = await getJson('api/profile', { format: 'json' });
  if (superseded(refresh)) return;
  const [from, until] = state.brush ?? [state.from, state.until];
  $('status').textContent = info.samples + ' samples in ' + info.profiles + ' profiles, ' + new Date(from).toLocaleString() + ' - ' + new Date(until).toLocaleString();
}

async function showDiff(refresh) {
  if (!state.base || !state.brush) { $('status').textContent = 'select a range, and a baseline with shift-drag, to compare them'; return; }
  $('flame').style.display = ''; $('diff').style.display = 'block';
  const baseline = { base_from: String(Math.floor(state.base[0])), base_until: String(Math.ceil(state.base[1])) };
  $('flame').src = 'api/diff?' + params({ format: 'svg', ...baseline });
  const rows = await getJson('api/diff', { format: 'json', ...baseline });
  if (superseded(refresh)) return;
  const table = document.createElement('table');
  const head = table.insertRow();
  for (const h of ['change', 'baseline', 'selection', 'stack (root first)']) { const th = document.createElement('th'); th.textContent = h; head.appendChild(th); }
  for (const d of rows.filter((d) => Math.abs(d.delta) >= 0.001).slice(0, 300)) {
    const tr = table.insertRow();
    tr.className = d.delta > 0 ? 'grew' : 'shrank';
    const cells = [(d.delta > 0 ? '+' : '') + (100 * d.delta).toFixed(1) + '%', String(d.base), String(d.comparison), d.key];
    cells.forEach((text, i) => { const td = tr.insertCell(); td.textContent = text; if (i === 3) { td.className = 'stack'; td.title = text; } });
  }
  $('diff').replaceChildren(table);
  $('status').textContent = 'the selection, coloured by how the share of each frame changed since the baseline (red grew, blue shrank); below, the stacks that changed most';
}

// The page's state lives in the URL's fragment, so that a link shows the same
// view: the range as typed ("-1h"), or in ms once a selection pins it down.
let fromLink = new URLSearchParams(location.hash.slice(1));
const msRange = (text) => { const m = /^(\\d+)_(\\d+)$/.exec(text ?? ''); return m ? [Number(m[1]), Number(m[2])] : null; };

function saveState() {
  const h = new URLSearchParams();
  const pinned = state.brush || state.base;
  h.set('from', pinned ? String(Math.floor(state.from)) : $('from').value);
  h.set('until', pinned ? String(Math.ceil(state.until)) : $('until').value);
  if (state.brush) h.set('sel', [Math.floor(state.brush[0]), Math.ceil(state.brush[1])].join('_'));
  if (state.base) h.set('base', [Math.floor(state.base[0]), Math.ceil(state.base[1])].join('_'));
  if (state.diff) h.set('view', 'diff');
  for (const id of ['process', 'pid', 'thread']) if ($(id).value) h.set(id, $(id).value);
  const kinds = ['python', 'native', 'kernel'].filter((k) => $('kind-' + k).checked);
  if (kinds.length < 3) h.set('kinds', kinds.join(','));
  if ($('threads').checked) h.set('threads', '1');
  history.replaceState(null, '', '#' + h);
}

function inputsFromLink() {
  const h = fromLink;
  for (const id of ['from', 'until', 'pid']) if (h.get(id) !== null) $(id).value = /^\\d{12,}$/.test(h.get(id)) && id !== 'pid' ? new Date(Number(h.get(id))).toISOString() : h.get(id);
  if (h.get('kinds') !== null) for (const k of ['python', 'native', 'kernel']) $('kind-' + k).checked = h.get('kinds').split(',').includes(k);
  $('threads').checked = h.get('threads') === '1';
  state.diff = h.get('view') === 'diff';
}

function selectionFromLink() {
  const h = fromLink;
  fromLink = null;
  state.brush = msRange(h.get('sel'));
  state.base = msRange(h.get('base'));
  for (const id of ['process', 'thread']) if (h.get(id) !== null) $(id).value = h.get(id);
}

function zoomTo(from, until) {
  $('from').value = new Date(from).toISOString();
  $('until').value = new Date(until).toISOString();
  refresh(true);
}

async function refresh(full) {
  const mine = ++latestRefresh;
  try {
    if (full) {
      if (!rangeFromInputs()) return;
      await loadFilters(mine);
      if (superseded(mine)) return;
      if (fromLink) selectionFromLink();
    }
    await drawTimeline(mine);
    if (superseded(mine)) return;
    if (state.diff) await showDiff(mine); else await showFlame(mine);
    if (superseded(mine)) return;
    saveState();
  } catch (e) { if (!superseded(mine)) $('status').textContent = String(e.message ?? e); }
}

for (const id of ['process', 'thread', 'pid', 'kind-python', 'kind-native', 'kind-kernel', 'threads']) $(id).addEventListener('change', () => refresh(false));
$('apply').addEventListener('click', () => refresh(true));
$('view-flame').addEventListener('click', () => { state.diff = false; refresh(false); });
$('view-diff').addEventListener('click', () => { state.diff = true; refresh(false); });
for (const b of document.querySelectorAll('[data-ago]')) b.addEventListener('click', () => { $('from').value = '-' + b.dataset.ago; $('until').value = 'now'; refresh(true); });
$('zoom-in').addEventListener('click', () => { if (state.brush) zoomTo(state.brush[0], state.brush[1]); else $('status').textContent = 'drag on the timeline to select the range to zoom to'; });
$('zoom-out').addEventListener('click', () => { const span = state.until - state.from; zoomTo(state.from - span / 2, Math.min(Date.now(), state.until + span / 2)); });
brushing();
inputsFromLink();
refresh(true);
`;

export function pageHtml(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mixprof</title><style>${STYLE}</style></head>
<body>
<header>
  <h1>mixprof</h1>
  <label>from <input id="from" type="text" value="-1h"></label>
  <label>until <input id="until" type="text" value="now"></label>
  <button id="apply">Show</button>
  <span>${['15m', '1h', '6h', '1d', '7d'].map((a) => `<button data-ago="${a}">${a}</button>`).join(' ')}</span>
  <select id="process"><option value="">all processes</option></select>
  <label>PID <input id="pid" type="text" size="7" style="width:5em"></label>
  <select id="thread"><option value="">all threads</option></select>
  <label><input id="kind-python" type="checkbox" checked>Python</label>
  <label><input id="kind-native" type="checkbox" checked>native</label>
  <label><input id="kind-kernel" type="checkbox" checked>kernel</label>
  <label><input id="threads" type="checkbox">per thread</label>
  <button id="zoom-in" title="show only the selected range">Zoom to selection</button>
  <button id="zoom-out" title="show twice the range">Zoom out</button>
  <button id="view-flame">Flame graph</button>
  <button id="view-diff">Diff</button>
</header>
<svg id="timeline" xmlns="http://www.w3.org/2000/svg"></svg>
<div id="status">loading</div>
<iframe id="flame" title="flame graph"></iframe>
<div id="diff"></div>
<script>${SCRIPT}</script>
</body></html>
`;
}
