import { DataType, Graph, Model, Tensor, type Value } from '@qdeploy/core';
import { fill } from './resnet50.js';


/**
 * A miniature YOLOv8-style detector with every structure the detection patterns cover,
 * laid out as PyTorch exports it (BatchNormalization kept, SiLU as x·σ(x)): Conv-BN-SiLU
 * blocks, a C2f (Split, a bottleneck whose residual Add follows the activation, Concat),
 * an SPPF (three MaxPools + Concat), nearest Resize ×2 + Concat, a ConvTranspose, and
 * two head convs whose outputs are the model outputs. Input `images` [N,3,size,size].
 */
export function buildYoloLike(options: { size?: number; width?: number } = {}): Model {
  const size = options.size ?? 32;
  const c = options.width ?? 8;
  const g = new Graph();
  g.name = 'yolo_like';
  let seed = 7;
  const x = g.getOrCreateValue('images');
  x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }, { dimValue: size }, { dimValue: size }] } } };
  g.inputs.push(x);
  const init = (name: string, data: Float32Array | BigInt64Array, dims: number[]) => g.addInitializer(name, Tensor.fromArray(data, dims));
  const node = (opType: string, name: string, inputs: (Value | null)[], attrs = {}) => g.addNode({ opType, name, inputs, attrs }).output();

  const conv = (name: string, inp: Value, cin: number, cout: number, k: number, stride: number, opts: { bn?: boolean; silu?: boolean; bias?: boolean } = {}): Value => {
    const fan = cin * k * k;
    const w = init(`${name}.weight`, fill(cout * fan, Math.sqrt(3 / fan), seed++), [cout, cin, k, k]);
    const pad = (k - 1) >> 1;
    const b = opts.bias ? [init(`${name}.bias`, fill(cout, 0.1, seed++), [cout])] : [];
    let h = node('Conv', `${name}/Conv`, [inp, w, ...b], { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], dilations: [1, 1], group: 1 });
    if (opts.bn !== false) {
      const around = (v: number, j: number) => fill(cout, j, seed++).map((a) => a + v);
      h = node('BatchNormalization', `${name}/BatchNormalization`, [h, init(`${name}.bn.weight`, around(1, 0.2), [cout]), init(`${name}.bn.bias`, around(0, 0.1), [cout]),
        init(`${name}.bn.running_mean`, around(0, 0.1), [cout]), init(`${name}.bn.running_var`, around(1, 0.2), [cout])], { epsilon: { float: 1e-3 }, momentum: { float: 0.97 } });
    }
    if (opts.silu === false) return h;
    return node('Mul', `${name}/Mul`, [h, node('Sigmoid', `${name}/Sigmoid`, [h])]);
  };
  const concat = (name: string, inputs: Value[]) => node('Concat', name, inputs, { axis: 1 });
  const maxPool = (name: string, inp: Value) => node('MaxPool', name, [inp], { kernel_shape: [5, 5], strides: [1, 1], pads: [2, 2, 2, 2] });

  const p1 = conv('b0', x, 3, c, 3, 2);
  const p2 = conv('b1', p1, c, 2 * c, 3, 2);
  // C2f with one shortcut bottleneck: Split → (a, b) → b + bottleneck(b) → Concat(a, b, sum).
  const cv1 = conv('c2f.cv1', p2, 2 * c, 2 * c, 1, 1);
  const split = g.addNode({ opType: 'Split', name: 'c2f/Split', inputs: [cv1, init('c2f.split', BigInt64Array.from([BigInt(c), BigInt(c)]), [2])], outputs: 2, attrs: { axis: 1 } });
  const [a, b] = split.outputs as [Value, Value];
  const bott = conv('c2f.m.b', conv('c2f.m.a', b, c, c, 3, 1), c, c, 3, 1);
  const sum = node('Add', 'c2f.m/Add', [b, bott]);
  const c2f = conv('c2f.cv2', concat('c2f/Concat', [a, b, sum]), 3 * c, 2 * c, 1, 1);
  // SPPF: cv1 → three chained MaxPools → Concat of all four → cv2.
  const s1 = conv('sppf.cv1', conv('b2', c2f, 2 * c, 2 * c, 3, 2), 2 * c, c, 1, 1);
  const m1 = maxPool('sppf/MaxPool', s1);
  const m2 = maxPool('sppf/MaxPool_1', m1);
  const m3 = maxPool('sppf/MaxPool_2', m2);
  const p3 = conv('sppf.cv2', concat('sppf/Concat', [s1, m1, m2, m3]), 4 * c, 2 * c, 1, 1);
  // Neck: nearest ×2 upsample joined with the stride-4 feature; a ConvTranspose path too.
  const scales = init('up.scales', Float32Array.from([1, 1, 2, 2]), [4]);
  const up = node('Resize', 'up/Resize', [p3, null, scales], { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' });
  const n1 = conv('n1', concat('up/Concat', [up, c2f]), 4 * c, 2 * c, 3, 1);
  const wt = init('deconv.weight', fill(2 * c * c * 4, 0.3, seed++), [2 * c, c, 2, 2]);
  const deconv = node('ConvTranspose', 'deconv/ConvTranspose', [p3, wt], { kernel_shape: [2, 2], strides: [2, 2] });
  const n2 = conv('n2', concat('deconv/Concat', [node('Relu', 'deconv/Relu', [deconv]), n1]), 3 * c, 2 * c, 3, 1);
  // Heads: a SiLU conv, then the output convs (box 4 + class 3 channels) into one output.
  const box = conv('head.box', conv('head.box0', n2, 2 * c, c, 3, 1), c, 4, 1, 1, { bn: false, silu: false, bias: true });
  const cls = conv('head.cls', conv('head.cls0', n2, 2 * c, c, 3, 1), c, 3, 1, 1, { bn: false, silu: false, bias: true });
  const out = concat('head/Concat', [box, cls]);
  g.rename(out, 'p3');
  out.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 7 }, { dimValue: size / 4 }, { dimValue: size / 4 }] } } };
  g.outputs.push(out);
  const low = p3;
  g.rename(low, 'p5');
  low.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 2 * c }, { dimValue: size / 8 }, { dimValue: size / 8 }] } } };
  g.outputs.push(low);
  return new Model(g, { irVersion: 8, producerName: 'qdeploy-testing', opsetImport: [{ domain: '', version: 17 }] });
}
