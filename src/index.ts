/** Sonde's shared core: no I/O, browser-safe. */
export * from './model/index.js';
export * from './protocol/messages.js';
export * from './session/types.js';
export * from './session/duration.js';
export * from './session/validate.js';
export * from './errors.js';
// Exporters (one registry for the REST API and the UI) and importers.
export * from './export/index.js';
export * from './export/options.js';
export * from './export/pprof.js';
export * from './export/collapsed.js';
export * from './export/speedscope.js';
export * from './export/speedscope-format.js';
export * from './export/cpuprofile.js';
export * from './export/cpuprofile-format.js';
export * from './export/d3-hierarchy.js';
export * from './import/frame-kind.js';
export * from './import/pprof.js';
export * from './import/collapsed.js';
export * from './import/speedscope.js';
export * from './import/cpuprofile.js';
export * from './session/workload.js';
