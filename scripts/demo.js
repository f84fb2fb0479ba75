// `npm run demo`: profiles the bundled demo service (scripts/demo-app.py) for
// five seconds, writes out/demo.svg (an interactive flame graph) and
// out/demo.folded, and prints the hottest stacks.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const fail = (message) => {
  console.error(`demo: ${message}`);
  process.exit(1);
};
if (process.getuid() !== 0) fail('run as root (sudo npm run demo): profiling loads BPF programs');

// A CPython 3.11 with debug info: pyenv's build has it inside; otherwise
// Debian's build with its separate debug file, unpacked privately.
let python = path.join(process.env.PYENV_ROOT ?? '/root/.pyenv', 'versions', '3.11.7', 'bin', 'python3.11');
const extra = [];
if (!existsSync(python)) {
  const r = spawnSync('bash', [path.join(root, 'test', 'fixtures', 'pythons.sh'), 'debian-3.11'], { encoding: 'utf8' });
  if (r.status !== 0) fail(`no CPython 3.11 with debug info: ${r.stderr.trim()}`);
  const [, exe, debug] = r.stdout.trim().split('\t');
  python = exe;
  extra.push('-d', debug);
}

const app = spawn(python, [path.join(root, 'scripts', 'demo-app.py')], { stdio: ['ignore', 'pipe', 'inherit'] });
process.on('exit', () => app.kill('SIGKILL'));
await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error('the demo app did not start')), 30_000);
  createInterface({ input: app.stdout }).on('line', (line) => {
    if (line.startsWith('READY')) {
      clearTimeout(timer);
      resolve();
    }
  });
}).catch((error) => fail(error.message));

mkdirSync(path.join(root, 'out'), { recursive: true });
const out = path.join(root, 'out', 'demo.folded');
const svg = path.join(root, 'out', 'demo.svg');
const mixprof = path.join(root, 'bin', 'mixprof');
console.log(`demo: profiling ${python} (PID ${app.pid}) for 5 seconds`);
const run = spawnSync(mixprof, ['sample', '-x', String(app.pid), '-t', '5', '-F', '199', '-o', out, ...extra], { stdio: 'inherit' });
app.kill('SIGKILL');
if (run.status !== 0) fail('mixprof sample failed (see above)');
const convert = spawnSync(mixprof, ['convert', out, '-F', '199', '--title', 'mixprof demo: scripts/demo-app.py', '-o', svg], { stdio: 'inherit' });
if (convert.status !== 0) fail('mixprof convert failed (see above)');

const lines = readFileSync(out, 'utf8').trim().split('\n');
const total = lines.reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
console.log(`\ndemo: wrote ${out} (${lines.length} distinct stacks, ${total} samples). Hottest stacks, leaf last:\n`);
for (const line of lines.slice(0, 8)) {
  const count = Number(line.slice(line.lastIndexOf(' ') + 1));
  const frames = line.slice(0, line.lastIndexOf(' ')).split(';');
  console.log(`${((100 * count) / total).toFixed(1).padStart(5)}%  ${frames.slice(-4).join(' > ')}`);
}
console.log(`\nOpen the flame graph in a browser: ${path.relative(process.cwd(), svg)} (click to zoom, Ctrl-F to search).`);
