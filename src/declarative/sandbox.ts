import releaseSyncImport from '@jitl/quickjs-wasmfile-release-sync';
import { newQuickJSWASMModuleFromVariant, newVariant } from 'quickjs-emscripten-core';
import type { QuickJSContext, QuickJSHandle, QuickJSSyncVariant, QuickJSWASMModule } from 'quickjs-emscripten-core';
import { WaymarkError } from '../core/errors.js';
import type { Json } from '../core/types.js';

/** Limits of one evaluation. */
export interface ExpressionLimits {
  /** Wall-clock milliseconds the expression may run. (Default: 100) */
  timeoutMs?: number;
}

/** Options of a sandbox, fixed when it loads. */
export interface SandboxOptions {
  /** Heap bytes one evaluation may use; it sizes the sandbox's WebAssembly memory. (Default: 16 MiB) */
  memoryBytes?: number;
}

/** The package's types describe CommonJS (variant under `default`); an ESM import yields the variant itself. */
const releaseSyncVariant = ((releaseSyncImport as { default?: QuickJSSyncVariant }).default ??
  releaseSyncImport) as QuickJSSyncVariant;

const MiB = 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 100;
const DEFAULT_MEMORY_BYTES = 16 * MiB;
const WASM_PAGE_BYTES = 65536;
/** The module's initial memory: its data, its C stack and the start of its heap. */
const MODULE_BASE_BYTES = 16 * MiB;
/** Part of the module's memory that is not heap available to an evaluation. */
const MODULE_OVERHEAD_BYTES = 6 * MiB;
/** QuickJS stack budget; kept small because the host's own stack also carries the WebAssembly frames. */
const MAX_STACK_BYTES = 32 * 1024;
/** Time allowed to read a thrown value's name and message. */
const DESCRIBE_TIMEOUT_MS = 10;
/** Longest expression excerpt kept in error details. */
const EXCERPT_CHARS = 200;

/** Runs first in each fresh context; its helpers are captured before the expression can alter any global. */
const PRELUDE = `(function () {
  var parse = JSON.parse, stringify = JSON.stringify, getPrototypeOf = Object.getPrototypeOf;
  var isArray = Array.isArray, objectPrototype = Object.prototype, tagOf = Object.prototype.toString;
  var ErrorType = Error, InternalErrorType = InternalError, toText = String;
  var run = (0, eval)('(function (source, $) { return eval(source); })');
  function plainJson(key, value) {
    var type = typeof value, where = key === '' ? '' : ' at key "' + key + '"';
    if (type === 'function' || type === 'symbol' || type === 'bigint') throw new TypeError('found a ' + type + where);
    if (type === 'object' && value !== null && !isArray(value)) {
      var proto = getPrototypeOf(value);
      if (proto !== objectPrototype && proto !== null) throw new TypeError('found ' + tagOf.call(value) + where);
    }
    return value;
  }
  return [
    function (source, input) { return run(source, parse(input)); },
    function (value) { return value === undefined ? undefined : stringify(value, plainJson); },
    function (error) {
      // QuickJS throws null when it cannot even allocate its error,
      // so a script's own 'throw null' also reads as memory.
      if (error === null || (error instanceof InternalErrorType && error.message === 'out of memory')) return 0;
      return error instanceof ErrorType ? toText(error.name) + ': ' + toText(error.message) : toText(error);
    },
  ];
})()`;

/** Evaluates JavaScript expressions of declarative workflows in QuickJS (WebAssembly), with no access to the host. */
export class ExpressionSandbox {
  #module: QuickJSWASMModule | undefined;
  #spare: QuickJSWASMModule | undefined;
  #reloading: Promise<void> | undefined;

  constructor(
    readonly memoryBytes: number,
    module: QuickJSWASMModule,
    spare: QuickJSWASMModule,
  ) {
    this.#module = module;
    this.#spare = spare;
  }

