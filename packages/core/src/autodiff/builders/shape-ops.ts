import type { GradientContext } from '../context.js';
import { registerGradient } from '../registry.js';

/** Ops that only rearrange elements without reordering them: the gradient is dY reshaped back. */
function reshapeBack(ctx: GradientContext) {
  return [ctx.emit.reshape(ctx.outputGradient()!, ctx.shape(ctx.input(0)))];
}

registerGradient(['Reshape', 'Flatten', 'Squeeze', 'Unsqueeze'], { differentiable: [0], build: reshapeBack });
// Expand: dY summed back over the broadcast axes (the engine's central un-broadcast).
registerGradient('Expand', { differentiable: [0], build: (ctx) => [{ value: ctx.outputGradient()!, shape: ctx.shape(ctx.output()) }] });
