import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { formatSvg } from '../../src/output/svg.js';
import { readFolded } from '../../src/output/folded-reader.js';
import type { OutputProfile } from '../../src/output/output-profile.js';
import type { StackCount } from '../../src/profile/profile.js';
import type { Frame } from '../../src/symbolize/frame.js';
import { FIXTURES } from '../helpers/paths.js';
import { syntheticStacks } from '../helpers/synthetic-stacks.js';

// Total 2000: main is half of all samples, tiny_fn (1 sample, 0.05%) is too narrow to draw;
// the frames matching "read" are nested (read_input > read > ... > vfs_read): 15%.
const FOLDED = readFileSync(path.join(FIXTURES, 'flamegraph.folded'), 'utf8');

function profileOf(stacks: readonly StackCount[], extra: Partial<OutputProfile> = {}): OutputProfile {
  return { stacks, hz: 99, startTime: null, durationSeconds: null, title: 'python3 app.py (1234)', ...extra };
}

const FIXTURE = profileOf(readFolded(FOLDED, 'fixture'));

// A strict little XML parser: enough to prove the file well-formed and to read it back.
interface XmlElement {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: Array<XmlElement | string>;
}

function decodeEntities(text: string, where: number): string {
  return text.replace(/&([^;&<]*);?/g, (whole, body: string) => {
    if (!whole.endsWith(';')) throw new Error(`bare & near offset ${where}`);
    const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
    if (body in named) return named[body]!;
    const num = /^#(?:x([0-9a-fA-F]+)|([0-9]+))$/.exec(body);
    if (!num) throw new Error(`unknown entity &${body}; near offset ${where}`);
    return String.fromCodePoint(num[1] !== undefined ? parseInt(num[1], 16) : Number(num[2]));
  });
}

function parseXml(src: string): XmlElement {
  // eslint-disable-next-line no-control-regex -- characters XML 1.0 forbids
  const bad = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.exec(src);
  if (bad) throw new Error(`character U+${bad[0].charCodeAt(0).toString(16)} not allowed in XML at offset ${bad.index}`);
  let i = 0;
  if (src.startsWith('<?xml')) i = src.indexOf('?>') + 2;
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  const NAME = /[A-Za-z_:][-\w.:]*/y;
  const readName = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (!m) throw new Error(`name expected at offset ${i}`);
    i += m[0].length;
    return m[0];
  };
  const skipSpace = (): void => {
    while (i < src.length && /\s/.test(src[i]!)) i++;
  };
  while (i < src.length) {
    if (src.startsWith('<![CDATA[', i)) {
      const end = src.indexOf(']]>', i);
      if (end < 0 || stack.length === 0) throw new Error(`bad CDATA at offset ${i}`);
      stack.at(-1)!.children.push(src.slice(i + 9, end));
      i = end + 3;
    } else if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
    } else if (src.startsWith('</', i)) {
      i += 2;
      const name = readName();
      skipSpace();
      if (src[i] !== '>') throw new Error(`> expected at offset ${i}`);
      i++;
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`</${name}> closes <${open?.name ?? 'nothing'}> at offset ${i}`);
    } else if (src[i] === '<') {
      i++;
      const el: XmlElement = { name: readName(), attrs: {}, children: [] };
      if (stack.length > 0) stack.at(-1)!.children.push(el);
      else if (root === null) root = el;
      else throw new Error(`second root element <${el.name}>`);
      for (;;) {
        const before = i;
        skipSpace();
        if (src.startsWith('/>', i)) {
          i += 2;
          break;
        }
        if (src[i] === '>') {
          i++;
          stack.push(el);
          break;
        }
        if (i === before) throw new Error(`space expected before an attribute at offset ${i}`);
        const attr = readName();
        skipSpace();
        if (src[i] !== '=') throw new Error(`= expected at offset ${i}`);
        i++;
        skipSpace();
        const quote = src[i];
        if (quote !== '"' && quote !== "'") throw new Error(`quoted value expected at offset ${i}`);
        const end = src.indexOf(quote, i + 1);
        const raw = src.slice(i + 1, end);
        if (end < 0 || raw.includes('<')) throw new Error(`bad attribute value at offset ${i}`);
        if (attr in el.attrs) throw new Error(`duplicate attribute ${attr} at offset ${i}`);
        el.attrs[attr] = decodeEntities(raw, i);
        i = end + 1;
      }
    } else {
      let end = src.indexOf('<', i);
      if (end < 0) end = src.length;
      const raw = src.slice(i, end);
      if (raw.includes(']]>')) throw new Error(`]]> in text at offset ${i}`);
      if (stack.length === 0) {
        if (raw.trim() !== '') throw new Error(`text outside the root element at offset ${i}`);
      } else {
        stack.at(-1)!.children.push(decodeEntities(raw, i));
      }
      i = end;
    }
  }
  if (stack.length > 0) throw new Error(`<${stack.at(-1)!.name}> never closed`);
  if (root === null) throw new Error('no root element');
  return root;
}

