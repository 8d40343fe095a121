import { DataType, Graph, Model, Tensor, type AttrValue, type Value } from '@qdeploy/core';

/**
 * Vision transformers generated in code, with the node layout PyTorch's ONNX exporter
 * writes (the one in fixtures/fmnist_vit_small.onnx: Shape/Gather/Unsqueeze/Concat
 * chains feeding the head reshapes, the attention scale computed as
 * Cast(head_dim) ** -0.5, LayerNormalization ops, Erf GELU) and random weights.
 * `buildVitB16()` is ViT-B/16 (86M parameters); the options produce the other ways
 * exporters write the same network, for pattern tests.
 */
export interface VitOptions {
  image?: number;
  channels?: number;
  patch?: number;
  dim?: number;
  depth?: number;
  heads?: number;
  mlp?: number;
  classes?: number;
  /** A class token (ViT) or mean pooling over the tokens (the fixture). Default true. */
  classToken?: boolean;
  /**
   * Q/K/V projections: "fused" (one in-projection, Reshape to [B,N,3,H,hd], Transpose,
   * Gather: timm / nn.MultiheadAttention), "fused-split" / "fused-slice" (one
   * in-projection cut by Split or by three Slices), "separate" (three Linear layers:
   * the fixture). Default "fused".
   */
  qkv?: 'fused' | 'fused-split' | 'fused-slice' | 'separate';
  /**
   * The 1/√hd scale: "after" (Mul by Pow(Cast(hd), -0.5) after Q·Kᵀ: the fixture),
   * "after-div" (Div by a constant √hd), "before" (q and kᵀ each multiplied by hd^-¼:
   * PyTorch 2's SDPA decomposition). Default "after".
   */
  scale?: 'after' | 'after-div' | 'before';
  /** An attention mask: additive constant, or masked_fill (Where). Default none. */
  mask?: 'none' | 'add' | 'where';
  /** LayerNormalization ops (opset 17) or the ReduceMean/Sub/Pow/Sqrt/Div decomposition. Default "op". */
  layerNorm?: 'op' | 'decomposed';
  /** GELU as 0.5·x·(1+erf(x/√2)) or as the Gelu op (opset 20). Default "erf". */
  gelu?: 'erf' | 'op';
  /** Standard deviation of the random weights. Default 0.02 (timm's init). */
  weightStd?: number;
  seed?: number;
}

/** Deterministic pseudo-random numbers (xorshift32), uniform with standard deviation `std` around `mean`. */
function fill(n: number, std: number, seed: number, mean = 0): Float32Array {
  const out = new Float32Array(n);
  const scale = std * Math.sqrt(3) * 2 / 2 ** 32;
  const half = std * Math.sqrt(3);
  let s = (seed * 2654435761) | 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    out[i] = (s >>> 0) * scale - half + mean;
  }
  return out;
}

const floatType = (dims: (number | string)[]) => ({
  tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
});

/** ViT-B/16 on 224×224 (12 blocks, d = 768, 12 heads, MLP 3072, 1000 classes), fused QKV, class token. */
export function buildVitB16(): Model {
  return buildVit({ image: 224, channels: 3, patch: 16, dim: 768, depth: 12, heads: 12, mlp: 3072, classes: 1000, classToken: true, qkv: 'fused' });
}

