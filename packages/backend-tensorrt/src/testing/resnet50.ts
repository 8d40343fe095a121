import { DataType, Graph, Model, Tensor, type Value } from '@qdeploy/core';

/** Deterministic pseudo-random numbers (xorshift32) in [-scale, scale). */
export function fill(n: number, scale: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed | 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = ((s >>> 0) / 2 ** 32 * 2 - 1) * scale;
  }
  return out;
}

/**
 * torchvision's ResNet-50 (25.6M parameters, 53 convs with BatchNormalization kept, as
 * PyTorch exports it for training-mode models), with random weights: a realistic
 * graph for benchmarks and pattern counts without a 100 MB fixture.
 */
export function buildResNet50(): Model {
  const g = new Graph();
  g.name = 'resnet50';
  let seed = 1;
  const x = g.getOrCreateValue('input');
  x.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }, { dimValue: 224 }, { dimValue: 224 }] } } };
  g.inputs.push(x);

  const init = (name: string, data: Float32Array, dims: number[]) => g.addInitializer(name, Tensor.fromArray(data, dims));
  const convBn = (name: string, inp: Value, cin: number, cout: number, k: number, stride: number, relu: boolean): Value => {
    const fan = cin * k * k;
    const w = init(`${name}.weight`, fill(cout * fan, Math.sqrt(6 / fan), seed++), [cout, cin, k, k]);
    const pad = (k - 1) >> 1;
    const conv = g.addNode({ opType: 'Conv', name: `${name}/Conv`, inputs: [inp, w], attrs: { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], dilations: [1, 1], group: 1 } });
    const ones = (v: number, jitter: number) => fill(cout, jitter, seed++).map((a) => a + v);
    const bn = g.addNode({
      opType: 'BatchNormalization', name: `${name}/BatchNormalization`,
      inputs: [conv.output(), init(`${name}.bn.weight`, ones(1, 0.2), [cout]), init(`${name}.bn.bias`, ones(0, 0.1), [cout]),
        init(`${name}.bn.running_mean`, ones(0, 0.1), [cout]), init(`${name}.bn.running_var`, ones(1, 0.2), [cout])],
      attrs: { epsilon: { float: 1e-5 }, momentum: { float: 0.9 } },
    });
    if (!relu) return bn.output();
    return g.addNode({ opType: 'Relu', name: `${name}/Relu`, inputs: [bn.output()] }).output();
  };

  let h = convBn('conv1', x, 3, 64, 7, 2, true);
  h = g.addNode({ opType: 'MaxPool', name: 'maxpool', inputs: [h], attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] } }).output();
  let cin = 64;
  const stages: [number, number, number][] = [[64, 3, 1], [128, 4, 2], [256, 6, 2], [512, 3, 2]];
  stages.forEach(([width, blocks, stride], si) => {
    for (let b = 0; b < blocks; b++) {
      const name = `layer${si + 1}.${b}`;
      const s = b === 0 ? stride : 1;
      const out = width * 4;
      let y = convBn(`${name}.conv1`, h, cin, width, 1, 1, true);
      y = convBn(`${name}.conv2`, y, width, width, 3, s, true);
      y = convBn(`${name}.conv3`, y, width, out, 1, 1, false);
      const skip = b === 0 ? convBn(`${name}.downsample`, h, cin, out, 1, s, false) : h;
      const add = g.addNode({ opType: 'Add', name: `${name}/Add`, inputs: [y, skip] });
      h = g.addNode({ opType: 'Relu', name: `${name}/Relu`, inputs: [add.output()] }).output();
      cin = out;
    }
  });
  const pool = g.addNode({ opType: 'GlobalAveragePool', name: 'avgpool', inputs: [h] });
  const flat = g.addNode({ opType: 'Flatten', name: 'flatten', inputs: [pool.output()], attrs: { axis: 1 } });
  const fc = g.addNode({
    opType: 'Gemm', name: 'fc',
    inputs: [flat.output(), init('fc.weight', fill(1000 * 2048, 0.02, seed++), [1000, 2048]), init('fc.bias', fill(1000, 0.01, seed++), [1000])],
    attrs: { alpha: { float: 1 }, beta: { float: 1 }, transB: 1 },
  });
  const logits = fc.output();
  g.rename(logits, 'logits');
  logits.type = { tensorType: { elemType: DataType.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: 1000 }] } } };
  g.outputs.push(logits);
  return new Model(g, { irVersion: 8, producerName: 'qdeploy-testing', opsetImport: [{ domain: '', version: 17 }] });
}
