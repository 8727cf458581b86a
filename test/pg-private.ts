import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where the PostgreSQL server programs live. (Default: PostgreSQL 15's Debian folder, or $WAYMARK_TEST_PG_BIN) */
export const PG_BIN = process.env.WAYMARK_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** Why private clusters cannot run here, or false when they can (the programs exist). */
export const privateClusterUnavailable: string | false = existsSync(join(PG_BIN, 'initdb'))
  ? false
  : `no PostgreSQL server programs in ${PG_BIN}`;

/**
 * A throwaway PostgreSQL server of the test's own, in a temp folder, on a free port of 127.0.0.1 with
 * trust authentication: tests stop and restart it without touching the shared server other tests use.
 */
export interface PrivateCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  port: number;
  /** Shuts the server down (fast: open connections are terminated); nothing listens until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops and starts the server again (fast mode). */
  restart(): Promise<void>;
  /** Stops the server and removes its folder. */
  destroy(): Promise<void>;
}

/** Creates and starts a private cluster (initdb as the postgres OS user when running as root). */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'waymark-pg-'));
  const data = join(dir, 'data');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  chmodSync(dir, 0o700);
  const pg = (program: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(PG_BIN, program), ...args])
      : run(join(PG_BIN, program), args);
  const port = await freePort();
  await pg('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8']);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50`;
  const ctl = (...args: string[]) =>
    pg('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', ...args]);
  await ctl('-o', options, 'start');
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: async () => void (await ctl('-m', 'fast', 'stop')),
    start: async () => void (await ctl('-o', options, 'start')),
    restart: async () => void (await ctl('-m', 'fast', '-o', options, 'restart')),
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await ctl('-m', 'immediate', 'stop').catch(() => {}); // already stopped is fine
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A TCP port nobody listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