export function buildVit(options: VitOptions = {}): Model {
  const o = {
    image: 224, channels: 3, patch: 16, dim: 768, depth: 12, heads: 12, mlp: 3072, classes: 1000, classToken: true,
    qkv: 'fused', scale: 'after', mask: 'none', layerNorm: 'op', gelu: 'erf', weightStd: 0.02, seed: 1,
    ...options,
  } as Required<VitOptions>;
  const { dim: d, heads: H } = o;
  const hd = d / H;
  if (!Number.isInteger(hd)) throw new Error(`buildVit: dim ${d} is not divisible by ${H} heads`);
  const grid = o.image / o.patch;
  const tokens = grid * grid + (o.classToken ? 1 : 0);
  const opset = o.gelu === 'op' ? 20 : 17;

  const g = new Graph();
  g.name = `vit_d${d}_x${o.depth}`;
  let seed = o.seed;
  let constants = 0;
  const x = g.getOrCreateValue('input');
  x.type = floatType(['batch', o.channels, o.image, o.image]);
  g.inputs.push(x);

  const node = (opType: string, name: string, inputs: (Value | null)[], attrs: Record<string, AttrValue> = {}, outputs = 1): Value[] => {
    const n = g.addNode({ opType, name, inputs, attrs, outputs: Array.from({ length: outputs }, (_, i) => g.addValue(`${name}_output_${i}`)) });
    return [...n.outputs];
  };
  const op1 = (opType: string, name: string, inputs: (Value | null)[], attrs: Record<string, AttrValue> = {}) => node(opType, name, inputs, attrs)[0]!;
  const param = (name: string, dims: number[], std: number, mean = 0) => g.addInitializer(name, Tensor.fromArray(fill(dims.reduce((a, b) => a * b, 1), std, seed++, mean), dims));
  /** A Constant node, as the exporter writes small constants. */
  const constant = (scope: string, t: Tensor) => op1('Constant', `${scope}/Constant_${constants++}`, [], { value: t });
  const i64 = (scope: string, values: number[], scalar = false) => constant(scope, Tensor.fromArray(BigInt64Array.from(values.map(BigInt)), scalar ? [] : [values.length], DataType.INT64));
  const f32 = (scope: string, value: number) => constant(scope, Tensor.fromArray(new Float32Array([value]), []));
  const unsqueeze = (scope: string, name: string, v: Value) => op1('Unsqueeze', `${scope}/${name}`, [v, i64(scope, [0])]);
  const reduceMean = (name: string, v: Value, axes: number[], keepdims: number) =>
    opset >= 18 ? op1('ReduceMean', name, [v, i64(name, axes)], { keepdims }) : op1('ReduceMean', name, [v], { axes, keepdims });

  /** nn.Linear on a token sequence: MatMul by the [K,N] weight, then Add of the bias (bias first, as PyTorch writes it). */
  const linear = (scope: string, v: Value, k: number, n: number) => {
    const w = param(`${scope}.weight_t`, [k, n], o.weightStd);
    const mm = op1('MatMul', `${scope}/MatMul`, [v, w]);
    return op1('Add', `${scope}/Add`, [param(`${scope}.bias`, [n], o.weightStd), mm]);
  };

  const layerNorm = (scope: string, v: Value) => {
    const gamma = param(`${scope}.weight`, [d], 0.05, 1);
    const beta = param(`${scope}.bias`, [d], 0.02);
    if (o.layerNorm === 'op') return op1('LayerNormalization', `${scope}/LayerNormalization`, [v, gamma, beta], { axis: -1, epsilon: { float: 1e-6 } });
    const mean = reduceMean(`${scope}/ReduceMean`, v, [-1], 1);
    const sub = op1('Sub', `${scope}/Sub`, [v, mean]);
    const pow = op1('Pow', `${scope}/Pow`, [sub, f32(scope, 2)]);
    const variance = reduceMean(`${scope}/ReduceMean_1`, pow, [-1], 1);
    const add = op1('Add', `${scope}/Add`, [variance, f32(scope, 1e-6)]);
    const sqrt = op1('Sqrt', `${scope}/Sqrt`, [add]);
    const div = op1('Div', `${scope}/Div`, [sub, sqrt]);
    const mul = op1('Mul', `${scope}/Mul`, [div, gamma]);
    return op1('Add', `${scope}/Add_1`, [mul, beta]);
  };

  const gelu = (scope: string, v: Value) => {
    if (o.gelu === 'op') return op1('Gelu', `${scope}/Gelu`, [v]);
    const div = op1('Div', `${scope}/Div_1`, [v, f32(scope, Math.SQRT2)]);
    const erf = op1('Erf', `${scope}/Erf`, [div]);
    const add = op1('Add', `${scope}/Add_1`, [erf, f32(scope, 1)]);
    const mul = op1('Mul', `${scope}/Mul_1`, [v, add]);
    return op1('Mul', `${scope}/Mul_2`, [mul, f32(scope, 0.5)]);
  };

  // ---- patch embedding: Conv → flatten(2) → transpose(1, 2), class token, position embedding
  const convW = param('patch_embed.proj.weight', [d, o.channels, o.patch, o.patch], Math.sqrt(1 / (o.channels * o.patch * o.patch)));
  const conv = op1('Conv', '/patch_embed/proj/Conv', [x, convW, param('patch_embed.proj.bias', [d], o.weightStd)], {
    dilations: [1, 1], group: 1, kernel_shape: [o.patch, o.patch], pads: [0, 0, 0, 0], strides: [o.patch, o.patch],
  });
  const convShape = op1('Shape', '/patch_embed/Shape', [conv]);
  const lead = op1('Slice', '/patch_embed/Slice', [convShape, i64('/patch_embed', [0]), i64('/patch_embed', [2]), i64('/patch_embed', [0])]);
  const flatShape = op1('Concat', '/patch_embed/Concat', [lead, i64('/patch_embed', [-1])], { axis: 0 });
  const flat = op1('Reshape', '/patch_embed/Reshape', [conv, flatShape], { allowzero: 0 });
  let h = op1('Transpose', '/patch_embed/Transpose', [flat], { perm: [0, 2, 1] });
  if (o.classToken) {
    const batch = op1('Gather', '/Gather', [op1('Shape', '/Shape', [h]), i64('', [0], true)], { axis: 0 });
    const expandShape = op1('Concat', '/Concat', [unsqueeze('', 'Unsqueeze', batch), i64('', [1]), i64('', [d])], { axis: 0 });
    const cls = op1('Expand', '/Expand', [param('cls_token', [1, 1, d], o.weightStd), expandShape]);
    h = op1('Concat', '/Concat_1', [cls, h], { axis: 1 });
  }
  h = op1('Add', '/Add', [h, param('pos_embed', [1, tokens, d], o.weightStd)]);

  // A constant attention mask over [tokens, tokens] (the last key is masked out).
  const maskAdd = new Float32Array(tokens * tokens);
  const maskBool = new Uint8Array(tokens * tokens);
  for (let r = 0; r < tokens; r++) { maskAdd[r * tokens + tokens - 1] = -10000; maskBool[r * tokens + tokens - 1] = 1; }

  for (let b = 0; b < o.depth; b++) {
    const s = `/blocks/blocks.${b}`;
    const p = `blocks.${b}`;
    const x0 = h;
    // Sizes as the exporter computes them: B, N, C from Shape, head_dim = C // heads.
    const dimOf = (i: number) => op1('Gather', `${s}/Gather${i ? `_${i}` : ''}`, [op1('Shape', `${s}/Shape${i ? `_${i}` : ''}`, [x0]), i64(s, [i], true)], { axis: 0 });
    const B = dimOf(0), N = dimOf(1), C = dimOf(2);
    const headDim = op1('Cast', `${s}/Cast_1`, [op1('Cast', `${s}/Cast`, [op1('Div', `${s}/Div`, [C, i64(s, [H], true)])], { to: DataType.INT64 })], { to: DataType.INT64 });
    const shape = (name: string, parts: Value[]) => op1('Concat', `${s}/${name}`, parts, { axis: 0 });
    const heads4 = (name: string) => shape(name, [unsqueeze(s, `${name}_b`, B), unsqueeze(s, `${name}_n`, N), i64(s, [H]), unsqueeze(s, `${name}_hd`, headDim)]);

    const ln1 = layerNorm(`${s}/norm1`, x0);
    let q: Value, k: Value, v: Value; // q, v: [B,H,N,hd]; k: [B,H,hd,N]
    if (o.qkv === 'separate') {
      const split = (name: string, perm: number[]) =>
        op1('Transpose', `${s}/Transpose_${name}`, [op1('Reshape', `${s}/Reshape_${name}`, [linear(`${s}/attn/${name}`, ln1, d, d), heads4(`Concat_${name}`)], { allowzero: 0 })], { perm });
      q = split('q', [0, 2, 1, 3]);
      k = split('k', [0, 2, 3, 1]);
      v = split('v', [0, 2, 1, 3]);
    } else {
      const qkv = linear(`${s}/attn/qkv`, ln1, d, 3 * d);
      if (o.qkv === 'fused') {
        const shape5 = shape('Concat', [unsqueeze(s, 'Unsqueeze', B), unsqueeze(s, 'Unsqueeze_1', N), i64(s, [3]), i64(s, [H]), unsqueeze(s, 'Unsqueeze_2', headDim)]);
        const r = op1('Reshape', `${s}/attn/Reshape`, [qkv, shape5], { allowzero: 0 });
        const t = op1('Transpose', `${s}/attn/Transpose`, [r], { perm: [2, 0, 3, 1, 4] });
        [q, k, v] = [0, 1, 2].map((i) => op1('Gather', `${s}/attn/Gather_${i}`, [t, i64(s, [i], true)], { axis: 0 })) as [Value, Value, Value];
      } else {
        const parts = o.qkv === 'fused-split'
          ? node('Split', `${s}/attn/Split`, [qkv, i64(s, [d, d, d])], { axis: -1 }, 3)
          : [0, 1, 2].map((i) => op1('Slice', `${s}/attn/Slice_${i}`, [qkv, i64(s, [i * d]), i64(s, [(i + 1) * d]), i64(s, [-1])]));
        [q, k, v] = parts.map((part, i) =>
          op1('Transpose', `${s}/attn/Transpose_${'qkv'[i]!}`, [op1('Reshape', `${s}/attn/Reshape_${'qkv'[i]!}`, [part, heads4(`Concat_${i}`)], { allowzero: 0 })], { perm: [0, 2, 1, 3] })) as [Value, Value, Value];
      }
      k = op1('Transpose', `${s}/attn/Transpose_kT`, [k], { perm: [0, 1, 3, 2] });
    }
    let scores: Value;
    if (o.scale === 'before') {
      const quarter = f32(s, hd ** -0.25);
      scores = op1('MatMul', `${s}/attn/MatMul`, [op1('Mul', `${s}/attn/Mul_q`, [q, quarter]), op1('Mul', `${s}/attn/Mul_k`, [k, quarter])]);
    } else {
      scores = op1('MatMul', `${s}/attn/MatMul`, [q, k]);
      if (o.scale === 'after-div') {
        scores = op1('Div', `${s}/attn/Div`, [scores, f32(s, Math.sqrt(hd))]);
      } else {
        const pow = op1('Pow', `${s}/attn/Pow`, [op1('Cast', `${s}/attn/Cast`, [headDim], { to: DataType.FLOAT }), f32(s, -0.5)]);
        scores = op1('Mul', `${s}/attn/Mul`, [scores, pow]);
      }
    }
    if (o.mask === 'add') scores = op1('Add', `${s}/attn/Add_mask`, [scores, g.addInitializer(`${p}.attn_mask`, Tensor.fromArray(maskAdd, [1, 1, tokens, tokens]))]);
    if (o.mask === 'where') {
      const cond = g.addInitializer(`${p}.attn_mask`, Tensor.fromArray(maskBool, [1, 1, tokens, tokens], DataType.BOOL));
      scores = op1('Where', `${s}/attn/Where`, [cond, f32(s, -1e9), scores]);
    }
    const probs = op1('Softmax', `${s}/attn/Softmax`, [scores], { axis: -1 });
    const ctx = op1('MatMul', `${s}/attn/MatMul_1`, [probs, v]);
    const merged = op1('Reshape', `${s}/attn/Reshape_1`, [
      op1('Transpose', `${s}/attn/Transpose_1`, [ctx], { perm: [0, 2, 1, 3] }),
      shape('Concat_3', [unsqueeze(s, 'Unsqueeze_9', B), unsqueeze(s, 'Unsqueeze_10', N), unsqueeze(s, 'Unsqueeze_11', C)]),
    ], { allowzero: 0 });
    const x1 = op1('Add', `${s}/Add`, [x0, linear(`${s}/attn/proj`, merged, d, d)]);
    const hidden = gelu(`${s}/mlp`, linear(`${s}/mlp/fc1`, layerNorm(`${s}/norm2`, x1), d, o.mlp));
    h = op1('Add', `${s}/Add_1`, [x1, linear(`${s}/mlp/fc2`, hidden, o.mlp, d)]);
  }

  h = layerNorm('/norm', h);
  const pooled = o.classToken ? op1('Gather', '/Gather_1', [h, i64('', [0], true)], { axis: 1 }) : reduceMean('/ReduceMean', h, [1], 0);
  const logits = op1('Gemm', '/head/Gemm', [pooled, param('head.weight', [o.classes, d], o.weightStd), param('head.bias', [o.classes], o.weightStd)], {
    alpha: { float: 1 }, beta: { float: 1 }, transB: 1,
  });
  g.rename(logits, 'logits');
  logits.type = floatType(['batch', o.classes]);
  g.outputs.push(logits);
  return new Model(g, { irVersion: opset >= 19 ? 9 : 8, producerName: 'qdeploy-testing', opsetImport: [{ domain: '', version: opset }] });
}
