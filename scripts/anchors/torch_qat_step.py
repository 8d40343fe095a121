#!/usr/bin/env python3
"""PyTorch's own fake-quant QAT step on a model qdeploy quantized, as an anchor for qdeploy's.

Reads a folder written by scripts/anchors/dump-qdq-graph.mjs (graph.json, tensors/*.npy,
a check batch and onnxruntime's outputs on it) and builds a torch.nn.Module that runs the
same ONNX graph with torch ops. Float initializers become nn.Parameters; each
QuantizeLinear -> DequantizeLinear pair becomes PyTorch's fake quant:
  - activations: torch.fake_quantize_per_tensor_affine at the calibrated scale ("fixed"),
    or torch._fake_quantize_learnable_per_tensor_affine with the scale as a parameter
    ("learned", LSQ, what qdeploy does by default);
  - weights: torch.fake_quantize_per_channel_affine, the scale max|w| / 127 recomputed
    from the weights every step with no gradient through it (as qdeploy does).
8-bit, int8 grid [-128, 127], zero point 0. Shape arithmetic (Shape -> Gather -> Concat
-> Reshape...) depends only on the input's shape, so it is evaluated once per input shape,
as a hand-written module would use Python ints.

It checks the module against onnxruntime (FP32 and fake-quant forward on the same batch),
then times at batch B: FP32 inference (eval, torch.inference_mode, no fake quant) and a
QAT step (zero_grad + forward with fake quant + cross-entropy + backward + AdamW step).
Prints one JSON line per (threads, memory format, activation scales) configuration.

Usage: python scripts/anchors/torch_qat_step.py <dump folder> [--threads 1,2]
         [--runs 15] [--blocks 3] [--scales fixed,learned] [--formats contiguous,channels_last]
"""
import argparse
import json
import os
import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

QMIN, QMAX = -128, 127
WEIGHT_QMAX = 127  # qdeploy's weight scale: max|w| / 127 (symmetric, narrow range)
LR = 1e-5  # the learning rate of qdeploy's QAT bench

ONNX_DTYPES = {1: torch.float32, 6: torch.int32, 7: torch.int64, 9: torch.bool, 11: torch.float64}


# ---- reading the dump ---------------------------------------------------------------

def load_dump(folder):
    """graph.json and every tensor it names, as torch tensors by name."""
    with open(os.path.join(folder, "graph.json")) as f:
        graph = json.load(f)
    tensors = {t["name"]: torch.from_numpy(np.load(os.path.join(folder, t["file"]))) for t in graph["tensors"]}
    return graph, tensors


def load_check_batch(folder):
    """The check batch, its labels and onnxruntime's FP32 and QDQ outputs on it."""
    load = lambda name: torch.from_numpy(np.load(os.path.join(folder, name)))
    return load("x.npy"), load("y.npy").long(), load("ort_fp32.npy"), load("ort_qdq.npy")


# ---- ONNX ops as torch functions: f(inputs, attrs) -> outputs (a tensor or a tuple) ----

def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def op_conv(ins, a):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    pads = a.get("pads", [0] * (2 * (w.dim() - 2)))
    half = len(pads) // 2
    if pads[:half] != pads[half:]:
        raise NotImplementedError(f"Conv with asymmetric pads {pads}")
    conv = F.conv2d if w.dim() == 4 else F.conv1d
    return conv(x, w, b, a.get("strides", 1), pads[:half], a.get("dilations", 1), a.get("group", 1))


def op_gemm(ins, a):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    if a.get("transA", 0) or a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0:
        raise NotImplementedError("Gemm with transA, alpha or beta")
    return F.linear(x, w if a.get("transB", 0) else w.t(), b)


def op_clip(ins, a):
    lo = float(ins[1]) if len(ins) > 1 and ins[1] is not None else None
    hi = float(ins[2]) if len(ins) > 2 and ins[2] is not None else None
    if lo == 0.0 and hi == 6.0:
        return F.relu6(ins[0])
    return torch.clamp(ins[0], lo, hi)


def op_div(ins, a):
    x, y = ins
    if not x.is_floating_point():
        return torch.div(x, y, rounding_mode="trunc")  # ONNX integer Div truncates
    return x / y


def op_shape(ins, a):
    dims = list(ins[0].shape)[a.get("start", 0):a.get("end", None)]
    return torch.tensor(dims, dtype=torch.int64)


def op_gather(ins, a):
    data, idx = ins
    return data[(slice(None),) * (a.get("axis", 0) % data.dim()) + (idx,)]