function descendants(el: XmlElement, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (typeof c !== 'string') {
      out.push(c);
      descendants(c, out);
    }
  }
  return out;
}

function textOf(el: XmlElement): string {
  return el.children.map((c) => (typeof c === 'string' ? c : textOf(c))).join('');
}

function byId(root: XmlElement, id: string): XmlElement {
  const el = descendants(root).find((e) => e.attrs.id === id);
  assert.ok(el, `#${id} present`);
  return el;
}

interface DrawnFrame {
  readonly name: string;
  readonly title: string;
  readonly about: string;
  readonly s: number;
  readonly n: number;
  readonly d: number;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly fill: string;
  readonly label: string;
}

function drawnFrames(svg: string): DrawnFrame[] {
  const root = parseXml(svg);
  return byId(root, 'frames').children.filter((c): c is XmlElement => typeof c !== 'string').map((g) => {
    const [title, rect, text] = g.children.filter((c): c is XmlElement => typeof c !== 'string');
    assert.equal(title?.name, 'title');
    assert.equal(rect?.name, 'rect');
    assert.equal(text?.name, 'text');
    const [first = '', about = ''] = textOf(title).split('\n');
    const m = /^(.*) \([0-9,]+ samples?, [0-9.]+%\)$/.exec(first);
    assert.ok(m, `title "${first}" reads "name (N samples, P%)"`);
    return {
      name: m[1]!,
      title: first,
      about,
      s: Number(g.attrs['data-s']),
      n: Number(g.attrs['data-n']),
      d: Number(g.attrs['data-d']),
      x: Number(rect.attrs.x),
      y: Number(rect.attrs.y),
      width: Number(rect.attrs.width),
      fill: rect.attrs.fill!,
      label: textOf(text),
    };
  });
}

function frameNamed(frames: readonly DrawnFrame[], name: string): DrawnFrame {
  const f = frames.find((x) => x.name === name);
  assert.ok(f, `frame ${name} drawn`);
  return f;
}

