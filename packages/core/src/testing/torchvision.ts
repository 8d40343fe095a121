// torchvision's ResNet-18, MobileNetV2 and EfficientNet-B0 as PyTorch exports them
// (BatchNormalization kept, random weights and statistics), generated in code at reduced
// width and resolution: the same blocks, hence the same pattern counts, as the real
// 224×224 exports in ../shared/fixtures, in a few MB and milliseconds.
import type { Model } from '../ir/model.js';
import type { Value } from '../ir/value.js';
import { TorchExport, torchScope as torchScopeOf } from './torch-export.js';

export interface TorchvisionOptions {
  /** Input height and width (the real exports: 224). A multiple of 32. */
  size?: number;
  /** Channel divisor against torchvision's widths (1 = the real network). */
  widthDivisor?: number;
  /** Classifier outputs (torchvision: 1000). */
  classes?: number;
  seed?: number;
}

const defaults = (o: TorchvisionOptions) => ({ size: 64, widthDivisor: 4, classes: 1000, seed: 1, ...o });

/**
 * ResNet-18: stem Conv 7×7/2 → BN → ReLU → MaxPool, 4 stages × 2 basic blocks, a 1×1
 * downsample Conv → BN on the first block of stages 2-4, GAP → Flatten → Gemm. Quirk:
 * each downsample BN's bias is the block's bn2 bias read through an Identity node (the
 * exporter's deduplication, as in fixtures/fmnist_resnet_bn.onnx).
 */
export function buildResNet18Like(options: TorchvisionOptions = {}): Model {
  const { size, widthDivisor, classes, seed } = defaults(options);
  const t = new TorchExport('resnet18_like', [3, size, size], seed);
  const w = (c: number) => Math.max(1, Math.round(c / widthDivisor));
  let h = t.relu('relu', t.batchNorm('bn1', t.conv('conv1', t.input, { cin: 3, cout: w(64), k: 7, stride: 2 }), w(64)));
  h = t.node('/maxpool', 'MaxPool', [h], { ceil_mode: 0, dilations: [1, 1], kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] });
  let cin = w(64);
  [64, 128, 256, 512].forEach((width, s) => {
    const cout = w(width);
    for (let b = 0; b < 2; b++) {
      const p = `layer${s + 1}.${b}`;
      const stride = s > 0 && b === 0 ? 2 : 1;
      let y = t.relu(`${p}.relu`, t.batchNorm(`${p}.bn1`, t.conv(`${p}.conv1`, h, { cin, cout, k: 3, stride }), cout));
      y = t.batchNorm(`${p}.bn2`, t.conv(`${p}.conv2`, y, { cin: cout, cout, k: 3 }), cout, { bias: 'identity' }, p);
      let skip = h;
      if (stride !== 1 || cin !== cout) {
        skip = t.batchNorm(`${p}.downsample.1`, t.conv(`${p}.downsample.0`, h, { cin, cout, k: 1, stride }), cout, { bias: 'identity' }, p);
      }
      h = t.relu(`${p}.relu_1`, t.node(`/layer${s + 1}/${p}`, 'Add', [y, skip]));
      cin = cout;
    }
  });
  return t.classifier('/avgpool', 'fc', h, cin, classes);
}

/** Conv → BN → ReLU6 (Clip) as torchvision's Conv2dNormActivation, under `path` (.0 conv, .1 BN, .2 act). */
function convBnAct(t: TorchExport, path: string, x: Value, cin: number, cout: number, k: number, stride: number, groups: number, act: 'relu6' | 'silu'): Value {
  const y = t.batchNorm(`${path}.1`, t.conv(`${path}.0`, x, { cin, cout, k, stride, groups }), cout);
  return act === 'relu6' ? t.relu6(`${path}.2`, y) : t.silu(`${path}.2`, y);
}

/**
 * MobileNetV2: stem, 17 inverted residuals (1×1 expand → 3×3 depthwise → 1×1 linear
 * projection, ReLU6 as Clip with Constant bounds, the input added back when the shape
 * allows: 10 of them), a last 1×1 conv, GAP → Flatten → Gemm. Quirk: the projection BNs
 * of the residual blocks read their running statistics from Constant nodes.
 */