def op_unsqueeze(ins, a):
    out = ins[0]
    axes = ints(ins[1]) if len(ins) > 1 else a["axes"]
    rank = out.dim() + len(axes)
    for ax in sorted(ax % rank for ax in axes):
        out = out.unsqueeze(ax)
    return out


def op_slice(ins, a):
    data = ins[0]
    starts, ends = ints(ins[1]), ints(ins[2])
    axes = ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.dim()
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st != 1:
            raise NotImplementedError("Slice with steps")
        n = data.shape[ax]
        index[ax] = slice(max(-n, min(s, n)), max(-n, min(e, n)))
    return data[tuple(index)]


def op_reshape(ins, a):
    x = ins[0]
    shape = ints(ins[1])
    if not a.get("allowzero", 0):
        shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    return x.reshape(shape)


def op_transpose(ins, a):
    return ins[0].permute(a.get("perm", list(reversed(range(ins[0].dim())))))


def op_layer_norm(ins, a):
    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    axis = a.get("axis", -1) % x.dim()
    return F.layer_norm(x, x.shape[axis:], w, b, a.get("epsilon", 1e-5))


def op_reduce_mean(ins, a):
    axes = ints(ins[1]) if len(ins) > 1 else a.get("axes")
    keep = bool(a.get("keepdims", 1))
    return ins[0].mean(dim=axes, keepdim=keep) if axes else ins[0].mean()


OPS = {
    "Conv": op_conv,
    "Gemm": op_gemm,
    "MatMul": lambda ins, a: torch.matmul(ins[0], ins[1]),
    "Relu": lambda ins, a: F.relu(ins[0]),
    "Clip": op_clip,
    "Add": lambda ins, a: ins[0] + ins[1],
    "Sub": lambda ins, a: ins[0] - ins[1],
    "Mul": lambda ins, a: ins[0] * ins[1],
    "Div": op_div,
    "Pow": lambda ins, a: torch.pow(ins[0], ins[1]),
    "Erf": lambda ins, a: torch.erf(ins[0]),
    "Softmax": lambda ins, a: torch.softmax(ins[0], a.get("axis", -1)),
    "LayerNormalization": op_layer_norm,
    "ReduceMean": op_reduce_mean,
    "GlobalAveragePool": lambda ins, a: ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True),
    "Flatten": lambda ins, a: ins[0].flatten(a.get("axis", 1)),
    "Reshape": op_reshape,
    "Transpose": op_transpose,
    "Identity": lambda ins, a: ins[0],
    "Shape": op_shape,
    "Gather": op_gather,
    "Unsqueeze": op_unsqueeze,
    "Concat": lambda ins, a: torch.cat(ins, a["axis"]),
    "Slice": op_slice,
    "Cast": lambda ins, a: ins[0].to(ONNX_DTYPES[a["to"]]),
}


# ---- fake quantizers: one per QuantizeLinear -> DequantizeLinear pair -----------------

class WeightFakeQuant(torch.nn.Module):
    """Per-channel fake quant of a weight, its scale max|w| / 127 recomputed each call (no gradient through it)."""

    def __init__(self, axis, channels):
        super().__init__()
        self.axis = axis
        self.register_buffer("zero_point", torch.zeros(channels, dtype=torch.int32))

    def forward(self, w):
        axis = self.axis % w.dim()
        others = tuple(d for d in range(w.dim()) if d != axis)
        scale = (w.detach().abs().amax(dim=others) / WEIGHT_QMAX).clamp_min(1e-12)
        return torch.fake_quantize_per_channel_affine(w, scale, self.zero_point, axis, QMIN, QMAX)


class FixedActFakeQuant(torch.nn.Module):
    """Per-tensor fake quant at the calibrated scale."""

    def __init__(self, scale):
        super().__init__()
        self.scale = float(scale)

    def forward(self, x):
        return torch.fake_quantize_per_tensor_affine(x, self.scale, 0, QMIN, QMAX)


class LearnedActFakeQuant(torch.nn.Module):
    """Per-tensor fake quant with a learned scale (LSQ), starting from the calibrated one."""

    def __init__(self, scale):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor([float(scale)]))
        self.register_buffer("zero_point", torch.zeros(1))

    def forward(self, x):
        return torch._fake_quantize_learnable_per_tensor_affine(x, self.scale, self.zero_point, QMIN, QMAX, 1.0)


# ---- the graph as a module --------------------------------------------------------------

