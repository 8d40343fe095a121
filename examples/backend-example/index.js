// qdeploy-backend-example: a backend written outside qdeploy's packages, against
// @qdeploy/core's public API only. Its package name follows the convention, so a config
// selects it with `"backend": "example"`.
//
// The target: a generic INT8 accelerator that runs Conv (+ ReLU) and Linear layers in
// INT8, with symmetric activations and per-channel weights, and everything else in float.
import { QdqPoint, choice, constant, definePattern, input, op, weightAxisOf } from '@qdeploy/core';

/** Per-channel weights along the output-channel axis, whatever op reads them (core's helper). */
const weights = [{ role: 'weight', axis: weightAxisOf('weight') }];

const conv = () => op(['Conv', 'ConvTranspose'], [input('input'), constant('weight')]).as('conv');

/** Conv → ReLU, or a bare Conv: the accelerator fuses the activation, so only the input is quantized. */
export const ConvAct = definePattern({
  name: 'ConvAct',
  root: choice(op(['Relu', 'Clip'], [conv()]).as('act'), conv()),
  qdqPoints: [QdqPoint.INPUT],
  weights,
  description: 'Conv / ConvTranspose, optionally → ReLU or Clip',
});

/** Gemm, or MatMul with a constant weight. */
export const Linear = definePattern({
  name: 'Linear',
  root: choice(
    op('Gemm', [input('input'), constant('weight')], { where: (n) => (n.attr('transA', 0) ? 'transA is set' : true) }),
    op('MatMul', [input('input'), constant('weight', (t) => t.dims.length >= 2 || 'weight is not a matrix')]),
  ),
  qdqPoints: [QdqPoint.INPUT],
  weights,
  description: 'Gemm, or MatMul with a constant weight',
});

/**
 * The pattern table. No conversions are listed: core runs its standard ones first
 * (RemoveIdentity, RemoveDropout, FoldBatchNorm), so BatchNorms are folded into the convs.
 */
export const EXAMPLE_PATTERNS = [ConvAct, Linear];

/** Finds what this target would refuse in a QDQ model. */
function check(model) {
  const findings = [];
  for (const node of model.graph.nodes) {
    if (node.opType !== 'QuantizeLinear' && node.opType !== 'DequantizeLinear') continue;
    const zp = node.input(2)?.constant();
    if (zp && zp.toNumbers().some((v) => v !== 0)) {
      findings.push({ severity: 'error', code: 'nonzero-zero-point', node: node.name, message: `${node.opType} ${node.name} has a non-zero zero point: this target is symmetric only` });
    }
  }
  return findings;
}

/** @type {import('@qdeploy/core').Backend} */
export const exampleBackend = {
  name: 'example',
  description: 'a generic INT8 accelerator: Conv and Linear layers in INT8, the rest in float',
  patterns: EXAMPLE_PATTERNS,
  quantConfig: { activation: { symmetric: true }, weight: { perChannel: true } },
  defaultCalibrator: 'minmax',
  check,
};

/** The plugin: core calls register(ctx) when a config or command line names the backend. */
export default {
  name: 'qdeploy-backend-example',
  register(ctx) {
    ctx.registerBackend(exampleBackend);
  },
};
