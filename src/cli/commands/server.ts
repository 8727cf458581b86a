import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import type { Command } from 'commander';
import { WaymarkError, type Json } from '../../index.js';
import { parseDuration } from '../../core/duration.js';
import { openEngineOnStore } from '../../engine.js';
import { openStore, printableLocation } from '../../store/open.js';
import { compileWorkflowDef, declarativeSupport } from '../../declarative/compile.js';
import { parseTaskDefs, parseWorkflowDef } from '../../declarative/definitions.js';
import { resolveLimits, type DeclarativeOptions } from '../../declarative/limits.js';
import { isLoopbackHost, openHostRefusal, startServer, type RunningServer } from '../../server/server.js';
import { DB_HELP, parsePositiveInt, readJsonItems, storeLocation } from '../args.js';
import { UsageError } from '../errors.js';
import { loadWorkflowModule } from '../load-workflows.js';
import { waitForStop } from '../stop-signal.js';
import { processLogger } from '../logger.js';
import {
  AMQP_HELP,
  DEV_HELP,
  NATS_HELP,
  parseEventFlags,
  parseRetention,
  parseWorkerId,
  RETENTION_HELP,
  WORKER_ID_HELP,
} from '../worker-flags.js';

interface ServerFlags {
  db?: string;
  host?: string;
  port?: string;
  workflows?: string;
  examples?: boolean;
  workerId?: string;
  retentionDays?: string;
  dev?: boolean;
  worker?: boolean;
  concurrency?: string;
  logLevel?: string;
  definitions?: string[];
  taskDefinitions?: string[];
  httpAllow?: string[];
  auth?: boolean;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  tokenTtl?: string;
  nats?: string;
  amqp?: string;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** `waymark server`: the HTTP API over an engine that also executes runs, until SIGTERM or SIGINT. */
export function serverCommand(program: Command): void {
  program
    .command('server')
    .description(
      'serve the HTTP API (GET /openapi.json describes it) ' +
        'and execute runs until stopped; SIGTERM or Ctrl-C shuts down gracefully',
    )
    .option('--db <store>', DB_HELP)
    .option('--host <host>', 'interface to listen on (default: 127.0.0.1)')
    .option('--port <n>', 'port to listen on; 0 picks a free one (default: 8080)')
    .option(
      '--workflows <module>',
      'module exporting the code workflows (and migrations) to serve (default: none: declarative ones only)',
    )
    .option('--examples', 'serve the built-in example workflows (order, onboarding, report, rollout) as well')
    .option('--worker-id <id>', WORKER_ID_HELP)
    .option('--retention-days <n>', RETENTION_HELP)
    .option('--dev', DEV_HELP)
    .option('--no-worker', 'serve the API only: runs are executed by other workers (e.g. `waymark dev`)')
    .option('--concurrency <n>', 'runs executed at once (default: 100)')
    .option(
      '--definitions <files...>',
      'declarative workflow definition files (JSON, one or an array each) registered at start; unchanged ones are kept',
    )
    .option('--task-definitions <files...>', 'task definition files (JSON, one or an array each) saved at start')
    .option(
      '--http-allow <entries...>',
      'hosts (name, name:port), addresses ([v6]:port) and ranges (10.0.0.0/8) HTTP tasks may ' +
        "reach although they are loopback, private, link-local or this server's (default: none)",
    )
    .option(
      '--log-level <level>',
      `level of the JSON log lines on stderr (engine events; each request at debug): ${LOG_LEVELS.join(', ')} ` +
        '(default: info)',
    )
    .option(
      '--auth',
      'require an API key (`waymark keys create`) or a token from POST /api/token on every route but ' +
        'GET /health and GET /ready; each route allows the roles it needs',
    )
    .option('--nats <url>', NATS_HELP)
    .option('--amqp <url>', AMQP_HELP)
    .option('--token-ttl <duration>', "with --auth: how long a token from POST /api/token is accepted (default: '1h')")
    .option('--tls-cert <file>', 'serve HTTPS with this certificate (PEM; give --tls-key too)')
    .option('--tls-key <file>', "the certificate's private key (PEM)")
    .option(
      '--insecure',
      'listen on a non-loopback --host without --auth: anyone who reaches the port may do everything',
    )
    .action(async (flags: ServerFlags) => {
      // Everything the user typed is checked before the store is touched.
      const port = parsePort(flags.port);
      const host = flags.host ?? '127.0.0.1';
      if (!flags.auth && !flags.insecure && !isLoopbackHost(host))
        throw new UsageError(openHostRefusal(host, '--auth', '--insecure'));
      const tokenTtlMs = parseTokenTtl(flags);
      const tls = readTls(flags);
      const concurrency = parsePositiveInt(flags.concurrency, '--concurrency');
      const level = flags.logLevel ?? 'info';
      if (!LOG_LEVELS.includes(level))
        throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got '${level}'`);
      const workerId = parseWorkerId(flags.workerId);
      const retention = parseRetention(flags.retentionDays);
      const declarativeOptions = parseDeclarativeOptions(flags);
      const events = parseEventFlags(flags);
      const location = storeLocation(flags);
      const module = await loadWorkflowModule(flags.workflows, { examples: flags.examples });
      const declarative = await declarativeSupport(declarativeOptions);
      const [definitions, taskDefinitions] = [
        readJsonItems(flags.definitions, '--definitions'),
        readJsonItems(flags.taskDefinitions, '--task-definitions'),
      ];
      const compiled = definitions.map((def) => compileWorkflowDef(parseWorkflowDef(def), declarative.env));
      const tasks = parseTaskDefs(taskDefinitions).map((def) => ({
        name: def.name,
        definition: def as unknown as Json,
      }));

      const logger = processLogger(level);
      // The server opens the store itself: its keys and audit trail are read beside the engine's runs.
      const store = await openStore(location);
      const engine = await openEngineOnStore(store, {
        workflows: module.workflows,
        workerId,
        worker: flags.worker !== false,
        retention,
        devMode: flags.dev === true,
        concurrency,
        compile: declarative.compile,
        logger,
        // the stored event handlers run on servers that execute runs
        events: { ...events, consumeHandlers: flags.worker !== false },
      }).catch(async (error: unknown) => {
        await store.close();
        throw error;
      });
      declarative.bind(engine);
      let server: RunningServer;
      try {
        await engine.definitions.saveTaskDefinitions(tasks);
        await engine.definitions.register(compiled);
        server = await startServer({
          engine,
          host,
          port,
          migrations: module.migrations,
          declarative,
          logger,
          ...(flags.auth ? { auth: { store, tokenTtlMs } } : {}),
          ...(tls ? { tls } : {}),
          insecure: flags.insecure === true,
        });
      } catch (error) {
        await engine.close();
        await store.close();
        throw error;
      }
      const stop = waitForStop();
      const served =
        [...module.workflows, ...compiled].map((w) => `${w.name} v${w.version}`).join(', ') ||
        'no workflows given (declarative ones in the store or registered over the API are served)';
      const shown = printableLocation(location);
      process.stdout.write(`waymark server: listening on ${server.url} (dashboard: ${server.url}/)\n`);
      process.stdout.write(
        flags.auth
          ? 'waymark server: auth required: API keys (`waymark keys create`) or tokens from POST /api/token\n'
          : isLoopbackHost(host)
            ? 'waymark server: no auth (give --auth to require API keys)\n'
            : `waymark server: WARNING: no auth on ${host} (--insecure): ` +
              'anyone who reaches the port may do everything\n',
      );
      process.stdout.write(
        flags.worker === false
          ? `waymark server: API only (no worker) on ${shown} (Ctrl-C or SIGTERM to stop)\n`
          : `waymark server: worker ${engine.workerId} serving ${served} on ${shown} (Ctrl-C or SIGTERM to stop)\n`,
      );
      const signal = await stop;
      process.stdout.write(
        `waymark server: ${signal}: closing connections, finishing in-flight commits and releasing leases\n`,
      );
      try {
        await server.close();
      } finally {
        try {
          await engine.close();
        } finally {
          await store.close();
        }
      }
      process.stdout.write('waymark server: stopped\n');
    });
}

/** The declarative options the flags give, checked (a bad allow-list entry is a usage error). */
function parseDeclarativeOptions(flags: ServerFlags): DeclarativeOptions {
  const allow = (flags.httpAllow ?? [])
    .flatMap((entry) => entry.split(','))
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const options: DeclarativeOptions = { http: { allow } };
  try {
    resolveLimits(options);
  } catch (error) {
    if (error instanceof WaymarkError) throw new UsageError(`--http-allow: ${error.message}`);
    throw error;
  }
  return options;
}

/** --token-ttl as ms: at least a second, only with --auth. (Default: 1 h) */
function parseTokenTtl(flags: ServerFlags): number | undefined {
  if (flags.tokenTtl === undefined) return undefined;
  if (!flags.auth) throw new UsageError('--token-ttl needs --auth: without it no tokens are handed out');
  let ms: number;
  try {
    ms = parseDuration(flags.tokenTtl, '--token-ttl');
  } catch (error) {
    if (error instanceof WaymarkError) throw new UsageError(error.message);
    throw error;
  }
  if (ms < 1000) throw new UsageError(`--token-ttl must be at least 1s, got '${flags.tokenTtl}'`);
  return ms;
}

/** The certificate and key of --tls-cert and --tls-key (both or neither), read now. */
function readTls(flags: ServerFlags): { cert: Buffer; key: Buffer } | undefined {
  if (flags.tlsCert === undefined && flags.tlsKey === undefined) return undefined;
  if (flags.tlsCert === undefined || flags.tlsKey === undefined)
    throw new UsageError('--tls-cert and --tls-key go together: give the certificate and its private key');
  const read = (file: string, flag: string) => {
    try {
      return readFileSync(file);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      throw new UsageError(`cannot read ${flag} '${file}': ${code === 'ENOENT' ? 'no such file' : String(code)}`);
    }
  };
  const tls = { cert: read(flags.tlsCert, '--tls-cert'), key: read(flags.tlsKey, '--tls-key') };
  try {
    createSecureContext(tls);
  } catch (error) {
    throw new UsageError(`--tls-cert and --tls-key are not a PEM certificate and its key: ${(error as Error).message}`);
  }
  return tls;
}

function parsePort(value: string | undefined): number {
  if (value === undefined) return 8080;
  if (!/^\d+$/.test(value.trim()) || Number(value) > 65_535)
    throw new UsageError(`--port must be a port number from 0 to 65535, got '${value}'`);
  return Number(value);
}
