/**
 * Where an activation's fake quant goes in the training graph. A per-tensor fake quant is
 * element-wise, so it commutes with a Transpose: on a Transpose whose every reader is
 * quantized (the attention heads' q / k / v, [B, T, H, D] → [B, H, T, D]), it goes above
 * it, on the Transpose's input, and the Transpose moves below it.
 *
 * Why: left below, onnxruntime's transpose optimizer sinks that Transpose through the
 * Clip → Q → DQ itself and then transposes, each step, every backward value the fake
 * quant's gradient shares with the forward (its mask, its clipped input): 29 extra
 * Transposes in the fixture ViT's step, ~5 % of it at one thread. The values are the same
 * either way; only the summation order of the learned scale's gradient differs.
 */
import type { Graph } from '../ir/graph.js';
import type { Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';

export interface FakeQuantSite {
  /** The value the fake quant reads. */
  input: Value;
  /** A Transpose to apply to the fake quant's output before the quantized readers (null: none). */
  transpose: Node | null;
}

/**
 * `x`'s fake quant, read by `readers` (node, input index), goes on x; or above the
 * Transpose producing x when every reader of x is one of them, x is no graph output, and
 * the Transpose's input is not quantized itself (its own fake quant, placed later, would
 * not reach the moved one).
 */
export function fakeQuantSite(g: Graph, x: Value, readers: readonly { node: Node; index: number }[], quantized: (v: Value) => boolean): FakeQuantSite {
  const producer = x.producer;
  const above = producer?.input(0);
  const everyReader = x.uses.every((u) => readers.some((r) => r.node === u.node && r.index === u.index));
  if (producer?.opType !== 'Transpose' || producer.domain !== '' || !above || quantized(above) || !everyReader || g.outputs.includes(x)) return { input: x, transpose: null };
  return { input: above, transpose: producer };
}

/** A copy of `transpose` (same perm) reading `value`; the original, left without readers, goes at cleanup. */
export function moveBelow(g: Graph, transpose: Node, value: Value): Value {
  const name = g.uniqueName(`${transpose.name || value.name}_below_fake_quant`);
  const moved = g.addNode({ opType: 'Transpose', name, inputs: [value], outputs: [g.addValue(`${name}_out`)] });
  for (const [key, a] of transpose.attributes) moved.attributes.set(key, a);
  return moved.output();
}