export function buildMobileNetV2Like(options: TorchvisionOptions = {}): Model {
  const { size, widthDivisor, classes, seed } = defaults(options);
  const t = new TorchExport('mobilenet_v2_like', [3, size, size], seed);
  const w = (c: number) => Math.max(2, Math.round(c / widthDivisor));
  let cin = w(32);
  let h = convBnAct(t, 'features.0', t.input, 3, cin, 3, 2, 1, 'relu6');
  let f = 1;
  const settings: [number, number, number, number][] = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]];
  for (const [expand, c, n, s] of settings) {
    for (let i = 0; i < n; i++, f++) {
      const cout = w(c);
      const stride = i === 0 ? s : 1;
      const hidden = cin * expand;
      const residual = stride === 1 && cin === cout;
      const p = `features.${f}.conv`;
      let y = h;
      let k = 0;
      if (expand !== 1) y = convBnAct(t, `${p}.${k++}`, y, cin, hidden, 1, 1, 1, 'relu6');
      y = convBnAct(t, `${p}.${k++}`, y, hidden, hidden, 3, stride, hidden, 'relu6');
      y = t.conv(`${p}.${k++}`, y, { cin: hidden, cout, k: 1 });
      y = t.batchNorm(`${p}.${k}`, y, cout, residual ? { running_mean: 'constant', running_var: 'constant' } : {});
      h = residual ? t.node(`/features/features.${f}`, 'Add', [h, y]) : y;
      cin = cout;
    }
  }
  const last = w(1280);
  h = convBnAct(t, `features.${f}`, h, cin, last, 1, 1, 1, 'relu6');
  return t.classifier('', 'classifier.1', h, last, classes);
}

/**
 * EfficientNet-B0: stem, 16 MBConv blocks (1×1 expand → depthwise k×k →
 * squeeze-excitation GAP → 1×1 conv → SiLU → 1×1 conv → Sigmoid → Mul → 1×1 projection;
 * 9 with the input added back), a last 1×1 conv, GAP → Flatten → Gemm; SiLU as
 * Sigmoid · x. Quirk, as in the real export: squeeze-excitation biases of equal shape are
 * one tensor (torchvision zero-initialises them), the later blocks read it through Identity.
 */
export function buildEfficientNetB0Like(options: TorchvisionOptions = {}): Model {
  const { size, widthDivisor, classes, seed } = defaults(options);
  const t = new TorchExport('efficientnet_b0_like', [3, size, size], seed);
  const w = (c: number) => Math.max(2, Math.round(c / widthDivisor));
  let cin = w(32);
  let h = convBnAct(t, 'features.0', t.input, 3, cin, 3, 2, 1, 'silu');
  // expand ratio, kernel, stride, output channels, blocks (torchvision's b0 table).
  const stages: [number, number, number, number, number][] = [[1, 3, 1, 16, 1], [6, 3, 2, 24, 2], [6, 5, 2, 40, 2], [6, 3, 2, 80, 3], [6, 5, 1, 112, 3], [6, 5, 2, 192, 4], [6, 3, 1, 320, 1]];
  stages.forEach(([expand, k, s, c, n], si) => {
    for (let i = 0; i < n; i++) {
      const cout = w(c);
      const stride = i === 0 ? s : 1;
      const hidden = cin * expand;
      const squeeze = Math.max(1, Math.floor(cin / 4));
      const p = `features.${si + 1}.${i}.block`;
      let j = 0;
      let y = h;
      if (expand !== 1) y = convBnAct(t, `${p}.${j++}`, y, cin, hidden, 1, 1, 1, 'silu');
      y = convBnAct(t, `${p}.${j++}`, y, hidden, hidden, k, stride, hidden, 'silu');
      y = squeezeExcite(t, `${p}.${j++}`, y, hidden, squeeze);
      y = t.batchNorm(`${p}.${j}.1`, t.conv(`${p}.${j}.0`, y, { cin: hidden, cout, k: 1 }), cout);
      h = stride === 1 && cin === cout ? t.node(`/features/features.${si + 1}/features.${si + 1}.${i}`, 'Add', [y, h]) : y;
      cin = cout;
    }
  });
  const last = w(1280);
  h = convBnAct(t, 'features.8', h, cin, last, 1, 1, 1, 'silu');
  return t.classifier('/avgpool', 'classifier.1', h, last, classes);
}

function squeezeExcite(t: TorchExport, path: string, x: Value, channels: number, squeeze: number): Value {
  const key = `${squeeze}x${channels}`;
  const bias = (name: string, n: number) => t.sharedParam(`se.${key}.${name}`, `${path}.${name}.bias`, () => t.random(n, 0.1), [n]);
  const pooled = t.node(`${torchScopeOf(path)}/avgpool`, 'GlobalAveragePool', [x]);
  const s = t.silu(`${path}.activation`, t.conv(`${path}.fc1`, pooled, { cin: channels, cout: squeeze, k: 1 }, bias('fc1', squeeze)));
  const gate = t.node(`${torchScopeOf(path)}/scale_activation`, 'Sigmoid', [t.conv(`${path}.fc2`, s, { cin: squeeze, cout: channels, k: 1 }, bias('fc2', channels))]);
  return t.node(torchScopeOf(path), 'Mul', [gate, x]);
}
