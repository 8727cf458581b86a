import { fork, spawn, type ChildProcess } from 'node:child_process';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

/** The repository root: the CLI runs from here so `--import tsx` resolves. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Starts the real CLI as a child process (no WAYMARK_DB from the outside). */
export function spawnCli(args: string[]): ChildProcess {
  const env = { ...process.env };
  delete env.WAYMARK_DB;
  return spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Runs the CLI as its own child process to its end; fails the test if it takes longer than `timeoutMs`. */
export function cliProcess(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  const child = spawnCli(args);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `waymark ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`,
        ),
      );
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The file's CLI host (test/fixtures/cli-host.ts): started on first use, stopped after the file. */
interface Host {
  child: ChildProcess;
  ready: Promise<void>;
  next(): Promise<HostResult>;
}

interface HostResult extends CliResult {
  leaked: string[];
}

const HOST = fileURLToPath(new URL('../fixtures/cli-host.ts', import.meta.url));
let host: Host | undefined;
let hostStarted = false;
/** The calls to the host, one after another. */
let queue: Promise<unknown> = Promise.resolve();

function cliHost(): Host {
  if (host && host.child.exitCode === null && host.child.signalCode === null) return host;
  if (!hostStarted) after(() => void host?.child.kill('SIGKILL'));
  hostStarted = true;
  const child = fork(HOST, [], {
    cwd: ROOT,
    env: cliEnv(),
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`the CLI host exited (${code ?? signal})`))),
  );
  exited.catch(() => {});
  const message = (type: string) =>
    Promise.race([
      new Promise<any>((resolve) => {
        const on = (m: { type: string }) => {
          if (m.type !== type) return;
          child.off('message', on);
          resolve(m);
        };
        child.on('message', on);
      }),
      exited,
    ]);
  host = { child, ready: message('ready'), next: () => message('result') };
  return host;
}

/** The environment a CLI call sees: this process's, without WAYMARK_DB. */
function cliEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env))
    if (value !== undefined && key !== 'WAYMARK_DB') env[key] = value;
  return env;
}

/**
 * Runs a CLI command to its end, in the file's CLI host process: the real src/cli/main.ts with its own argv,
 * environment, exit code, stdout and stderr, without a fresh process's start-up. Fails the test if it takes
 * longer than `timeoutMs`, or if the command left something that would keep a real process from exiting.
 * Use cliProcess where the process itself is the point.
 */
export function cli(args: string[], timeoutMs = 20_000): Promise<CliResult> {
  const call = queue.then(() => callHost(args, timeoutMs));
  queue = call.catch(() => {});
  return call;
}

async function callHost(args: string[], timeoutMs: number): Promise<CliResult> {
  const fixture = cliHost();
  await fixture.ready;
  const result = fixture.next();
  fixture.child.send({ args, env: cliEnv() });
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      fixture.child.kill('SIGKILL');
      if (host === fixture) host = undefined; // the next call starts a fresh host
      reject(new Error(`waymark ${args.join(' ')} did not finish within ${timeoutMs} ms (in the CLI host)`));
    }, timeoutMs);
  });
  try {
    const answer = await Promise.race([result, timeout]);
    if (answer.leaked.length > 0)
      throw new Error(`waymark ${args.join(' ')} left ${answer.leaked.join(', ')} alive: its process would not exit`);
    return { code: answer.code, stdout: answer.stdout, stderr: answer.stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs the CLI with `--json` expecting success, and parses its stdout. */
export async function cliJson<T = any>(args: string[]): Promise<T> {
  const result = await cli([...args, '--json']);
  if (result.code !== 0) throw new Error(`waymark ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
