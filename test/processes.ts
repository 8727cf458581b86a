import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A message a fixture process sends over IPC: `type` plus whatever it reports. */
export interface FixtureMessage {
  type: string;
  [key: string]: unknown;
}

export interface Fixture {
  child: ChildProcess;
  /** Resolves with the next message of `type` (earlier ones are kept); rejects if the process exits first. */
  next(type: string): Promise<FixtureMessage>;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string | null>;
}

/** Starts a fixture script under tsx with extra environment variables. */
export function startFixture(name: string, env: Record<string, string>): Fixture {
  const script = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  const child = fork(script, [], {
    env: { ...process.env, ...env },
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const inbox: FixtureMessage[] = [];
  const waiting: { type: string; resolve: (m: FixtureMessage) => void }[] = [];
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  child.on('message', (m: FixtureMessage) => {
    const i = waiting.findIndex((w) => w.type === m.type);
    if (i >= 0) waiting.splice(i, 1)[0]!.resolve(m);
    else inbox.push(m);
  });
  const next = (type: string) =>
    new Promise<FixtureMessage>((resolve, reject) => {
      const i = inbox.findIndex((m) => m.type === type);
      if (i >= 0) return resolve(inbox.splice(i, 1)[0]!);
      waiting.push({ type, resolve });
      void exited.then((how) => reject(new Error(`${name} exited (${how}) before sending '${type}'`)));
    });
  return { child, next, exited };
}

/** SIGKILLs the process and waits until it is gone. */
export async function killHard(fixture: Fixture): Promise<void> {
  fixture.child.kill('SIGKILL');
  await fixture.exited;
}

/** Asks the process to stop gracefully (SIGTERM) and returns its exit code. */
export async function stopGracefully(fixture: Fixture): Promise<number | string | null> {
  fixture.child.kill('SIGTERM');
  return fixture.exited;
}
