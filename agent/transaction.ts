import { currentAgent } from './agent.js';

/**
 * Marks a custom unit of work (a queue message, a scheduled job) so it is classified, counted and, when
 * a session asks for its type, profiled like an HTTP request. Without a running agent it just runs `fn`.
 * A returned promise is followed to its end; a throw or rejection counts as an error and is rethrown.
 */
export function transaction<T>(type: string, fn: () => T): T {
  const agent = currentAgent();
  return agent ? agent.transaction(type, fn) : fn();
}
