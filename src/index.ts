/** Sonde's shared core: no I/O, browser-safe. */
export * from './model/index.js';
export * from './protocol/messages.js';
export * from './session/types.js';
export * from './session/duration.js';
export * from './session/validate.js';
export * from './errors.js';