function rgb(fill: string): [number, number, number] {
  const m = /^rgb\((\d+),(\d+),(\d+)\)$/.exec(fill);
  assert.ok(m, `fill ${fill} is rgb()`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

test('is well-formed XML: one <svg> root in the SVG namespace, the script in CDATA, nothing loaded from elsewhere', () => {
  const svg = formatSvg(FIXTURE);
  const root = parseXml(svg);
  assert.equal(root.name, 'svg');
  assert.equal(root.attrs.xmlns, 'http://www.w3.org/2000/svg');
  const scripts = descendants(root).filter((e) => e.name === 'script');
  assert.equal(scripts.length, 1);
  assert.match(svg, /<script><!\[CDATA\[[\s\S]*\]\]><\/script>/);
  assert.equal(svg.split(']]>').length, 2, 'the only ]]> ends the script');
  assert.doesNotMatch(svg, /\b(?:href|src)\s*=|@import|url\((?!#)/, 'no external resources');
});

test('the embedded script is valid JavaScript', () => {
  const svg = formatSvg(FIXTURE);
  const code = /<!\[CDATA\[([\s\S]*)\]\]>/.exec(svg)![1]!;
  assert.doesNotThrow(() => new Function(code), 'the script compiles');
  for (const control of ['Reset Zoom', 'Search', 'Matched: ', 'prompt(', 'Escape', "get('s')", 'ctrlKey']) {
    assert.ok(svg.includes(control), `the viewer has ${control}`);
  }
});

test('draws one box per merged path, the root at the bottom, siblings in name order', () => {
  const frames = drawnFrames(formatSvg(FIXTURE));
  assert.deepEqual(
    frames.map((f) => `${'  '.repeat(f.d)}${f.name}`),
    [
      'all',
      '  <module> (app.py:1)',
      '    main (app.py:10)',
      '      <listcomp> (app.py:12)',
      '      compute (app.py:20)',
      '        _PyEval_EvalFrameDefault',
      '          do_math',
      '      read_input (app.py:30)',
      '        read',
      '          entry_SYSCALL_64',
      '            vfs_read',
      '    serve (app.py:40)',
      '      socket_recv',
      '        __sys_recvfrom',
      '  [idle]',
    ],
  );
  const root = frameNamed(frames, 'all');
  for (const f of frames) {
    assert.equal(f.y, root.y - 16 * f.d, `${f.name} stacked ${f.d} rows above the root`);
  }
  // Children start at their parent's left edge, in name order, left to right.
  const main = frameNamed(frames, 'main (app.py:10)');
  assert.equal(frameNamed(frames, '<listcomp> (app.py:12)').x, main.x);
  assert.ok(frameNamed(frames, 'compute (app.py:20)').x < frameNamed(frames, 'read_input (app.py:30)').x);
});

test("each frame's title gives its samples, its share of all samples and its kind", () => {
  const frames = drawnFrames(formatSvg(FIXTURE));
  const expected: Array<[string, number, string]> = [
    ['all', 2000, 'all samples'],
    ['<module> (app.py:1)', 1600, 'Python · app.py'],
    ['main (app.py:10)', 1000, 'Python · app.py'],
    ['compute (app.py:20)', 600, 'Python · app.py'],
    ['_PyEval_EvalFrameDefault', 600, 'native'],
    ['read', 300, 'native'],
    ['vfs_read', 300, 'kernel'],
    ['<listcomp> (app.py:12)', 100, 'Python · app.py'],
    ['serve (app.py:40)', 600, 'Python · app.py'],
    ['[idle]', 400, 'marker'],
  ];
  for (const [name, n, about] of expected) {
    const f = frameNamed(frames, name);
    assert.equal(f.n, n);
    assert.equal(f.title, `${name} (${n.toLocaleString('en-US')} samples, ${((100 * n) / 2000).toFixed(2)}%)`);
    assert.equal(f.about, about);
  }
  const one = drawnFrames(formatSvg(profileOf(readFolded('a;b 1\na;c 999\n', 't'))));
  assert.equal(frameNamed(one, 'b').title, 'b (1 sample, 0.10%)');
});

test('widths and positions are proportional to samples', () => {
  const frames = drawnFrames(formatSvg(FIXTURE));
  const root = frameNamed(frames, 'all');
  assert.equal(root.x, 10);
  assert.equal(root.width, 1180);
  for (const f of frames) {
    assert.ok(Math.abs(f.width - (f.n / 2000) * 1180) < 0.01, `${f.name} width ${f.width}`);
    assert.ok(Math.abs(f.x - (10 + (f.s / 2000) * 1180)) < 0.01, `${f.name} x ${f.x}`);
  }
  assert.equal(frameNamed(frames, 'main (app.py:10)').width, 590, 'half the samples, half the root');
  const wide = drawnFrames(formatSvg(FIXTURE, { width: 620 }));
  assert.equal(frameNamed(wide, 'all').width, 600);
  assert.equal(frameNamed(wide, 'main (app.py:10)').width, 300);
});

test('frames under 0.1% of the samples are not drawn, but their samples count in their parents', () => {
  const svg = formatSvg(FIXTURE);
  const frames = drawnFrames(svg);
  assert.ok(!frames.some((f) => f.name === 'tiny_fn'));
  assert.ok(!svg.includes('tiny_fn'));
  assert.equal(frameNamed(frames, 'serve (app.py:40)').n, 600);
  // Exactly 0.1% is still drawn.
  const edge = drawnFrames(formatSvg(profileOf(readFolded('a;b 1\na;c 999\n', 't'))));
  assert.equal(frameNamed(edge, 'b').n, 1);
});

test('colours: Python green, native red to orange, kernel blue, markers grey, each shade fixed by the name', () => {
  const frames = drawnFrames(formatSvg(FIXTURE));
  const kinds: Record<string, string[]> = {
    python: ['<module> (app.py:1)', 'main (app.py:10)', 'compute (app.py:20)', 'read_input (app.py:30)', '<listcomp> (app.py:12)', 'serve (app.py:40)'],
    native: ['_PyEval_EvalFrameDefault', 'do_math', 'read', 'socket_recv'],
    kernel: ['entry_SYSCALL_64', 'vfs_read', '__sys_recvfrom'],
    marker: ['[idle]'],
  };
  for (const name of kinds.python!) {
    const [r, g, b] = rgb(frameNamed(frames, name).fill);
    assert.ok(g >= 170 && g > r + 40 && g > b + 40, `${name} green: ${r},${g},${b}`);
  }
  for (const name of kinds.native!) {
    const [r, g, b] = rgb(frameNamed(frames, name).fill);
    assert.ok(r >= 205 && r > g + 40 && b <= 55, `${name} red/orange: ${r},${g},${b}`);
  }
  for (const name of kinds.kernel!) {
    const [r, g, b] = rgb(frameNamed(frames, name).fill);
    assert.ok(b >= 190 && b > r + 40 && b > g + 40, `${name} blue: ${r},${g},${b}`);
  }
  for (const name of kinds.marker!) {
    const [r, g, b] = rgb(frameNamed(frames, name).fill);
    assert.ok(r === g && g === b, `${name} grey: ${r},${g},${b}`);
  }
  // Not every Python frame the same shade.
  assert.ok(new Set(kinds.python!.map((n) => frameNamed(frames, n).fill)).size > 1);
  // The legend lists the kinds present, in their colours.
  const root = parseXml(formatSvg(FIXTURE));
  assert.deepEqual(descendants(byId(root, 'legend')).filter((e) => e.name === 'text').map(textOf), ['Python', 'native', 'kernel', 'marker']);
  const onlyNative = parseXml(formatSvg(profileOf(readFolded('a;b 3\n', 't'))));
  assert.deepEqual(descendants(byId(onlyNative, 'legend')).filter((e) => e.name === 'text').map(textOf), ['native']);
});

test('output is deterministic, and a function keeps its colour across profiles and lines', () => {
  assert.equal(formatSvg(FIXTURE), formatSvg(profileOf(readFolded(FOLDED, 'again'))));
  const other = drawnFrames(formatSvg(profileOf(readFolded('x;do_math 5\nx;vfs_read_[k] 2\nmain (app.py:11) 3\n', 'other'))));
  const frames = drawnFrames(formatSvg(FIXTURE));
  assert.equal(frameNamed(other, 'do_math').fill, frameNamed(frames, 'do_math').fill);
  assert.equal(frameNamed(other, 'vfs_read').fill, frameNamed(frames, 'vfs_read').fill);
  assert.equal(frameNamed(other, 'main (app.py:11)').fill, frameNamed(frames, 'main (app.py:10)').fill, 'same Python function, another line');
});

test('names with XML special characters or control characters are escaped and read back intact', () => {
  const names = ['<module> (app.py:1)', 'operator<<(std::ostream&, int)', `say "hi" 'there'`, 'x]]>y', 'tab\there', 'bell\u0007'];
  const stacks = [{ frames: names.map((name): Frame => ({ kind: 'native', name })), count: 10 }];
  const svg = formatSvg(profileOf(stacks, { title: 'a <b> & "c"' }));
  const frames = drawnFrames(svg);
  for (const name of names.slice(0, 4)) assert.ok(frames.some((f) => f.name === name), `${name} in a title`);
  assert.ok(frames.some((f) => f.name === 'tab here'), 'a tab becomes a space');
  assert.ok(frames.some((f) => f.name === 'bell\ufffd'), 'a control character becomes U+FFFD');
  assert.ok(!svg.includes('<module>') && !svg.includes('operator<<') && !svg.includes('"hi"'));
  assert.ok(svg.includes('&lt;module&gt; (app.py:1)'));
  assert.equal(textOf(byId(parseXml(svg), 'title')), 'a <b> & "c"');
});

test('labels are cut with ".." to fit their box, and left out of boxes too narrow for three characters', () => {
  const long = 'a_rather_long_function_name_that_cannot_fit_in_a_small_box';
  const svg = formatSvg(profileOf(readFolded(`${long} 50\nshort 950\nnarrow 2\n`, 't')));
  const frames = drawnFrames(svg);
  const cut = frameNamed(frames, long);
  assert.ok(cut.label.endsWith('..'), cut.label);
  assert.ok(long.startsWith(cut.label.slice(0, -2)));
  assert.ok(cut.label.length * 12 * 0.59 <= cut.width - 6, `"${cut.label}" fits ${cut.width}px`);
  assert.equal(frameNamed(frames, 'short').label, 'short');
  assert.equal(frameNamed(frames, 'narrow').label, '', 'a 2px box has no label');
});

test('title and subtitle: the profile title, total samples, hz, duration and start when known', () => {
  const known = parseXml(formatSvg({ ...FIXTURE, durationSeconds: 20.2, startTime: Date.UTC(2024, 0, 2, 3, 4, 5) }));
  assert.equal(textOf(byId(known, 'title')), 'python3 app.py (1234)');
  assert.equal(textOf(byId(known, 'subtitle')), '2,000 samples · 99 Hz · 20.2 s · started 2024-01-02 03:04:05 UTC');
  const unknown = parseXml(formatSvg({ ...FIXTURE, hz: 0 }));
  assert.equal(textOf(byId(unknown, 'subtitle')), '2,000 samples');
  const wall = parseXml(formatSvg({ ...FIXTURE, time: 'wall' }));
  assert.equal(textOf(byId(wall, 'subtitle')), '2,000 samples · 99 Hz · wall clock: every thread, on or off CPU');
});

test('a profile without samples is still a valid SVG, saying so', () => {
  const root = parseXml(formatSvg(profileOf([])));
  assert.equal(textOf(byId(root, 'empty')), 'No samples');
  assert.equal(byId(root, 'frames').children.filter((c) => typeof c !== 'string').length, 0);
});

// How fast it is written is the benchmark's to measure (bench: SVG of 100,000 stacks), not a timed test's.
test('100,000 distinct stacks: only the frames wide enough to see are drawn, every sample counted', () => {
  const stacks = syntheticStacks(100_000);
  const svg = formatSvg(profileOf(stacks));
  const frames = drawnFrames(svg);
  const total = frameNamed(frames, 'all').n;
  assert.equal(total, stacks.reduce((sum, s) => sum + s.count, 0));
  assert.ok(frames.length > 100 && frames.length < 100_000, `${frames.length} frames drawn`);
  assert.ok(frames.every((f) => f.n >= total * 0.001));
});

test('a differential graph: widths from the profile, red where a frame\'s share grew since the baseline, blue where it shrank, grey where it held', () => {
  const f = (kind: Frame['kind'], name: string): Frame => ({ kind, name });
  const main = f('python', 'main (app.py:1)');
  const handle = f('python', 'handle (app.py:5)');
  const render = f('python', 'render (app.py:9)');
  const memcpy = f('native', 'memcpy');
  const send = f('kernel', 'tcp_sendmsg');
  // Baseline: handle 80%, render 20%. Now (a longer range, 10x the samples): handle 50%, render 50%.
  const base: StackCount[] = [
    { frames: [main, handle, memcpy], count: 80 },
    { frames: [main, render, send], count: 20 },
  ];
  const now: StackCount[] = [
    { frames: [main, handle, memcpy], count: 500 },
    { frames: [main, render, send], count: 500 },
  ];
  const frames = drawnFrames(formatSvg(profileOf(now), { base }));
  const byName = (name: string): DrawnFrame => frameNamed(frames, name);
  assert.equal(byName('handle (app.py:5)').n, 500);
  assert.equal(byName('render (app.py:9)').width, byName('handle (app.py:5)').width);
  const [hr, , hb] = rgb(byName('handle (app.py:5)').fill);
  const [rr, , rb] = rgb(byName('render (app.py:9)').fill);
  assert.ok(hb > hr, `handle shrank: blue ${byName('handle (app.py:5)').fill}`);
  assert.ok(rr > rb, `render grew: red ${byName('render (app.py:9)').fill}`);
  // main held its 100%: grey.
  const [mr, mg, mb] = rgb(byName('main (app.py:1)').fill);
  assert.ok(mr === mg && mg === mb, byName('main (app.py:1)').fill);
  assert.match(byName('render (app.py:9)').about, /^baseline 20\.00%, \+30\.00 points · Python/);
  assert.match(byName('tcp_sendmsg').about, /^baseline 20\.00%, \+30\.00 points · kernel/);
  assert.match(byName('memcpy').about, /^baseline 80\.00%, −30\.00 points · native/);

  // A stack only in the baseline takes no width; one only in the profile is the reddest.
  const gone = formatSvg(profileOf([{ frames: [main, render], count: 10 }]), { base: [{ frames: [main, handle], count: 10 }] });
  const drawn = drawnFrames(gone);
  assert.deepEqual(drawn.map((d) => d.name).sort(), ['all', 'main (app.py:1)', 'render (app.py:9)']);
  assert.match(frameNamed(drawn, 'render (app.py:9)').about, /^baseline 0\.00%, \+100\.00 points/);
  assert.match(gone, /colour: change in share since the baseline \(10 samples\), largest 100\.00 points/);
  assert.match(gone, />grew<\/text>.*>shrank<\/text>/s);
});
