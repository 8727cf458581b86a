import type { MigrationDefinition } from '../core/migration.js';
import type { DeclarativeSupport } from '../declarative/compile.js';
import type { DeclarativeOptions } from '../declarative/limits.js';
import type { Engine } from '../engine.js';
import type { Authenticator } from './auth/authenticator.js';

/** What every route plugin of the server is given. */
export interface ServerContext {
  engine: Engine;
  /** Migrations the upgrade and migrate routes can apply, by name. (Default: none) */
  migrations: MigrationDefinition[];
  /** Aborted when the server starts closing: long waits and event streams end. */
  closing: AbortSignal;
  /** Time between heartbeat comments on an event stream, in ms. (Default: 15000) */
  heartbeatMs: number;
  /** Deepest nesting of arrays and objects in a JSON request body. (Default: 64) */
  maxJsonDepth: number;
  /** The engine's declarative support, when it was opened with one. (Default: none) */
  declarative?: DeclarativeSupport;
  /** Options of the declarative support made on first need when the engine has none. (Default: the defaults) */
  declarativeOptions?: DeclarativeOptions;
  /** How callers authenticate, when the server requires it (`--auth`). (Default: none: every caller may do all) */
  auth?: Authenticator;
}