def qdq_pairs(nodes):
    """{QuantizeLinear node index: its DequantizeLinear node} for every Q whose only consumer is a DQ."""
    consumers = {}
    for n in nodes:
        for v in n["inputs"]:
            consumers.setdefault(v, []).append(n)
    pairs = {}
    for i, n in enumerate(nodes):
        if n["opType"] != "QuantizeLinear":
            continue
        users = consumers.get(n["outputs"][0], [])
        if len(users) != 1 or users[0]["opType"] != "DequantizeLinear":
            raise NotImplementedError(f"QuantizeLinear {n['name']} is not followed by exactly one DequantizeLinear")
        pairs[i] = users[0]
    return pairs


def trainable_names(graph, tensors):
    """qdeploy's rule: float initializers of 2 or more elements, other than quantizer scales / zero points."""
    qparams = {v for n in graph["nodes"] if n["opType"] in ("QuantizeLinear", "DequantizeLinear") for v in n["inputs"][1:]}
    return [t["name"] for t in graph["tensors"]
            if t["kind"] == "initializer" and t["dtype"] == "float" and tensors[t["name"]].numel() >= 2 and t["name"] not in qparams]


class OnnxModule(torch.nn.Module):
    """Runs the dumped graph with torch ops; `quant` is "off" (FP32), "fixed" or "learned" (activation scales)."""

    def __init__(self, graph, tensors, quant):
        super().__init__()
        self.input_name = graph["inputs"][0]["name"]
        self.output_name = graph["outputs"][0]
        names = trainable_names(graph, tensors)
        self.param_names = names
        self.params = torch.nn.ParameterList([torch.nn.Parameter(tensors[n].clone()) for n in names])
        self.constants = {n: t for n, t in tensors.items() if n not in set(names)}
        self.quantizers = torch.nn.ModuleList()
        self.steps = self.plan(graph, quant)
        self.static_cache = {}

    def plan(self, graph, quant):
        """The graph as a list of (function, attrs, input names, output names), each Q/DQ pair
        folded into one fake-quant step, or dropped when quant is "off" (its consumers read its input)."""
        nodes = graph["nodes"]
        pairs = qdq_pairs(nodes)
        dequantizers = {id(dq) for dq in pairs.values()}
        alias, steps = {}, []
        for i, n in enumerate(nodes):
            inputs = [alias.get(v, v) for v in n["inputs"]]
            if id(n) in dequantizers:
                continue
            if i in pairs and quant == "off":
                alias[pairs[i]["outputs"][0]] = inputs[0]
            elif i in pairs:
                steps.append((self.fake_quant(n, quant), None, inputs[:1], pairs[i]["outputs"]))
            elif n["domain"] not in ("", "ai.onnx") or n["opType"] not in OPS:
                raise NotImplementedError(f"no torch function for {n['domain'] or 'ai.onnx'}::{n['opType']} (node {n['name']})")
            else:
                steps.append((OPS[n["opType"]], n["attributes"], inputs, n["outputs"]))
        self.output_name = alias.get(self.output_name, self.output_name)
        return steps

    def fake_quant(self, q_node, quant):
        """The fake quantizer for one Q/DQ pair."""
        scale = self.constants[q_node["inputs"][1]]
        if q_node["inputs"][0] in self.param_names:
            fq = WeightFakeQuant(q_node["attributes"].get("axis", 1), scale.numel())
        elif scale.numel() != 1:
            raise NotImplementedError(f"per-channel activation quantizer {q_node['name']}")
        else:
            fq = (LearnedActFakeQuant if quant == "learned" else FixedActFakeQuant)(scale)
        self.quantizers.append(fq)
        return fq

    def static_values(self, x):
        """Values that depend only on constants and the input's shape (shape arithmetic), and the
        steps left to run: found by running the graph once per input shape."""
        cached = self.static_cache.get(tuple(x.shape))
        if cached is not None:
            return cached
        env = self.initial_env(x)
        static, dynamic_steps = set(self.constants), []
        with torch.no_grad():
            for step in self.steps:
                run_step(step, env)
                fn, attrs, ins, outs = step
                if fn is op_shape or (attrs is not None and all(v in static or v == "" for v in ins)):
                    static.update(outs)
                else:
                    dynamic_steps.append(step)
        cached = ({n: env[n] for n in static}, dynamic_steps)
        self.static_cache[tuple(x.shape)] = cached
        return cached

    def initial_env(self, x, static_env=None):
        """Values by name before the first step: constants (or the cached static values), the input, the parameters."""
        env = dict(self.constants if static_env is None else static_env)
        env[self.input_name] = x
        env.update(zip(self.param_names, self.params))
        return env

    def forward(self, x):
        static_env, steps = self.static_values(x)
        env = self.initial_env(x, static_env)
        for step in steps:
            run_step(step, env)
        return env[self.output_name]


