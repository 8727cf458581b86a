import pino, { type Logger } from 'pino';

/**
 * The JSON-lines logger of a long-running command (server, dev) on stderr, at `level`: the engine's notable events
 * (each names itself in `event`) and, at debug, one line per answered HTTP request.
 */
export function processLogger(level: string): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: 2, sync: true }));
}
