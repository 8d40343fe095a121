/**
 * Gradient clipping by the global L2 norm over every gradient (torch's clip_grad_norm_):
 * when the norm exceeds `maxNorm`, all gradients are scaled by maxNorm / norm, in place.
 * Returns the norm before clipping.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number): number {
  let sum = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  const norm = Math.sqrt(sum);
  if (Number.isFinite(maxNorm) && norm > maxNorm) {
    const f = maxNorm / (norm + 1e-6);
    for (const g of grads) for (let i = 0; i < g.length; i++) g[i] = g[i]! * f;
  }
  return norm;
}
