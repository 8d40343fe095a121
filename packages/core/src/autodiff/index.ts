export { buildGradientGraph, type GradientOptions, type GradientResult } from './build.js';
export { staticShapes } from './static-shapes.js';
export { replaceWithConstants, shapeComputedValues } from './shape-constants.js';
export { registerGradient, registeredGradients } from './registry.js';
export { MissingGradientError } from './errors.js';
export { GradientContext, Emitter } from './context.js';
export { FAKE_QUANTIZE } from './gradient-nodes.js';
export type { GradientBuilder, GradNode, Grad } from './types.js';
