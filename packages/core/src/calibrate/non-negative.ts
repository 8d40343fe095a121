import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

/** Ops whose every output value is >= 0 (or NaN), whatever their input. */
const ALWAYS_NON_NEGATIVE = new Set(['Relu', 'Sigmoid', 'HardSigmoid', 'Softmax', 'Exp', 'Abs', 'Softplus']);
/**
 * Ops whose output values are picked from, or averaged over, their first input's values
 * (or padding zeros): >= 0 when that input is.
 */
const FROM_FIRST_INPUT = new Set([
  'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Flatten', 'Reshape', 'Transpose',
  'Squeeze', 'Unsqueeze', 'Identity', 'Dropout', 'Slice', 'Gather', 'Expand', 'Tile', 'Pad', 'SpaceToDepth', 'DepthToSpace',
]);
/** Ops that are >= 0 when all their inputs are. */
const FROM_ALL_INPUTS = new Set(['Concat', 'Add', 'Mul', 'Sum', 'Min', 'Max']);

/**
 * Whether the graph proves that every value of `v` is >= 0 (NaN aside): the output of a
 * ReLU, a Clip whose lower bound is a constant >= 0, a Sigmoid, ..., or of pooling,
 * reshaping and adding such tensors. Calibration then skips the min of x (its negation
 * pass costs as much as the max): a range only uses min(0, min x), which is 0 here.
 * `memo` caches the answer per value, as for `channelsOf`.
 */
export function provablyNonNegative(v: Value, memo = new Map<Value, boolean>(), depth = 64): boolean {
  let known = memo.get(v);
  if (known === undefined) {
    known = walk(v, memo, depth);
    memo.set(v, known);
  }
  return known;
}

function walk(v: Value, memo: Map<Value, boolean>, depth: number): boolean {
  const p = v.producer;
  if (!p || p.domain !== '' || depth === 0) return false;
  if (ALWAYS_NON_NEGATIVE.has(p.opType)) return true;
  if (FROM_FIRST_INPUT.has(p.opType)) {
    const x = p.input(0);
    if (p.opType === 'Pad' && !padValueNonNegative(p.attr('mode', 'constant'), p.input(2))) return false;
    return x !== null && provablyNonNegative(x, memo, depth - 1);
  }
  if (FROM_ALL_INPUTS.has(p.opType)) {
    // Max is >= 0 as soon as one input is; the others need all of them.
    const inputs = p.inputs.filter((x) => x !== null);
    if (inputs.length === 0) return false;
    const each = (x: Value) => provablyNonNegative(x, memo, depth - 1);
    return p.opType === 'Max' ? inputs.some(each) : inputs.every(each);
  }
  if (p.opType === 'Clip') {
    const lower = clipLowerBound(p);
    return lower !== undefined && lower >= 0;
  }
  return false;
}

/** A Clip's lower bound: input 1 from opset 11, the attribute min before; undefined when it is not a constant. */
function clipLowerBound(clip: Node): number | undefined {
  const bound = clip.input(1);
  if (bound) return bound.constant()?.toFloat32()[0];
  // No bound input: before opset 11 the attribute (default: none); from 11 an omitted input.
  return clip.inputs.length <= 1 ? Number(clip.attr('min', -Infinity)) : undefined;
}

/** Whether what a Pad adds is >= 0: zeros by default; reflect / edge / wrap repeat input values. */
function padValueNonNegative(mode: unknown, value: Value | null): boolean {
  if (String(mode) !== 'constant') return true;
  if (!value) return true;
  const c = value.constant()?.toFloat32();
  return c !== undefined && c.length > 0 && c[0]! >= 0;
}