def run_step(step, env):
    """Runs one step, reading its inputs from env and writing its outputs there."""
    fn, attrs, ins, outs = step
    args = [env[v] if v else None for v in ins]
    value = fn(args[0]) if attrs is None else fn(args, attrs)
    for name, v in zip(outs, value if isinstance(value, tuple) else (value,)):
        env[name] = v


# ---- checks and timings -------------------------------------------------------------------

def max_rel_error(out, ref):
    """max |out - ref| / max |ref|."""
    return float((out.float() - ref.float()).abs().max() / ref.float().abs().max())


def check_against_ort(graph, tensors, x, ort_fp32, ort_qdq):
    """The interpreter's FP32 and fake-quant outputs vs onnxruntime's on the same batch."""
    with torch.inference_mode():
        fp32 = OnnxModule(graph, tensors, "off").eval()(x)
        fixed = OnnxModule(graph, tensors, "fixed").eval()(x)
        learned = OnnxModule(graph, tensors, "learned").eval()(x)
    return {
        "fp32VsOrtFp32": max_rel_error(fp32, ort_fp32),
        "fakeQuantVsOrtQdq": max_rel_error(fixed, ort_qdq),
        "learnedVsOrtQdq": max_rel_error(learned, ort_qdq),
        "argmaxAgreesFp32": float((fp32.argmax(1) == ort_fp32.argmax(1)).float().mean()),
        "argmaxAgreesQdq": float((fixed.argmax(1) == ort_qdq.argmax(1)).float().mean()),
    }


def to_channels_last(model, x):
    """4-D parameters and the input in channels_last (NHWC) memory format."""
    for p in model.parameters():
        if p.dim() == 4:
            p.data = p.data.contiguous(memory_format=torch.channels_last)
    return x.contiguous(memory_format=torch.channels_last)


def time_ms(fn):
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def make_step(model, optimizer, x, y):
    """One QAT training step: zero_grad, forward with fake quant, cross-entropy, backward, AdamW."""
    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    return step


def make_inference(model, x):
    """One FP32 inference of the batch (eval mode, inference_mode)."""
    def infer():
        with torch.inference_mode():
            model(x)
    return infer


def measure(graph, tensors, x, y, scales, channels_last, runs, blocks):
    """Median inference and step times, in blocks of `runs` of each (as qdeploy's bench does)."""
    fp32 = OnnxModule(graph, tensors, "off").eval()
    qat = OnnxModule(graph, tensors, scales).train()
    xi, xq = x, x
    if channels_last:
        xi, xq = to_channels_last(fp32, x), to_channels_last(qat, x)
    optimizer = torch.optim.AdamW(qat.parameters(), lr=LR)
    infer, step = make_inference(fp32, xi), make_step(qat, optimizer, xq, y)
    for _ in range(3):
        infer()
        step()
    infer_ms, step_ms = [], []
    for _ in range(blocks):
        infer_ms += [time_ms(infer) for _ in range(runs)]
        step_ms += [time_ms(step) for _ in range(runs)]
    return statistics.median(infer_ms), statistics.median(step_ms)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--blocks", type=int, default=3)
    ap.add_argument("--scales", default="fixed,learned", help="activation scales: fixed (calibrated) and/or learned (LSQ)")
    ap.add_argument("--formats", default="contiguous,channels_last", help="memory formats to try (channels_last only with Conv)")
    args = ap.parse_args()

    torch.manual_seed(0)
    graph, tensors = load_dump(args.folder)
    x, y, ort_fp32, ort_qdq = load_check_batch(args.folder)
    model = os.path.basename(os.path.normpath(args.folder))
    print(json.dumps({"model": model, "check": check_against_ort(graph, tensors, x, ort_fp32, ort_qdq)}), flush=True)
    has_conv = any(n["opType"] == "Conv" for n in graph["nodes"])
    formats = [f for f in args.formats.split(",") if f == "contiguous" or has_conv]
    for threads in map(int, args.threads.split(",")):
        torch.set_num_threads(threads)
        for fmt in formats:
            for scales in args.scales.split(","):
                infer_ms, step_ms = measure(graph, tensors, x, y, scales, fmt == "channels_last", args.runs, args.blocks)
                print(json.dumps({
                    "model": model, "framework": "torch", "torch": torch.__version__, "threads": threads, "format": fmt,
                    "scales": scales, "batch": x.shape[0], "inferMs": round(infer_ms, 3), "stepMs": round(step_ms, 3),
                    "ratio": round(step_ms / infer_ms, 3),
                }), flush=True)


if __name__ == "__main__":
    main()
