import { CommanderError } from 'commander';
import { WaymarkError } from '../index.js';

/** Exit code of a command that ran and failed (unknown workflow, missing run, store error...). */
export const EXIT_FAILURE = 1;
/** Exit code of a command that was called wrongly (bad option value, bad JSON, missing argument). */
export const EXIT_USAGE = 2;

/** Bad command-line input: reported before anything is opened or written. Exits 2. */
export class UsageError extends WaymarkError {
  constructor(message: string) {
    super('E_INVALID_INPUT', message);
  }
}

/** Writes one line `error: <message> (<code>)` to stderr and returns the exit code for `error`. */
export function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message (or the help/version text).
    return error.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  process.stderr.write(`error: ${message}${typeof code === 'string' ? ` (${code})` : ''}\n`);
  return error instanceof UsageError ? EXIT_USAGE : EXIT_FAILURE;
}
