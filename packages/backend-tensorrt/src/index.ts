export * from './patterns/index.js';
export { tensorrtBackend } from './backend.js';
export { default } from './plugin.js';
