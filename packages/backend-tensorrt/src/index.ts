export * from './patterns/index.js';