  /**
   * Evaluates `expression` (an expression, or statements whose last value counts) with `$` bound to a copy of `$`.
   * Throws E_EXPRESSION (syntax error, thrown error, result not JSON), E_EXPRESSION_TIMEOUT or E_EXPRESSION_MEMORY.
   */
  evaluate(expression: string, $: Json, limits: ExpressionLimits = {}): Json {
    const timeoutMs = limits.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (typeof expression !== 'string') throw new WaymarkError('E_INVALID_INPUT', 'expression must be a string');
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      throw new WaymarkError('E_INVALID_INPUT', `timeoutMs must be a positive number, got ${String(timeoutMs)}`);
    }
    const excerpt = expression.trim().slice(0, EXCERPT_CHARS);
    let inputText: string | undefined;
    try {
      inputText = JSON.stringify($ ?? null);
    } catch {
      // A cycle or a bigint: refused just below like any other input that is not JSON.
    }
    if (typeof inputText !== 'string') throw new WaymarkError('E_INVALID_INPUT', 'expression input ($) is not JSON');
    if (Buffer.byteLength(inputText) + Buffer.byteLength(expression) > this.memoryBytes / 4) {
      throw new WaymarkError(
        'E_EXPRESSION_MEMORY',
        `expression and its input exceed a quarter of the memory limit (${this.memoryBytes} bytes)`,
        {
          details: { limitBytes: this.memoryBytes, expression: excerpt },
        },
      );
    }
    const module = this.#module;
    if (!module) {
      this.#reload();
      throw new WaymarkError('E_EXPRESSION', 'the expression sandbox is reloading after a failure; try again', {
        details: { expression: excerpt },
      });
    }
    try {
      return evaluateIn(module, expression, inputText, timeoutMs, this.memoryBytes);
    } catch (error) {
      if (error instanceof WaymarkError) throw error;
      this.#module = this.#spare;
      this.#spare = undefined;
      this.#reload();
      const reason = error instanceof Error ? error.message : String(error);
      throw new WaymarkError('E_EXPRESSION', `expression crashed the sandbox (${reason}); the sandbox was replaced`, {
        details: { expression: excerpt },
        cause: error,
      });
    }
  }

  /** Loads a fresh module in the background: the new current one if none is left, otherwise the new spare. */
  #reload(): void {
    this.#reloading ??= loadModule(this.memoryBytes).then(
      (module) => {
        if (this.#module) this.#spare = module;
        else this.#module = module;
        this.#reloading = undefined;
      },
      () => {
        this.#reloading = undefined;
      },
    );
  }
}

const sandboxes = new Map<number, Promise<ExpressionSandbox>>();

/** The sandbox for `memoryBytes`, loaded once and shared. */
export function loadSandbox(options: SandboxOptions = {}): Promise<ExpressionSandbox> {
  const memoryBytes = options.memoryBytes ?? DEFAULT_MEMORY_BYTES;
  if (!Number.isInteger(memoryBytes) || memoryBytes < MiB || memoryBytes > 1024 * MiB) {
    return Promise.reject(
      new WaymarkError('E_INVALID_INPUT', `memoryBytes must be an integer from 1 MiB to 1 GiB, got ${memoryBytes}`),
    );
  }
  let sandbox = sandboxes.get(memoryBytes);
  if (!sandbox) {
    sandbox = Promise.all([loadModule(memoryBytes), loadModule(memoryBytes)]).then(
      ([module, spare]) => new ExpressionSandbox(memoryBytes, module, spare),
    );
    sandbox.catch(() => sandboxes.delete(memoryBytes));
    sandboxes.set(memoryBytes, sandbox);
  }
  return sandbox;
}

/**
 * A QuickJS module with its own WebAssembly memory, capped so
 * one evaluation's heap cannot outgrow `memoryBytes` by much.
 */
