// Bundles the compiled program (dist/src) into one file, dist/mixprof.js,
// which bin/mixprof.js loads. Node's ES module loader resolves, reads and
// links each of the program's ~130 modules on its own: 90 ms of CPU at
// every start, against under 40 ms for one file (esbuild). The modules stay
// in dist/src for the tests; bin/mixprof.js falls back to them when the
// bundle is missing or older than they are.
import { build } from 'esbuild';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');

await build({
  entryPoints: [path.join(root, 'dist/src/cli/main.js')],
  outfile: path.join(root, 'dist/mixprof.js'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Loaded with createRequire where needed: a native module, and what the
  // addon's loader finds at run time.
  external: ['better-sqlite3', 'node-gyp-build'],
  plugins: [
    {
      // One module, not two copies: bin/mixprof.js loads it before the
      // program, and what it read of the priority mixprof was started with
      // must be what the program sees.
      name: 'startup-priority',
      setup(builder) {
        builder.onResolve({ filter: /\/startup-priority\.js$/ }, () => ({ path: './src/startup-priority.js', external: true }));
      },
    },
  ],
  // The CommonJS dependencies (commander) require node's built-in modules.
  banner: { js: "import { createRequire as mixprofCreateRequire } from 'node:module';\nconst require = mixprofCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
