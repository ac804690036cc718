export * from './frame.js';
export * from './weights.js';
export * from './call-tree.js';
export * from './call-tree-builder.js';
export * from './merge.js';
export * from './prune.js';
export * from './serialized.js';
