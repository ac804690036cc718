/** The agent as a library: `import { startAgent, transaction } from 'sonde/agent/lib'`. */
export { startAgent, currentAgent, type Agent, type AgentOptions, type LocalSessionHandle } from './agent.js';
export { transaction } from './transaction.js';
export { readAgentConfig, parseLabels, ConfigError, type AgentConfig } from './config.js';
export type { LocalSessionParams } from './profiling/session-params.js';
export type { LocalSessionResult } from './profiling/session.js';
export type { RequestRecord, RequestTypeStats, RequestOutcome, SessionEndReason } from '../src/protocol/messages.js';
