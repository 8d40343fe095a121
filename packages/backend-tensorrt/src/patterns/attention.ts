import { bind, definePattern, input, oneOf, op, type Node, type PatternMatch, type Value, type ValuePattern, QdqPoint } from '@qdeploy/core';
import { staticRows } from './linear.js';

/**
 * Multi-head attention as exporters write it. The Q/K/V projections (separate, or one
 * fused in-projection followed by Split / Slice / Gather) and the output projection are
 * ordinary Linear matches, which quantize their inputs; the head reshapes and transposes
 * stay outside every group (TensorRT moves Q/DQ through them). What is left is the core
 *
 *   MatMul(q, kᵀ) → scale (Mul/Div, before or after the MatMul) → mask (Add / Where) → Softmax → MatMul(·, v)
 *
 * which TensorRT fuses into one INT8 MHA kernel when both inputs of each MatMul are
 * quantized: the query and key entering Q·Kᵀ, the probabilities and the values entering
 * softmax·V. The probabilities are produced inside the group: that Q/DQ pair is the one
 * TensorRT's fused MHA expects between the Softmax and the second MatMul.
 */

/** Ops a shape computation goes through (Shape → Gather → Cast → Pow …), e.g. PyTorch's head_dim ** -0.5. */
const SHAPE_MATH = new Set(['Gather', 'Cast', 'Div', 'Mul', 'Pow', 'Sqrt', 'Reciprocal', 'Unsqueeze', 'Squeeze', 'Concat', 'Slice', 'Reshape', 'Identity', 'Add', 'Sub', 'Floor', 'Ceil', 'ReduceProd']);

/**
 * True when `v` is a constant or computed from constants and tensor shapes only (no
 * activation data flows into it): a scale like `head_dim ** -0.5` that PyTorch computes
 * from `Shape` at run time.
 */
export function isShapeDerived(v: Value | null, seen = new Map<Value, boolean>(), depth = 0): boolean {
  if (!v) return false;
  if (v.constant()) return true;
  const known = seen.get(v);
  if (known !== undefined) return known;
  const p = v.producer;
  let ok = false;
  if (p && p.domain === '' && depth < 32) {
    if (p.opType === 'Shape' || p.opType === 'Size') ok = true;
    else if (SHAPE_MATH.has(p.opType)) ok = p.inputs.every((x) => x === null || isShapeDerived(x, seen, depth + 1));
  }
  seen.set(v, ok);
  return ok;
}

/** A scale operand: a constant or shape-derived tensor of a single element (when known). */
const scaleOperand = (): ValuePattern =>
  input(null, (v) => {
    if (!isShapeDerived(v)) return 'not a constant or shape-derived scale';
    const t = v.constant();
    return !t || t.size === 1 || `scale has ${t.size} elements`;
  });

/** A run-time (non-constant) operand of a MatMul. */
const activationOperand = (role: string | null = null): ValuePattern => input(role, (v) => v.constant() === null || 'a constant operand (a Linear layer, not attention)');

/** `x`, optionally multiplied or divided by a scale (the node captured as `name`). */
function scaled(x: ValuePattern, name: string): ValuePattern {
  return oneOf(op('Mul', [x, scaleOperand()], { commutative: true }).as(name), op('Div', [x, scaleOperand()]).as(name), x);
}

/** `scores` masked: Add(scores, mask) or Where(condition, fill, scores) (masked_fill). */
function mask(scores: ValuePattern): ValuePattern {
  return oneOf(op('Add', [scores, input('mask')], { commutative: true }).as('mask'), op('Where', [input('mask'), input(), scores]).as('mask'));
}

/** Q·Kᵀ, with the query and key roles bound to the MatMul's own inputs (after any pre-scaling). */
const queryKey = () => op('MatMul', [bind(QdqPoint.ATTN_QUERY, scaled(activationOperand(), 'queryScale')), bind(QdqPoint.ATTN_KEY, scaled(activationOperand(), 'keyScale'))]).as('qk');

const lastAxis = (n: Node): true | string => {
  const axis = Number(n.attr('axis', -1));
  const rank = n.input(0)?.shape?.length;
  return axis === -1 || (rank !== undefined && axis === rank - 1) || `softmax over axis ${axis}, not the last one`;
};

/** Softmax(mask(scale(Q·Kᵀ))); mask and scale optional, the scale also allowed after the mask. */
function attentionScores() {
  const scores = scaled(queryKey(), 'scale');
  const masked = mask(scores);
  const logits = oneOf(
    masked,
    op('Mul', [masked, scaleOperand()], { commutative: true }).as('postMaskScale'),
    op('Div', [masked, scaleOperand()]).as('postMaskScale'),
    scores,
  );
  return op('Softmax', [logits], { where: lastAxis }).as('softmax');
}

/** M or N of a batched MatMul statically 1 (a GEMV: memory-bound, INT8 buys nothing). */
function gemvReason(a: Value | undefined, b: Value | undefined, what: string): string | null {
  if (staticRows(a) === 1) return `${what} is GEMV-shaped (M = 1)`;
  const s = b?.shape;
  if (s && (s.length === 1 || s[s.length - 1] === 1)) return `${what} is GEMV-shaped (N = 1)`;
  return null;
}

const notGemv = (m: PatternMatch): true | string =>
  (m.captured.qk && gemvReason(m.roles[QdqPoint.ATTN_QUERY], m.roles[QdqPoint.ATTN_KEY], 'Q·Kᵀ')) ||
  (m.captured.sv && gemvReason(m.roles[QdqPoint.ATTN_PROBS], m.roles[QdqPoint.ATTN_VALUE], 'softmax·V')) ||
  true;

/** The whole attention core of one block: one match per attention layer. */
export const MultiHeadAttention = definePattern({
  name: 'MultiHeadAttention',
  root: op('MatMul', [bind(QdqPoint.ATTN_PROBS, attentionScores()), activationOperand(QdqPoint.ATTN_VALUE)]).as('sv'),
  qdqPoints: [QdqPoint.ATTN_QUERY, QdqPoint.ATTN_KEY, QdqPoint.ATTN_PROBS, QdqPoint.ATTN_VALUE],
  where: notGemv,
  description: 'Q·Kᵀ → scale → mask → Softmax → ·V; both inputs of both MatMuls quantized (TensorRT fused MHA)',
});

/**
 * Q·Kᵀ up to the Softmax, when the probabilities are also read outside the attention
 * (e.g. returned as attention weights), so the whole core cannot be one group.
 */
export const AttentionQK = definePattern({
  name: 'AttentionQK',
  root: attentionScores(),
  qdqPoints: [QdqPoint.ATTN_QUERY, QdqPoint.ATTN_KEY],
  where: notGemv,
  description: 'Q·Kᵀ → scale → mask → Softmax; query and key quantized',
});

/** softmax·V on its own (the counterpart of AttentionQK). */
export const AttentionSV = definePattern({
  name: 'AttentionSV',
  root: op('MatMul', [
    input(QdqPoint.ATTN_PROBS, (v) => v.producer?.opType === 'Softmax' || 'not a softmax output'),
    activationOperand(QdqPoint.ATTN_VALUE),
  ]).as('sv'),
  qdqPoints: [QdqPoint.ATTN_PROBS, QdqPoint.ATTN_VALUE],
  where: notGemv,
  description: 'softmax probabilities · V; both inputs quantized',
});
