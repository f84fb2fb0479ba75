/** `mixprof serve`: the collected profiles as a web page and an HTTP API. */
import { readFileSync, statSync } from 'node:fs';
import { Command, Option } from 'commander';
import { MixprofError } from '../../errors.js';
import { profileNow } from '../../serve/on-demand.js';
import { isLoopback, MAX_STACKS, startServer, warmStore } from '../../serve/server.js';
import { loopbackSocketOwner } from '../../serve/socket-owner.js';
import { onStopSignals } from '../../stop-signals.js';
import { ProfileStore } from '../../store/profile-store.js';
import { writeStderrLine } from '../../output/terminal-text.js';
import { nonNegativeInteger, positiveInteger } from '../options.js';
import { DEFAULT_DATA_DIR } from './collect.js';
import { keepResidentSmall } from '../../sample/long-running.js';

const EXAMPLES = `
Examples:
  mixprof serve --data-dir /var/lib/mixprof            # http://127.0.0.1:5555
  curl 'http://127.0.0.1:5555/api/profile?from=-15minutes&format=folded' | flamegraph.pl > last15m.svg
  curl 'http://127.0.0.1:5555/api/profile?from=-1h&process=gunicorn&format=pprof' -o hour.pb.gz
  curl 'http://127.0.0.1:5555/api/diff?base_from=-2h&base_until=-1h&from=-1h'
  sudo mixprof serve ... ; curl 'http://127.0.0.1:5555/profile?pid=1234&seconds=5'
  mixprof serve --host 0.0.0.0 --token-file /etc/mixprof/token   # others need the token
  curl -H "Authorization: Bearer $(cat token)" 'http://HOST:5555/api/profile?from=-1h'
  (in a browser: http://HOST:5555/?token=TOKEN once; the page keeps a cookie instead)

Without a token, serve answers only root and the user it runs as.

Times: now, -15minutes (or -15m, -2h, -7d), an ISO date, or epoch seconds.`;

interface ServeFlags {
  port: number;
  host: string;
  token?: string;
  tokenFile?: string;
  dataDir: string;
  maxStacks: number;
}

/** The token from --token-file or MIXPROF_TOKEN: never from the command line, which every local user can read in /proc. */
function tokenOf(flags: ServeFlags): string | null {
  if (flags.token !== undefined) {
    throw new MixprofError('BAD_OPTION', '--token would show the token to every local user (in /proc/PID/cmdline)', 'put it in a file only you can read and pass --token-file FILE, or set MIXPROF_TOKEN');
  }
  if (flags.tokenFile === undefined) return process.env['MIXPROF_TOKEN'] || null;
  const file = flags.tokenFile;
  let text: string;
  try {
    const stat = statSync(file);
    if (!stat.isFile()) throw new MixprofError('BAD_OPTION', `--token-file ${file}: not a regular file`, 'pass a file holding the token');
    if (stat.mode & 0o077) throw new MixprofError('BAD_OPTION', `--token-file ${file}: other users can read it`, `chmod 600 ${file}`);
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error instanceof MixprofError) throw error;
    throw new MixprofError('BAD_OPTION', `--token-file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`, 'pass a file holding the token');
  }
  const token = text.replace(/\r?\n$/, '');
  if (/[\s]/.test(token)) throw new MixprofError('BAD_OPTION', `--token-file ${file}: the token holds spaces or line breaks`, 'write the token alone on one line');
  return token;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the profiles `mixprof collect` stored: a web page (timeline, flame graph, diff) and an HTTP API')
    .option('--port <PORT>', 'port to listen on (0: any free one)', nonNegativeInteger('--port', 65535), 5555)
    .option('--host <ADDRESS>', 'address to listen on; any but a loopback one needs --token', '127.0.0.1')
    .option('--token-file <FILE>', 'file holding a token every request must carry (Authorization: Bearer TOKEN); default $MIXPROF_TOKEN')
    .addOption(new Option('--token <TOKEN>').hideHelp())
    .option('--data-dir <DIR>', 'the store `mixprof collect` writes', DEFAULT_DATA_DIR)
    .option('--max-stacks <N>', 'distinct stacks an answer is built from at most (a range holding more is refused with 422: narrow it)', positiveInteger('--max-stacks', 100_000_000), MAX_STACKS)
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ServeFlags) => {
      const token = tokenOf(flags);
      if (!isLoopback(flags.host) && !token) {
        throw new MixprofError('BAD_OPTION', `--host ${flags.host} would let anyone who reaches it read the profiles and start profiling`, 'pass --token-file FILE (or set MIXPROF_TOKEN), or listen on 127.0.0.1');
      }
      if (token !== null && token.length < 8) throw new MixprofError('BAD_OPTION', 'the token is too short', 'use at least 8 characters, e.g. $(openssl rand -hex 16)');
      const store = ProfileStore.open(flags.dataDir, { readonly: true });
      warmStore(store);
      // Request URLs and errors may hold anything: escaped for the terminal.
      const log = writeStderrLine;
      let server;
      try {
        server = await startServer({ store, host: flags.host, port: flags.port, token, profileNow: (pid, seconds) => profileNow(pid, seconds), socketOwner: loopbackSocketOwner, maxStacks: flags.maxStacks, log });
      } catch (error) {
        store.close();
        const code = (error as NodeJS.ErrnoException).code;
        throw new MixprofError('BAD_OPTION', `cannot listen on ${flags.host}:${flags.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : (error as Error).message}`, 'choose another --port or --host');
      }
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : flags.port;
      const shown = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
      log(`mixprof: serving ${store.file} on http://${shown}:${port}/${token ? ' (token required)' : ''}; Ctrl-C to stop`);
      // A long-running process: what start-up alone touched goes, and garbage does not pile up.
      const stopKeeping = keepResidentSmall();
      // The first signal closes the server; another one exits at once.
      let removeSignals = (): void => undefined;
      await new Promise<void>((resolve) => {
        removeSignals = onStopSignals((before) => {
          if (before > 0) process.exit(130);
          server.close(() => resolve());
          server.closeAllConnections();
        });
      });
      removeSignals();
      stopKeeping();
      store.close();
    });
}
