/** jq for JSON_JQ_TRANSFORM tasks: the real jq (compiled to WebAssembly, package jq-wasm), loaded on first use. */
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';

type Raw = (data: string | object, filter: string, flags?: string[]) => Promise<string>;
let loaded: Promise<Raw> | undefined;

/** jq's `raw`, keeping the process's exit code: the WebAssembly jq sets it to jq's own (3 on a syntax error). */
function jqRaw(): Promise<Raw> {
  loaded ??= import('jq-wasm').then((module) => async (data, filter, flags) => {
    const exitCode = process.exitCode;
    try {
      return await (module.raw as Raw)(data, filter, flags);
    } finally {
      process.exitCode = exitCode;
    }
  });
  return loaded;
}

/** jq's message without the shell hints and the trailing compile-error count. */
function jqMessage(error: unknown): string {
  const text = String((error as Error)?.message ?? error);
  const first = text.split('\n')[0]!.replace(' (Unix shell quoting issues?)', '');
  return first.replace(/ at <top-level>, line \d+:$/, '');
}

/** Every result of `query` over `input`, in order (E_EXPRESSION when jq fails). Runs jq: call it off the event loop. */
export async function runJq(query: string, input: Json): Promise<Json> {
  const raw = await jqRaw();
  let text: string;
  try {
    text = await raw(JSON.stringify(input ?? null), query, ['-c']);
  } catch (error) {
    throw new WaymarkError('E_EXPRESSION', `jq query failed: ${jqMessage(error)}`, {
      details: { expression: query.trim().slice(0, 200) },
    });
  }
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Json);
}

/**
 * The jq syntax error of `query`, or undefined when it compiles. It is compiled, never run (wrapped in a branch
 * jq never takes), so it is safe on the event loop.
 */
export async function jqSyntaxError(query: string): Promise<string | undefined> {
  const raw = await jqRaw();
  try {
    await raw('null', `if false then (\n${query}\n) else empty end`, ['-c']);
    return undefined;
  } catch (error) {
    return `jq syntax error: ${jqMessage(error)}`;
  }
}
