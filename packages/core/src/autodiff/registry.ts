import type { GradientBuilder, GradNode } from './types.js';

const builders = new Map<string, GradientBuilder>();

/** Registers (or replaces) the gradient builder of one or more op types. */
export function registerGradient(opTypes: string | readonly string[], builder: GradientBuilder): void {
  for (const t of typeof opTypes === 'string' ? [opTypes] : opTypes) builders.set(t, builder);
}

export function gradientBuilder(opType: string): GradientBuilder | undefined {
  return builders.get(opType);
}

/** The inputs of `node` a gradient flows into (all when the op has no builder: the caller reports it). */
export function differentiableInputs(node: GradNode): readonly number[] {
  const d = builders.get(node.opType)?.differentiable;
  if (d === undefined) return node.inputs.map((_, i) => i);
  return typeof d === 'function' ? d(node) : d;
}

/** Op types with a registered builder, sorted (for the README's coverage list and tests). */
export function registeredGradients(): string[] {
  return [...builders.keys()].sort();
}
