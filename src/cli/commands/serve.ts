/** `mixprof serve`: the collected profiles as a web page and an HTTP API. */
import { Command } from 'commander';
import { MixprofError } from '../../errors.js';
import { profileNow } from '../../serve/on-demand.js';
import { isLoopback, startServer, warmStore } from '../../serve/server.js';
import { ProfileStore } from '../../store/profile-store.js';
import { nonNegativeInteger } from '../options.js';
import { DEFAULT_DATA_DIR } from './collect.js';

const EXAMPLES = `
Examples:
  mixprof serve --data-dir /var/lib/mixprof            # http://127.0.0.1:5555
  curl 'http://127.0.0.1:5555/api/profile?from=-15minutes&format=folded' | flamegraph.pl > last15m.svg
  curl 'http://127.0.0.1:5555/api/profile?from=-1h&process=gunicorn&format=pprof' -o hour.pb.gz
  curl 'http://127.0.0.1:5555/api/diff?base_from=-2h&base_until=-1h&from=-1h'
  sudo mixprof serve ... ; curl 'http://127.0.0.1:5555/profile?pid=1234&seconds=5'
  MIXPROF_TOKEN=secret mixprof serve --host 0.0.0.0    # others need the token

Times: now, -15minutes (or -15m, -2h, -7d), an ISO date, or epoch seconds.`;

interface ServeFlags {
  port: number;
  host: string;
  token?: string;
  dataDir: string;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the profiles `mixprof collect` stored: a web page (timeline, flame graph, diff) and an HTTP API')
    .option('--port <PORT>', 'port to listen on (0: any free one)', nonNegativeInteger('--port', 65535), 5555)
    .option('--host <ADDRESS>', 'address to listen on; any but a loopback one needs --token', '127.0.0.1')
    .option('--token <TOKEN>', 'token every request must carry (Authorization: Bearer TOKEN or ?token=); default $MIXPROF_TOKEN')
    .option('--data-dir <DIR>', 'the store `mixprof collect` writes', DEFAULT_DATA_DIR)
    .addHelpText('after', EXAMPLES)
    .action(async (flags: ServeFlags) => {
      const token = flags.token ?? process.env['MIXPROF_TOKEN'] ?? null;
      if (!isLoopback(flags.host) && !token) {
        throw new MixprofError('BAD_OPTION', `--host ${flags.host} would let anyone who reaches it read the profiles and start profiling`, 'pass --token TOKEN (or set MIXPROF_TOKEN), or listen on 127.0.0.1');
      }
      if (token !== null && token.length < 8) throw new MixprofError('BAD_OPTION', 'the token is too short', 'use at least 8 characters, e.g. $(openssl rand -hex 16)');
      const store = ProfileStore.open(flags.dataDir, { readonly: true });
      warmStore(store);
      const log = (line: string): void => void process.stderr.write(line + '\n');
      let server;
      try {
        server = await startServer({ store, host: flags.host, port: flags.port, token, profileNow: (pid, seconds) => profileNow(pid, seconds), log });
      } catch (error) {
        store.close();
        const code = (error as NodeJS.ErrnoException).code;
        throw new MixprofError('BAD_OPTION', `cannot listen on ${flags.host}:${flags.port}: ${code === 'EADDRINUSE' ? 'the port is in use' : (error as Error).message}`, 'choose another --port or --host');
      }
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : flags.port;
      const shown = flags.host.includes(':') ? `[${flags.host}]` : flags.host;
      log(`mixprof: serving ${store.file} on http://${shown}:${port}/${token ? ' (token required)' : ''}; Ctrl-C to stop`);
      await new Promise<void>((resolve) => {
        const stop = (): void => {
          server.close(() => resolve());
          server.closeAllConnections();
        };
        for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(s, stop);
      });
      store.close();
    });
}
