// Generated models for benchmarks and tests (random weights, real layouts).
export { buildResNet50 } from './resnet50.js';
export { buildVit, buildVitB16, type VitOptions } from './vit.js';
export { buildYoloLike } from './yolo.js';