function loadModule(memoryBytes: number): Promise<QuickJSWASMModule> {
  const maximumBytes = Math.max(MODULE_BASE_BYTES, memoryBytes + MODULE_OVERHEAD_BYTES);
  const wasmMemory = new WebAssembly.Memory({
    initial: MODULE_BASE_BYTES / WASM_PAGE_BYTES,
    maximum: Math.ceil(maximumBytes / WASM_PAGE_BYTES),
  });
  return newQuickJSWASMModuleFromVariant(newVariant(releaseSyncVariant, { wasmMemory }));
}

/** One evaluation in a fresh runtime and context, disposed afterwards unless the module itself failed. */
function evaluateIn(
  module: QuickJSWASMModule,
  expression: string,
  inputText: string,
  timeoutMs: number,
  memoryBytes: number,
): Json {
  const excerpt = expression.trim().slice(0, EXCERPT_CHARS);
  const runtime = module.newRuntime();
  const handles: QuickJSHandle[] = [];
  const keep = (handle: QuickJSHandle) => {
    handles.push(handle);
    return handle;
  };
  let context: QuickJSContext | undefined;
  let deadline = performance.now() + timeoutMs;
  let timedOut = false;
  let moduleHealthy = false;
  try {
    runtime.setMaxStackSize(MAX_STACK_BYTES);
    runtime.setInterruptHandler(() => {
      const late = performance.now() > deadline;
      if (late) timedOut = true;
      return late;
    });
    context = runtime.newContext();
    const ctx = context;
    const helpers = keep(ctx.unwrapResult(ctx.evalCode(PRELUDE, 'prelude.js', { type: 'global' })));
    const [run, toJson, describe] = [0, 1, 2].map((index) => keep(ctx.getProp(helpers, index)));
    runtime.setMemoryLimit(memoryBytes);

    const failure = (what: string, error: QuickJSHandle): WaymarkError => {
      keep(error);
      if (timedOut) {
        return new WaymarkError('E_EXPRESSION_TIMEOUT', `expression ran longer than ${timeoutMs} ms`, {
          details: { limitMs: timeoutMs, expression: excerpt },
        });
      }
      runtime.setMemoryLimit(-1);
      deadline = performance.now() + DESCRIBE_TIMEOUT_MS;
      const described = ctx.callFunction(describe, ctx.undefined, error);
      const text = keep(described.error ?? described.value);
      if (!described.error && ctx.typeof(text) === 'number') {
        return new WaymarkError('E_EXPRESSION_MEMORY', `expression ran out of memory (limit ${memoryBytes} bytes)`, {
          details: { limitBytes: memoryBytes, expression: excerpt },
        });
      }
      const message = described.error ? 'an error that could not be read' : ctx.getString(text);
      return new WaymarkError('E_EXPRESSION', `${what}: ${message}`, { details: { expression: excerpt } });
    };

    const compiled = ctx.evalCode(expression, 'expression.js', { type: 'global', compileOnly: true });
    if (compiled.error) throw failure('expression has a syntax error', compiled.error);
    keep(compiled.value);
    const ran = ctx.callFunction(run, ctx.undefined, keep(ctx.newString(expression)), keep(ctx.newString(inputText)));
    if (ran.error) throw failure('expression threw', ran.error);
    const converted = ctx.callFunction(toJson, ctx.undefined, keep(ran.value));
    if (converted.error) throw failure('expression result is not JSON', converted.error);
    runtime.setMemoryLimit(-1);
    const text = ctx.typeof(keep(converted.value)) === 'string' ? ctx.getString(converted.value) : 'null';
    moduleHealthy = true;
    try {
      return JSON.parse(text) as Json;
    } catch {
      throw new WaymarkError('E_EXPRESSION', 'expression result could not be read back as JSON', {
        details: { expression: excerpt },
      });
    }
  } catch (error) {
    if (error instanceof WaymarkError) moduleHealthy = true;
    throw error;
  } finally {
    if (moduleHealthy) {
      for (const handle of handles.reverse()) if (handle.alive) handle.dispose();
      context?.dispose();
      runtime.dispose();
    }
  }
}
