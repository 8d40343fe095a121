export * from './switchable.js';
export * from './score.js';
export * from './data.js';
export * from './macs.js';
export * from './analyze.js';
export * from './tune.js';
