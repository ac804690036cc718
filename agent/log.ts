import pino, { type Logger } from 'pino';

/** The agent's log levels; `SONDE_LOG_LEVEL` picks one, default `warn` (the app's logs come first). */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * The agent's root logger, made once when the agent starts. It writes to stderr so the app's stdout
 * stays the app's; each module takes a `child({module})`.
 */
export function createRootLogger(level: LogLevel): Logger {
  return pino({ name: 'sonde-agent', level }, pino.destination({ fd: 2, sync: true }));
}

export type { Logger };
