import { reportError } from '../../src/cli/errors.js';
import { buildProgram } from '../../src/cli/program.js';
import type { CliResult } from './cli-process.js';

/**
 * Runs one `waymark` command line in this process (no child process: faster where the process boundary is not
 * the point), capturing what it writes to stdout and stderr; the code is what main.ts would exit with.
 */
export async function cliInProcess(args: string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  // The CLI writes strings; the test runner reports through the same stream in binary chunks: those pass.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return out.call(process.stdout, chunk, ...rest);
    stdout += chunk;
    return true;
  }) as typeof out;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => {
    if (typeof chunk !== 'string') return err.call(process.stderr, chunk, ...rest);
    stderr += chunk;
    return true;
  }) as typeof err;
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  let code = 0;
  try {
    await buildProgram().parseAsync(['node', 'waymark', ...args]);
  } catch (error) {
    code = reportError(error);
  } finally {
    // A command that fails after printing sets process.exitCode (deploy check...): it is this call's code.
    if (code === 0 && typeof process.exitCode === 'number') code = process.exitCode;
    process.exitCode = exitCode;
    process.stdout.write = out;
    process.stderr.write = err;
  }
  return { code, stdout, stderr };
}
