#!/usr/bin/env node
/** The `waymark` command: a thin layer over the public API. */
import { reportError } from './errors.js';
import { buildProgram } from './program.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.exitCode = reportError(error);
}
